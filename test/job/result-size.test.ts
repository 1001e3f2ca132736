// A command result always fits in one NATS message: cut further in the middle
// of its longer stream when the capped output and JSON escaping outgrow it.
import { describe, expect, it } from 'vitest';
import type { JobResponse } from '../../src/job/records.js';
import { encodeResponse, resultBudget } from '../../src/job/result-size.js';

function response(stdout: string, stderr = ''): JobResponse {
  return {
    job_id: '0190a8b2-0000-7000-8000-000000000001',
    hostname: 'h',
    status: 'completed',
    state: 'succeeded',
    data: {
      stdout,
      stderr,
      exit_code: 0,
      duration_ms: 1,
      changed: true,
      stdout_truncated: false,
      stderr_truncated: false,
      stdout_bytes: Buffer.byteLength(stdout),
      stderr_bytes: Buffer.byteLength(stderr),
      end: 'exited',
    },
    started_at: '2026-01-01T00:00:00.000Z',
    finished_at: '2026-01-01T00:00:01.000Z',
  };
}

const BUDGET = resultBudget(1024 * 1024);

describe('encodeResponse', () => {
  it('leaves a result that fits as it is', () => {
    const r = response('hello\n');
    expect(encodeResponse(r, BUDGET)).toBe(JSON.stringify(r));
  });

  it('cuts two 1 MiB streams to fit, keeping the head and the tail of each cut stream', () => {
    const out = `START${'o'.repeat(1024 * 1024 - 8)}END`;
    const err = `BEGIN${'e'.repeat(1024 * 1024 - 8)}FIN`;
    const text = encodeResponse(response(out, err), BUDGET);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(BUDGET);
    const data = JSON.parse(text).data;
    for (const [s, a, b, flag] of [
      [data.stdout, 'START', 'END', data.stdout_truncated],
      [data.stderr, 'BEGIN', 'FIN', data.stderr_truncated],
    ]) {
      expect(s.startsWith(a)).toBe(true);
      expect(s.endsWith(b)).toBe(true);
      expect(s).toMatch(/\[… \d+ bytes omitted …\]/);
      expect(flag).toBe(true);
    }
    // The byte counts still say what the command wrote.
    expect(data.stdout_bytes).toBe(Buffer.byteLength(out));
  });

  it('fits output that JSON escaping grows sixfold (control characters)', () => {
    const out = '\u0001'.repeat(600 * 1024);
    const text = encodeResponse(response(out), BUDGET);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(BUDGET);
    expect(JSON.parse(text).data.stdout_truncated).toBe(true);
  });

  it('never splits a character', () => {
    const out = '€'.repeat(700 * 1024);
    const data = JSON.parse(encodeResponse(response(out), BUDGET)).data;
    expect(data.stdout).not.toContain('\uFFFD');
  });

  it('takes the budget from the server max_payload, less room for headers', () => {
    expect(resultBudget(8 * 1024 * 1024)).toBe(8 * 1024 * 1024 - 8192);
    expect(resultBudget(undefined)).toBe(1024 * 1024 - 8192);
  });
});
