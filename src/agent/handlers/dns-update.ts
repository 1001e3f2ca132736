// network.dns.update: sets the DNS servers and/or search domains of one
// interface, through systemd-resolved (`resolvectl dns|domain IFACE …`) where
// it runs, else in the resolv.conf file (one configuration for every
// interface). It answers `changed: false` without writing anything when the
// host already has that configuration, so a repeat is harmless. Before the
// first change it keeps what was there (dns-original.ts), so that
// network.dns.delete can put it back.
import type { DnsUpdateData } from '../../contract/node-operations.js';
import { errorText } from '../../exec/errno.js';
import { type NodeOutcome, nodeHandler } from './checked.js';
import {
  DEFAULT_RESOLV_CONF,
  exists,
  parseResolvConf,
  RESOLVED_RUN_DIR,
  resolvectl,
  unknownInterface,
} from './dns.js';
import { keepOriginalFile, keepResolvedOriginal } from './dns-original.js';
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

export const HOST_DNS_DEPS: DnsUpdateDeps = {
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
  stateDir: string | undefined,
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
  const kept = await keep(stateDir, (dir) =>
    keepResolvedOriginal(dir, { interface: name, servers: dns.words, domains: domain.words }),
  );
  if (kept) return kept;

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

/** Keeps the original configuration before a change; a failure to keep it stops the change. */
async function keep(
  stateDir: string | undefined,
  write: (stateDir: string) => Promise<void>,
): Promise<Outcome | null> {
  // Without a state directory (handlers run alone) nothing is kept: the removal then says so.
  if (stateDir === undefined) return null;
  try {
    await write(stateDir);
    return null;
  } catch (err) {
    return {
      ok: false,
      error: `cannot keep the DNS configuration as it was in ${stateDir} (so that network.dns.delete can restore it), nothing was changed: ${errorText(err)}`,
    };
  }
}

async function updateFile(
  path: string,
  data: DnsUpdateData,
  signal: AbortSignal,
  stateDir: string | undefined,
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
  const kept = await keep(stateDir, (dir) => keepOriginalFile(dir, file.real, file.bytes));
  if (kept) return kept;
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

export function makeDnsUpdateHandler(deps: DnsUpdateDeps = HOST_DNS_DEPS): JobHandler {
  return nodeHandler('network.dns.update', (data, ctx) =>
    // One update at a time on this agent: each reads, compares and writes as
    // one step, so two jobs at once cannot both start from the old settings.
    serializedOn('network.dns.update', async () => {
      const unknown = await deps.interfaceProblem(data.interface_name);
      if (unknown) return { ok: false, error: unknown };
      if (await deps.resolvedRuns()) {
        const out = await updateResolved(data, deps.resolvectl, ctx.signal, ctx.host?.stateDir);
        if (out) return out;
      }
      return updateFile(
        ctx.resolvConfPath ?? DEFAULT_RESOLV_CONF,
        data,
        ctx.signal,
        ctx.host?.stateDir,
      );
    }),
  );
}

export const dnsUpdateHandler = makeDnsUpdateHandler();
