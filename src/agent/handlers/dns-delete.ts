// network.dns.delete: removes the DNS configuration this system set on an
// interface and restores what was there before it first changed it (kept by
// network.dns.update, dns-original.ts). Where systemd-resolved holds it:
// `resolvectl revert IFACE`, which drops the servers and domains set on the
// link, so the link's own configuration (networkd's, DHCP's) applies again.
// Else the resolver file gets back the bytes it held before the first
// change. Nothing this system set: `changed: false`, nothing touched.
import { errorText } from '../../exec/errno.js';
import { failed, type NodeOutcome, nodeHandler } from './checked.js';
import { DEFAULT_RESOLV_CONF } from './dns.js';
import {
  forgetOriginalFile,
  forgetResolvedOriginal,
  originalFile,
  resolvedWasSet,
} from './dns-original.js';
import { type DnsUpdateDeps, HOST_DNS_DEPS } from './dns-update.js';
import { readResolvConf, replaceResolvConf, serializedOn } from './resolv-conf.js';
import type { JobHandler } from './types.js';

type Outcome = NodeOutcome<'network.dns.delete'>;

async function revertResolved(
  name: string,
  stateDir: string,
  run: DnsUpdateDeps['resolvectl'],
  signal: AbortSignal,
): Promise<Outcome> {
  const reverted = await run(['revert', name], signal);
  if (reverted === null) {
    return failed(
      `this system set the DNS of ${name} through systemd-resolved, but resolvectl is not installed now: nothing was changed`,
    );
  }
  if (!reverted.ok) return reverted;
  await forgetResolvedOriginal(stateDir, name);
  return { ok: true, result: { changed: true, source: 'systemd-resolved' } };
}

async function restoreFile(path: string, stateDir: string): Promise<Outcome> {
  let file: Awaited<ReturnType<typeof readResolvConf>>;
  try {
    file = await readResolvConf(path);
  } catch (err) {
    return failed(`cannot read ${path}: ${errorText(err)}`);
  }
  const original = await originalFile(stateDir, file.real);
  if (original === null) return { ok: true, result: { changed: false, source: path } };
  const changed = !original.equals(file.bytes);
  if (changed) {
    try {
      await replaceResolvConf(file, original.toString('utf8'));
    } catch (err) {
      return failed(`cannot write ${path}: ${errorText(err)}`);
    }
  }
  await forgetOriginalFile(stateDir, file.real);
  return { ok: true, result: { changed, source: path } };
}

export function makeDnsDeleteHandler(deps: DnsUpdateDeps = HOST_DNS_DEPS): JobHandler {
  return nodeHandler('network.dns.delete', (data, ctx) =>
    // The same queue as the update's: a removal never runs inside an update.
    serializedOn('network.dns.update', async () => {
      const stateDir = ctx.host?.stateDir;
      if (stateDir === undefined) {
        return failed(
          'this agent keeps no state directory, so it cannot tell what DNS configuration it set: nothing was changed',
        );
      }
      const name = data.interface_name;
      const unknown = await deps.interfaceProblem(name);
      if (unknown) return failed(unknown);
      if (await resolvedWasSet(stateDir, name)) {
        return revertResolved(name, stateDir, deps.resolvectl, ctx.signal);
      }
      // Not set through systemd-resolved: the file is where it was set, if anywhere.
      return restoreFile(ctx.resolvConfPath ?? DEFAULT_RESOLV_CONF, stateDir);
    }),
  );
}

export const dnsDeleteHandler = makeDnsDeleteHandler();
