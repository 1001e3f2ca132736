// network.dns.get: the DNS servers and search domains of one interface, from
// systemd-resolved (`resolvectl`) where it runs, else from the resolv.conf
// file, which holds one configuration for every interface.
import { access, readdir, readFile } from 'node:fs/promises';
import type { OperationResult } from '../../contract/operations.js';
import { runCommand } from '../../exec/index.js';
import { nodeHandler } from './checked.js';

export const DEFAULT_RESOLV_CONF = '/etc/resolv.conf';
/** systemd-resolved keeps its state here while it runs. */
export const RESOLVED_RUN_DIR = '/run/systemd/resolve';
const SYS_NET = '/sys/class/net';

export type DnsConfig = Omit<OperationResult<'network.dns.get'>, 'source'>;

/**
 * `nameserver` lines in order; the last `search` or `domain` line gives the
 * search list (they exclude each other, the last one wins, as in glibc).
 */
export function parseResolvConf(text: string): DnsConfig {
  const servers: string[] = [];
  let search: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...values] = line.split(/\s+/);
    if (key === 'nameserver' && values[0]) servers.push(values[0]);
    else if (key === 'search') search = values;
    else if (key === 'domain' && values[0]) search = [values[0]];
  }
  return { servers, search_domains: search };
}

/** `Link 2 (eth0): 1.1.1.1 8.8.8.8` → the words after the colon. */
export function parseResolvectlLine(text: string): string[] {
  const line = text.split('\n').find((l) => /^Link \d+ \(.*\):/.test(l));
  if (!line) return [];
  return line
    .slice(line.indexOf('):') + 2)
    .trim()
    .split(/\s+/)
    .filter(Boolean);
}

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Null when the interface exists (or this host has no /sys to tell), else why not. */
export async function unknownInterface(name: string): Promise<string | null> {
  if (!(await exists(SYS_NET))) return null;
  if (await exists(`${SYS_NET}/${name}`)) return null;
  const names = await readdir(SYS_NET).catch(() => []);
  return `unknown interface "${name}": this host has ${names.length ? names.sort().join(', ') : 'no interfaces'}`;
}

export async function resolvectl(
  args: string[],
  signal: AbortSignal,
): Promise<{ ok: true; words: string[] } | { ok: false; error: string } | null> {
  const run = await runCommand({
    mode: 'exec',
    command: 'resolvectl',
    args,
    timeoutMs: 5000,
    maxOutputBytes: 64 * 1024,
    signal,
  });
  if (run.end.kind === 'notFound') return null;
  if (run.end.kind !== 'exited' || run.exitCode !== 0) {
    const why = run.error ?? (run.stderr.trim() || `exit code ${run.exitCode}`);
    return { ok: false, error: `resolvectl ${args.join(' ')} failed: ${why}` };
  }
  return { ok: true, words: parseResolvectlLine(run.stdout) };
}

export const dnsHandler = nodeHandler('network.dns.get', async (data, ctx) => {
  const name = data.interface_name;
  const unknown = await unknownInterface(name);
  if (unknown) return { ok: false, error: unknown };

  if (await exists(RESOLVED_RUN_DIR)) {
    const dns = await resolvectl(['dns', name], ctx.signal);
    // null: resolvectl is not installed after all; the file below still tells.
    if (dns && !dns.ok) return dns;
    if (dns) {
      const domains = await resolvectl(['domain', name], ctx.signal);
      if (domains && !domains.ok) return domains;
      return {
        ok: true,
        result: {
          servers: dns.words,
          // `~example.com` and `~.` route queries; they are not search domains.
          search_domains: (domains?.words ?? []).filter((d) => !d.startsWith('~')),
          source: 'systemd-resolved',
        },
      };
    }
  }

  const path = ctx.resolvConfPath ?? DEFAULT_RESOLV_CONF;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return {
      ok: false,
      error: `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  return { ok: true, result: { ...parseResolvConf(text), source: path } };
});
