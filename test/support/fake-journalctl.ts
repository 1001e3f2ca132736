// A stand-in journalctl for hosts without journald: it prints the `-o json`
// lines of test/support/fixtures/journal.jsonl (the shape journalctl writes:
// every field a string, a non-UTF-8 MESSAGE as an array of bytes), or for
// `--field=` a list of identifiers, and records its arguments, one a line.
// It applies the filters the log handlers pass as journalctl does: --since
// and --until (`@<epoch seconds>`, both ends included), --priority (that one
// and every more urgent), --unit, --grep (on MESSAGE, case-insensitive
// unless the pattern has a capital; JavaScript's regular expressions stand
// in for PCRE2, which agree on the patterns the tests use), then the newest
// -n of what is left. Made with `patterns: false` it answers --grep as a
// journalctl built without PCRE2 does.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const JOURNAL_FIXTURE = join(import.meta.dirname, 'fixtures', 'journal.jsonl');

export interface FakeJournalctl {
  tool: string;
  /** A directory that stands for journald's own: an agent given it sees a journal. */
  journalDir: string;
  /** The arguments of the last run. */
  lastArgs(): string[];
  remove(): void;
}

/** The stand-in's program, run by this node; its arguments are never given to a shell. */
function program(argsFile: string, patterns: boolean): string {
  return `#!${process.execPath}
const { readFileSync, writeFileSync } = require('node:fs');
const argv = process.argv.slice(2);
writeFileSync(${JSON.stringify(argsFile)}, argv.map((a) => a + '\\n').join(''));
const option = (name) => {
  const given = argv.find((a) => a.startsWith('--' + name + '='));
  return given === undefined ? undefined : given.slice(name.length + 3);
};
if (option('field') !== undefined) {
  process.stdout.write('sshd\\nkernel\\nosapi\\nsshd\\n');
  process.exit(0);
}
const grep = option('grep');
if (grep !== undefined && !${patterns}) {
  process.stderr.write('Compiled without pattern matching support\\n');
  process.exit(1);
}
const text = (v) => (Array.isArray(v) ? Buffer.from(v).toString('utf8') : String(v ?? ''));
const seconds = (v) => (v === undefined ? undefined : Number(v.replace(/^@/, '')));
const since = seconds(option('since'));
const until = seconds(option('until'));
const priority = option('priority');
const unit = option('unit');
let matcher = null;
if (grep !== undefined) {
  try {
    matcher = new RegExp(grep, /[A-Z]/.test(grep) ? 'u' : 'iu');
  } catch {
    process.stderr.write('Bad pattern "' + grep + '"\\n');
    process.exit(1);
  }
}
const n = argv.indexOf('-n') >= 0 ? Number(argv[argv.indexOf('-n') + 1]) : Infinity;
const lines = readFileSync(${JSON.stringify(JOURNAL_FIXTURE)}, 'utf8').split('\\n').filter(Boolean);
const kept = lines.filter((line) => {
  const e = JSON.parse(line);
  const s = Number(e.__REALTIME_TIMESTAMP) / 1e6;
  if (since !== undefined && s < since) return false;
  if (until !== undefined && s > until) return false;
  if (priority !== undefined && Number(e.PRIORITY) > Number(priority)) return false;
  if (unit !== undefined && e._SYSTEMD_UNIT !== unit) return false;
  if (matcher !== null && !matcher.test(text(e.MESSAGE))) return false;
  return true;
});
process.stdout.write(kept.slice(-n).map((l) => l + '\\n').join(''));
`;
}

export function makeFakeJournalctl(opts: { patterns?: boolean } = {}): FakeJournalctl {
  const dir = mkdtempSync(join(tmpdir(), 'osapi-journalctl-'));
  const args = join(dir, 'args');
  const tool = join(dir, 'journalctl');
  writeFileSync(tool, program(args, opts.patterns ?? true));
  chmodSync(tool, 0o755);
  return {
    tool,
    journalDir: dir,
    lastArgs: () =>
      existsSync(args) ? readFileSync(args, 'utf8').split('\n').filter(Boolean) : [],
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
