// Ctrl-C during --follow asks whether to cancel: yes cancels the job through
// the API and keeps following; no, a second Ctrl-C, or no terminal to ask on
// stops following and leaves the job running. Against a real system.
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askToCancel } from '../../src/cli/cancel-prompt.js';
import { OsapiClient } from '../../src/sdk/client.js';
import { waitFor } from '../api/helpers.js';
import { startTestSystem, type TestSystem } from '../support/system.js';

let sys: TestSystem;
let client: OsapiClient;

beforeAll(async () => {
  sys = await startTestSystem();
  await sys.startAgent('p-01');
  await sys.waitForAgents(['p-01']);
  client = new OsapiClient({ url: sys.url, token: await sys.token() });
});
afterAll(async () => {
  await sys?.stop();
});

/** A terminal the test types into, and what the prompt wrote. */
function terminal(isTTY = true) {
  const input = Object.assign(new PassThrough(), { isTTY });
  const output = new PassThrough();
  let shown = '';
  output.on('data', (d: Buffer) => {
    shown += d.toString();
  });
  return { input, output, shown: () => shown };
}

async function runningJob(): Promise<string> {
  const { body } = await client.commandShell(
    'p-01',
    { command: 'echo begun; sleep 60', timeout: 120 },
    { async: true },
  );
  await waitFor('the job to run', async () => {
    const j = await client.jobGet(body.job_id);
    return j.body.agent_states['p-01']?.status === 'running';
  });
  return body.job_id;
}

describe('askToCancel', () => {
  it('yes: cancels the job and keeps following', async () => {
    const id = await runningJob();
    const t = terminal();
    const answered = askToCancel(client, t);
    const pending = answered(id);
    await waitFor('the question', () => t.shown().includes(`Cancel job ${id}`));
    t.input.write('y\n');
    expect(await pending).toBe('continue');
    const job = await client.jobGet(id);
    expect(job.body.agent_states['p-01']?.status).toBe('cancelled');
    expect(t.shown()).toContain('cancelled; waiting for the hosts to report');
  });

  it('no: stops following, the job goes on', async () => {
    const id = await runningJob();
    const t = terminal();
    const pending = askToCancel(client, t)(id);
    await waitFor('the question', () => t.shown().includes('[y/N]'));
    t.input.write('\n');
    expect(await pending).toBe('stop');
    expect((await client.jobGet(id)).body.agent_states['p-01']?.status).toBe('running');
    await client.jobCancel(id);
  });

  it('no terminal: stops following without asking; the job goes on', async () => {
    const id = await runningJob();
    const t = terminal(false);
    expect(await askToCancel(client, t)(id)).toBe('stop');
    expect(t.shown()).toBe('');
    expect((await client.jobGet(id)).body.agent_states['p-01']?.status).toBe('running');
    await client.jobCancel(id);
  });

  it('a job that already ended: says it could not cancel, and stops following', async () => {
    const { body } = await client.commandShell('p-01', { command: 'true' });
    // The answer comes from the command route; the cancel route reads the
    // jobs view, which hears the result a moment later.
    await waitFor('the job to be final in the jobs view', async () => {
      const status = (await client.jobGet(body.job_id)).body.status;
      return status !== 'submitted' && status !== 'processing';
    });
    const t = terminal();
    const pending = askToCancel(client, t)(body.job_id);
    await waitFor('the question', () => t.shown().includes('[y/N]'));
    t.input.write('yes\n');
    expect(await pending).toBe('stop');
    expect(t.shown()).toMatch(/could not cancel: .*already ended/);
  });
});
