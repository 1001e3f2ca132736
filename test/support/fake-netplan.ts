// A stand-in netplan for the network change tests (netplan is not installed
// here, and a real apply would change this machine's network): a shell
// script in a temp directory, with a netplan directory beside it
// (agent.network.netplan_dir). It records each call with a copy of the
// directory's files as they were then, fails `generate` or `apply` when
// told to, and "loses connectivity" on an apply while any file holds the
// text it was told to fear: it then leaves a file `lost`, which the test's
// NATS check (HostSettings.natsReachable) reads; an apply without that text
// removes it, as a roll-back would restore connectivity.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The script, knowing its directory: it may be run through a link on PATH. */
const script = (dir: string) => `#!/bin/sh
dir='${dir}'
{ echo "$*"; for f in "$dir"/netplan/*.yaml; do [ -e "$f" ] && echo "  $(basename "$f")"; done; } >> "$dir/calls"
case "$1" in
  generate)
    if [ -e "$dir/fail-generate" ]; then echo "Error in network definition: bad address" >&2; exit 1; fi ;;
  apply)
    if [ -e "$dir/fail-apply" ]; then echo "Failed to apply: networkd is not running" >&2; exit 1; fi
    if [ -e "$dir/fear" ] && cat "$dir"/netplan/*.yaml 2>/dev/null | grep -qF "$(cat "$dir/fear")"; then
      touch "$dir/lost"
    else
      rm -f "$dir/lost"
    fi ;;
  *) echo "unknown command" >&2; exit 1 ;;
esac
`;

export interface FakeNetplan {
  dir: string;
  netplan: string;
  netplanDir: string;
  /** A directory holding it as `netplan`: put first on PATH, it is the host's netplan. */
  pathDir: string;
  /** Each call: its arguments, then the files of the netplan dir at that time, indented. */
  calls(): string[];
  clearCalls(): void;
  fail(step: 'generate' | 'apply', fail: boolean): void;
  /** An apply while a file holds `text` cuts the agent off (until an apply without it). */
  loseConnectivityOn(text: string | null): void;
  /** What the test's NATS check answers: false while cut off. */
  reachable(): boolean;
  remove(): void;
}

export function makeFakeNetplan(): FakeNetplan {
  const dir = mkdtempSync(join(tmpdir(), 'osapitest-netplan-'));
  const netplan = join(dir, 'netplan-tool');
  writeFileSync(netplan, script(dir));
  chmodSync(netplan, 0o755);
  const pathDir = join(dir, 'bin');
  mkdirSync(pathDir);
  symlinkSync(netplan, join(pathDir, 'netplan'));
  const netplanDir = join(dir, 'netplan');
  mkdirSync(netplanDir);
  const flag = (name: string, on: boolean, text = '') => {
    if (on) writeFileSync(join(dir, name), text);
    else rmSync(join(dir, name), { force: true });
  };
  return {
    dir,
    netplan,
    netplanDir,
    pathDir,
    calls: () =>
      existsSync(join(dir, 'calls'))
        ? readFileSync(join(dir, 'calls'), 'utf8').split('\n').filter(Boolean)
        : [],
    clearCalls: () => rmSync(join(dir, 'calls'), { force: true }),
    fail: (step, fail) => flag(`fail-${step}`, fail),
    loseConnectivityOn: (text) => flag('fear', text !== null, text ?? ''),
    reachable: () => !existsSync(join(dir, 'lost')),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
