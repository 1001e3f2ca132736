// network.dns.update: sets the DNS servers and/or search domains of one
// interface, through systemd-resolved (`resolvectl dns|domain IFACE …`) where
// it runs, else in the resolv.conf file (one configuration for every
// interface). It answers `changed: false` without writing anything when the
// host already has that configuration, so a repeat is harmless.
import type { DnsUpdateData } from '../../contract/node-operations.js';
import { type NodeOutcome, nodeHandler } from './checked.js';
import {
  DEFAULT_RESOLV_CONF,
  exists,
  parseResolvConf,
  RESOLVED_RUN_DIR,
  resolvectl,
  unknownInterface,
} from './dns.js';
import {
  readResolvConf,
  replaceResolvConf,
  rewriteResolvConf,
  serializedOn,
} from './resolv-conf.js';
import type { JobHandler } from './types.js';

type Outcome = NodeOutcome<'network.dns.update'>;

/** What the handler asks of the host, injectable so that tests take the resolved path without systemd. */
export interface DnsUpdateDeps {
  /** Whether systemd-resolved runs here (the GET handler asks the same way). */
  resolvedRuns(): Promise<boolean>;
  /** Runs `resolvectl ARGS`: null when it is not installed. */
  resolvectl: typeof resolvectl;
  /** Null when the interface exists, else why not. */
  interfaceProblem(name: string): Promise<string | null>;
}

const HOST_DEPS: DnsUpdateDeps = {
  resolvedRuns: () => exists(RESOLVED_RUN_DIR),
  resolvectl,
  interfaceProblem: unknownInterface,
};

/** Names and addresses compare without case: `2001:DB8::1` is `2001:db8::1`, `Corp.Example` is `corp.example`. */
function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x.toLowerCase() === b[i]?.toLowerCase());
}

/** resolvectl clears a list given one empty argument; no argument at all would only read it. */
function listArgs(list: readonly string[]): string[] {
  return list.length > 0 ? [...list] : [''];
}

/** Null: resolvectl is not installed after all, and the file is the place. */
async function updateResolved(
  data: DnsUpdateData,
  run: DnsUpdateDeps['resolvectl'],
  signal: AbortSignal,
): Promise<Outcome | null> {
  const name = data.interface_name;
  const dns = await run(['dns', name], signal);
  if (dns === null) return null;
  if (!dns.ok) return dns;
  const domain = await run(['domain', name], signal);
  if (domain === null) return null;
  if (!domain.ok) return domain;
  // `~example.com` routes queries without being searched: kept as it is.
  const routing = domain.words.filter((d) => d.startsWith('~'));
  const search = domain.words.filter((d) => !d.startsWith('~'));
  const newServers = data.servers !== undefined && !sameList(dns.words, data.servers);
  const newSearch = data.search_domains !== undefined && !sameList(search, data.search_domains);
  const done = (changed: boolean): Outcome => ({
    ok: true,
    result: { changed, source: 'systemd-resolved' },
  });
  if (!newServers && !newSearch) return done(false);
  if (signal.aborted) return { ok: false, error: 'the agent stopped before changing anything' };

  if (newServers) {
    const set = await run(['dns', name, ...listArgs(data.servers ?? [])], signal);
    if (!set?.ok) return { ok: false, error: set?.error ?? 'resolvectl disappeared' };
  }
  if (newSearch) {
    const set = await run(
      ['domain', name, ...listArgs([...(data.search_domains ?? []), ...routing])],
      signal,
    );
    if (!set?.ok) {
      const why = set?.error ?? 'resolvectl disappeared';
      if (!newServers) return { ok: false, error: why };
      // Half a change is the one outcome never to leave: put the servers back.
      const back = await run(['dns', name, ...listArgs(dns.words)], new AbortController().signal);
      return {
        ok: false,
        error: back?.ok
          ? `${why}; the servers were set back to what they were, so nothing changed`
          : `${why}; putting the servers back failed too (${back?.error ?? 'resolvectl disappeared'}): ${name} now has the new servers and the old search domains`,
      };
    }
  }
  return done(true);
}

async function updateFile(
  path: string,
  data: DnsUpdateData,
  signal: AbortSignal,
): Promise<Outcome> {
  const problem = (what: string, err: unknown): Outcome => ({
    ok: false,
    error: `cannot ${what} ${path}: ${err instanceof Error ? err.message : String(err)}`,
  });
  let file: Awaited<ReturnType<typeof readResolvConf>>;
  try {
    file = await readResolvConf(path);
  } catch (err) {
    return problem('read', err);
  }
  const text = file.bytes.toString('utf8');
  const now = parseResolvConf(text);
  const newServers = data.servers !== undefined && !sameList(now.servers, data.servers);
  const newSearch =
    data.search_domains !== undefined && !sameList(now.search_domains, data.search_domains);
  if (!newServers && !newSearch) return { ok: true, result: { changed: false, source: path } };
  if (signal.aborted) return { ok: false, error: 'the agent stopped before changing anything' };
  try {
    await replaceResolvConf(
      file,
      rewriteResolvConf(text, {
        ...(newServers ? { servers: data.servers } : {}),
        ...(newSearch ? { search_domains: data.search_domains } : {}),
      }),
    );
  } catch (err) {
    return problem('write', err);
  }
  return { ok: true, result: { changed: true, source: path } };
}

export function makeDnsUpdateHandler(deps: DnsUpdateDeps = HOST_DEPS): JobHandler {
  return nodeHandler('network.dns.update', (data, ctx) =>
    // One update at a time on this agent: each reads, compares and writes as
    // one step, so two jobs at once cannot both start from the old settings.
    serializedOn('network.dns.update', async () => {
      const unknown = await deps.interfaceProblem(data.interface_name);
      if (unknown) return { ok: false, error: unknown };
      if (await deps.resolvedRuns()) {
        const out = await updateResolved(data, deps.resolvectl, ctx.signal);
        if (out) return out;
      }
      return updateFile(ctx.resolvConfPath ?? DEFAULT_RESOLV_CONF, data, ctx.signal);
    }),
  );
}

export const dnsUpdateHandler = makeDnsUpdateHandler();
