// Asks before a change reaches every host (`-T _all`). Without a terminal to
// ask on, it refuses rather than assume yes: a script says -y/--yes.
import { createInterface } from 'node:readline/promises';
import { ExitError, say, UsageError } from './context.js';

/** `change` completes "This will … on ALL hosts", e.g. `execute command`. */
export async function confirmChangeOnAll(change: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) {
    throw new UsageError(
      `refusing to ${change} on ALL hosts: stdin is not a terminal, so nobody can confirm. Pass -y/--yes to do it on every host.`,
    );
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question(`This will ${change} on ALL hosts. Continue? [y/N] `);
  rl.close();
  if (!/^y(es)?$/i.test(answer.trim())) {
    say('Cancelled.');
    throw new ExitError(1);
  }
}
