// A stand-in journalctl for hosts without journald: it prints the `-o json`
// lines of test/support/fixtures/journal.jsonl (the shape journalctl writes:
// every field a string, a non-UTF-8 MESSAGE as an array of bytes), or for
// `--field=` a list of identifiers, and records its arguments, one a line.
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

export function makeFakeJournalctl(): FakeJournalctl {
  const dir = mkdtempSync(join(tmpdir(), 'osapi-journalctl-'));
  const args = join(dir, 'args');
  const tool = join(dir, 'journalctl');
  writeFileSync(
    tool,
    `#!/bin/sh
printf '%s\\n' "$@" > '${args}'
case "$*" in
  *--field=*) printf 'sshd\\nkernel\\nosapi\\nsshd\\n' ;;
  *) cat '${JOURNAL_FIXTURE}' ;;
esac
`,
  );
  chmodSync(tool, 0o755);
  return {
    tool,
    journalDir: dir,
    lastArgs: () =>
      existsSync(args) ? readFileSync(args, 'utf8').split('\n').filter(Boolean) : [],
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
