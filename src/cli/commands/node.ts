// `osapi client node status|hostname` and `osapi client node network ping|dns
// get|dns update`: node information and network operations through the SDK,
// shown as tables for people or, with -j, as the API's body.
import type { Command } from 'commander';
import {
  INTERFACE_EXPECTED,
  isDnsName,
  isInterfaceName,
  isIpAddress,
} from '../../job/node-operations.js';
import { clientFor } from '../api-client.js';
import { confirmChangeOnAll } from '../confirm.js';
import { type CommandContext, ExitError, printJson, UsageError } from '../context.js';
import {
  dnsTable,
  dnsUpdateTable,
  hostnameTable,
  pingTable,
  statusTables,
} from '../node-output.js';

const TARGET_HELP = 'target: _any, _all, a hostname or a label key:value';

function withTarget(c: Command): Command {
  return c.option('-T, --target <target>', TARGET_HELP, '_any');
}

/** `a, b,c` → [a, b, c]; an empty value gives [] (so `--search-domains ''` clears the list). */
function commaList(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

/**
 * Prints the answer (the whole body with -j); any host that did not succeed
 * (failed, or no answer) makes the exit code 1, as for commands.
 */
function show<B extends { results: Array<{ status: string; error?: string }> }>(
  ctx: CommandContext,
  body: B,
  table: (b: B) => string,
): void {
  if (ctx.json) printJson(body);
  else process.stdout.write(table(body));
  // `completed` for the queries, `ok` for dns update.
  const ok = (r: B['results'][number]) =>
    (r.status === 'completed' || r.status === 'ok') && r.error === undefined;
  if (!body.results.every(ok)) throw new ExitError(1);
}

export function registerNodeCommands(node: Command): void {
  withTarget(
    node
      .command('status')
      .description('Uptime, load, memory, disks and OS of hosts (GET /node/{target}).'),
  ).action(async (opts: { target: string }, cmd: Command) => {
    const { ctx, client } = clientFor(cmd);
    const { body } = await client.nodeStatus(opts.target);
    show(ctx, body, statusTables);
  });

  withTarget(
    node
      .command('hostname')
      .description('Hostname and labels of agents (GET /node/{target}/hostname).'),
  ).action(async (opts: { target: string }, cmd: Command) => {
    const { ctx, client } = clientFor(cmd);
    const { body } = await client.nodeHostname(opts.target);
    show(ctx, body, hostnameTable);
  });

  const network = node.command('network').description('Network operations on hosts.');

  withTarget(
    network
      .command('ping')
      .description('Ping an IPv4 or IPv6 address from hosts (POST /node/{target}/network/ping).')
      .requiredOption('--address <ip>', 'the IPv4 or IPv6 address to ping (not a hostname)'),
  ).action(async (opts: { address: string; target: string }, cmd: Command) => {
    // The API refuses it too; saying so here spares a round trip and reads as usage.
    if (!isIpAddress(opts.address)) {
      throw new UsageError(
        `--address: expected an IPv4 or IPv6 address (e.g. 127.0.0.1 or ::1), got "${opts.address}"`,
      );
    }
    const { ctx, client } = clientFor(cmd);
    const { body } = await client.networkPing(opts.target, opts.address);
    show(ctx, body, pingTable);
  });

  const dns = network.command('dns').description('DNS configuration of hosts.');
  withTarget(
    dns
      .command('get')
      .description(
        'DNS servers and search domains of an interface (GET /node/{target}/network/dns/{interfaceName}).',
      )
      .requiredOption('--interface-name <name>', 'the network interface, e.g. eth0'),
  ).action(async (opts: { interfaceName: string; target: string }, cmd: Command) => {
    if (!isInterfaceName(opts.interfaceName)) {
      throw new UsageError(`--interface-name: ${INTERFACE_EXPECTED}, got "${opts.interfaceName}"`);
    }
    const { ctx, client } = clientFor(cmd);
    const { body } = await client.networkDnsGet(opts.target, opts.interfaceName);
    show(ctx, body, dnsTable);
  });

  withTarget(
    dns
      .command('update')
      .description(
        'Set DNS servers and/or search domains of an interface (PUT /node/{target}/network/dns).',
      )
      .option('--servers <list>', 'DNS server IP addresses, comma-separated (1.1.1.1,2.2.2.2)')
      .option(
        '--search-domains <list>',
        "search domains, comma-separated (corp.example,example.org); '' clears them",
      )
      .requiredOption('--interface-name <name>', 'the network interface, e.g. eth0')
      .option('-y, --yes', 'do not ask before changing ALL hosts'),
  ).action(
    async (
      opts: {
        servers?: string;
        searchDomains?: string;
        interfaceName: string;
        target: string;
        yes?: boolean;
      },
      cmd: Command,
    ) => {
      // The API refuses all of these too; here they read as usage, before anything is sent.
      if (opts.servers === undefined && opts.searchDomains === undefined) {
        throw new UsageError('give --servers, --search-domains or both');
      }
      if (!isInterfaceName(opts.interfaceName)) {
        throw new UsageError(
          `--interface-name: ${INTERFACE_EXPECTED}, got "${opts.interfaceName}"`,
        );
      }
      const servers = opts.servers === undefined ? undefined : commaList(opts.servers);
      if (servers?.length === 0) throw new UsageError('--servers: give at least one address');
      const badServer = servers?.find((s) => !isIpAddress(s));
      if (badServer !== undefined) {
        throw new UsageError(
          `--servers: expected IPv4 or IPv6 addresses (e.g. 1.1.1.1 or 2606:4700::1111), got "${badServer}"`,
        );
      }
      const domains = opts.searchDomains === undefined ? undefined : commaList(opts.searchDomains);
      const badDomain = domains?.find((d) => !isDnsName(d));
      if (badDomain !== undefined) {
        throw new UsageError(
          `--search-domains: expected hostnames (e.g. corp.example), got "${badDomain}"`,
        );
      }
      const { ctx, client } = clientFor(cmd);
      if (opts.target === '_all') await confirmChangeOnAll('modify DNS', opts.yes);
      const { body } = await client.networkDnsUpdate(opts.target, {
        ...(servers !== undefined ? { servers } : {}),
        ...(domains !== undefined ? { search_domains: domains } : {}),
        interface_name: opts.interfaceName,
      });
      show(ctx, body, dnsUpdateTable);
    },
  );
}
