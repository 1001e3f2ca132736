// Property tests over the CLI's flag values: any text gives a value of the
// right type or a UsageError naming the flag, never another error; and the
// real CLI, given random flag values, exits 0, 1 or 2 without a stack trace.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseArgsList } from '../../src/cli/args.js';
import { UsageError } from '../../src/cli/context.js';
import { durationFlag, intFlag } from '../../src/cli/flags.js';
import { childEnv, cleanup, runOsapi, STACK_LINE, tempDir } from './helpers.js';

const params = {
  numRuns: Number(process.env.FC_RUNS ?? 300),
  seed: Number(process.env.FC_SEED ?? 20261125),
};
const text = fc.string({ unit: 'binary', maxLength: 40 });

afterAll(cleanup, 30_000);

describe('flag parsers', () => {
  it('intFlag: an integer in range, or a UsageError naming the flag', () => {
    const parse = intFlag('--limit', 1, 100);
    fc.assert(
      fc.property(fc.oneof(text, fc.integer().map(String), fc.double().map(String)), (v) => {
        try {
          const n = parse(v);
          expect(Number.isInteger(n) && n >= 1 && n <= 100).toBe(true);
          expect(String(n)).toBe(v.replace(/^0+(?=\d)/, ''));
        } catch (err) {
          expect(err).toBeInstanceOf(UsageError);
          expect((err as Error).message).toMatch(/^--limit: expected an integer 1\.\.100, got /);
        }
      }),
      params,
    );
  });

  it('durationFlag: a positive number of milliseconds, or a UsageError', () => {
    const parse = durationFlag('--timeout');
    fc.assert(
      fc.property(
        fc.oneof(text, fc.constantFrom('30', '500ms', '2m', '1h30m', '0', '-1s', '1e3')),
        (v) => {
          try {
            const ms = parse(v);
            expect(Number.isSafeInteger(ms) && ms > 0).toBe(true);
          } catch (err) {
            expect(err).toBeInstanceOf(UsageError);
            expect((err as Error).message).toMatch(/^--timeout: expected seconds or a duration/);
          }
        },
      ),
      params,
    );
  });

  it('--args: splitting then joining plain values gives them back; any text parses', () => {
    const plain = fc.array(
      fc.string({ maxLength: 10 }).filter((s) => !/[,"]/.test(s)),
      { minLength: 1, maxLength: 6 },
    );
    fc.assert(
      fc.property(plain, (args) => {
        expect(parseArgsList(args.join(','))).toEqual(args);
      }),
      params,
    );
    fc.assert(
      fc.property(text, (v) => {
        const out = parseArgsList(v);
        expect(Array.isArray(out) && out.every((a) => typeof a === 'string')).toBe(true);
      }),
      params,
    );
    expect(parseArgsList('a,"b,c",d')).toEqual(['a', 'b,c', 'd']);
  });
});

describe('the CLI with random flag values', () => {
  it('exits 0, 1 or 2 with a message, never a stack trace', async () => {
    const dir = tempDir();
    // No API is running at this URL: the client commands fail cleanly (1) or refuse the flags (2).
    const env = childEnv(dir, { OSAPI_API_CLIENT_URL: 'http://127.0.0.1:9' });
    const value = fc.string({
      unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 12,
    });
    const argv = fc.oneof(
      value.map((v) => ['client', 'node', 'command', 'exec', '--command', 'true', '--timeout', v]),
      value.map((v) => ['client', 'node', 'command', 'shell', '--command', v, '-T', v]),
      value.map((v) => ['client', 'job', 'list', '--limit', v]),
      value.map((v) => ['client', 'audit', 'list', '--offset', v]),
      value.map((v) => [
        'client',
        'job',
        'run',
        '--json-file',
        '/nonexistent',
        '--target-hostname',
        '_any',
        '-t',
        v,
      ]),
      value.map((v) => ['token', 'generate', '-r', v, '-u', v]),
      value.map((v) => ['token', 'validate', '-t', v]),
    );
    await fc.assert(
      fc.asyncProperty(argv, async (args) => {
        const r = await runOsapi(args, { env, timeoutMs: 20_000 });
        expect([0, 1, 2], `${args.join(' ')}: ${r.stderr}`).toContain(r.code);
        expect(r.stderr).not.toContain(STACK_LINE);
        if (r.code !== 0) expect(r.stderr).toMatch(/^osapi: |error: /m);
      }),
      { numRuns: Number(process.env.FC_CLI_RUNS ?? 12), seed: params.seed },
    );
  }, 120_000);
});
