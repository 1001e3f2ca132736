// A stand-in chronyc for the NTP tests (this machine has no chrony): a shell
// script in a temp directory that prints tracking and sources reports as
// `chronyc -n -c` prints them, records each call, and answers `reload
// sources` (or fails it, when told to). Handlers are given it as
// HostSettings.chronyc; the sources file lives in the same directory.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TRACKING_SYNCED =
  'A29FC87B,162.159.200.123,3,1765069200.123456789,-0.000012345,0.000001234,0.000020000,-12.345,0.001,0.012,0.012345678,0.000456789,64.5,Normal\n';
export const TRACKING_UNSYNCED =
  '00000000,,0,0.000000000,0.000000000,0.000000000,0.000000000,0.000,0.000,0.000,1.000000000,1.000000000,0.0,Not synchronised\n';
export const SOURCES =
  '^,*,162.159.200.123,3,6,377,34,0.000012,0.000010,0.020000\n^,-,192.0.2.10,2,6,17,12,-0.000300,-0.000290,0.030000\n';

const SCRIPT = `#!/bin/sh
dir=$(dirname "$0")
echo "$*" >> "$dir/calls"
case "$*" in
  "-n -c tracking") cat "$dir/tracking" ;;
  "-n -c sources") cat "$dir/sources" ;;
  "reload sources")
    if [ -e "$dir/fail-reload" ]; then echo "506 Cannot talk to daemon" >&2; exit 1; fi
    echo 200 OK ;;
  *) echo "unknown command" >&2; exit 1 ;;
esac
`;

export interface FakeChrony {
  dir: string;
  chronyc: string;
  /** Where the agent writes its sources (agent.ntp.sources_file). */
  sourcesFile: string;
  calls(): string[];
  setTracking(csv: string): void;
  failReload(fail: boolean): void;
  remove(): void;
}

export function makeFakeChrony(): FakeChrony {
  const dir = mkdtempSync(join(tmpdir(), 'osapitest-chrony-'));
  const chronyc = join(dir, 'chronyc');
  writeFileSync(chronyc, SCRIPT);
  chmodSync(chronyc, 0o755);
  writeFileSync(join(dir, 'tracking'), TRACKING_SYNCED);
  writeFileSync(join(dir, 'sources'), SOURCES);
  return {
    dir,
    chronyc,
    sourcesFile: join(dir, 'osapi.sources'),
    calls: () =>
      existsSync(join(dir, 'calls'))
        ? readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n').filter(Boolean)
        : [],
    setTracking: (csv) => writeFileSync(join(dir, 'tracking'), csv),
    failReload: (fail) => {
      if (fail) writeFileSync(join(dir, 'fail-reload'), '');
      else rmSync(join(dir, 'fail-reload'), { force: true });
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
