// Output near and past the caps still comes back: the stored result always
// fits in one NATS message, with the head and tail of each stream kept.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { post, startTestSystem, type TestSystem } from '../support/system.js';

let sys: TestSystem;
let admin: string;

beforeAll(async () => {
  sys = await startTestSystem();
  await sys.startAgent('big-01');
  await sys.waitForAgents(['big-01']);
  admin = await sys.token();
});
afterAll(async () => {
  await sys?.stop();
});

it('1.5 MB on stdout and on stderr, at the default caps: a result with both ends of each', async () => {
  const r = await post(
    sys,
    '/node/big-01/command/shell',
    {
      command:
        'echo FIRST; head -c 1500000 /dev/zero | tr "\\0" x; echo; echo LAST; echo ERRFIRST >&2; head -c 1500000 /dev/zero | tr "\\0" y >&2; echo >&2; echo ERRLAST >&2',
    },
    admin,
  );
  expect(r.status).toBe(202);
  const [res] = r.body.results;
  expect(res).toMatchObject({ state: 'succeeded', exit_code: 0 });
  expect(res.stdout_truncated).toBe(true);
  expect(res.stderr_truncated).toBe(true);
  expect(res.stdout.startsWith('FIRST\n')).toBe(true);
  expect(res.stdout.endsWith('\nLAST\n')).toBe(true);
  expect(res.stderr.startsWith('ERRFIRST\n')).toBe(true);
  expect(res.stderr.endsWith('\nERRLAST\n')).toBe(true);
});
