// `osapi nats nkey -o FILE`: makes a NATS user nkey pair, for auth type nkey,
// without nsc: the seed goes to a new 0600 file, the public key to the screen.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { type GlobalOptions, printJson, say, UsageError } from '../context.js';

export function registerNkeyCommand(nats: Command): void {
  nats
    .command('nkey')
    .description(
      'Make a NATS user nkey pair: the seed into a new file (mode 0600), the public key printed.',
    )
    .requiredOption('-o, --out <file>', 'seed file to create (refuses to overwrite)')
    .action(async (opts: { out: string }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      // Loaded here: other commands need no NATS client code.
      const { newUserNkey } = await import('../../nats/auth.js');
      const { seed, publicKey } = newUserNkey();
      try {
        mkdirSync(dirname(opts.out), { recursive: true, mode: 0o700 });
        writeFileSync(opts.out, `${seed}\n`, { mode: 0o600, flag: 'wx' });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        throw new UsageError(
          code === 'EEXIST'
            ? `${opts.out} exists; remove it first or choose another file`
            : `cannot write ${opts.out}: ${code}`,
        );
      }
      if (globals.json) {
        printJson({ public_key: publicKey, seed_file: opts.out });
        return;
      }
      process.stdout.write(`${publicKey}\n`);
      say(`Seed written to ${opts.out} (mode 0600). Public key above: give it to the server`);
      say('(nats.server.auth.api_nkeys / agent_nkeys) or let it derive it from the seed file.');
    });
}
