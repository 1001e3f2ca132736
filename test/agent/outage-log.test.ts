// One warning per NATS outage: the first failure warns, the retries after it
// are debug lines, and the first success says once that NATS works again,
// with how long it did not and how many attempts failed.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { OutageLog } from '../../src/agent/outage-log.js';

function logged() {
  const lines: Array<{ level: number; msg: string; outage_s?: number; failures?: number }> = [];
  const logger = pino({ level: 'debug' }, { write: (l: string) => lines.push(JSON.parse(l)) });
  return { logger, lines };
}

describe('OutageLog', () => {
  it('warns once per outage, and says when it is over', () => {
    const { logger, lines } = logged();
    let now = 1000;
    const outage = new OutageLog(logger, () => now);
    outage.worked(); // nothing was failing: nothing to say
    expect(lines).toEqual([]);
    for (let i = 0; i < 500; i++) outage.failed('job handling failed', new Error('TimeoutError'));
    expect(outage.failing).toBe(true);
    now += 12_300;
    outage.worked();
    expect(outage.failing).toBe(false);
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toMatch(/^job handling failed; NATS is unreachable/);
    expect(lines.filter((l) => l.level === 20)).toHaveLength(499);
    const back = lines.filter((l) => l.level === 30);
    expect(back).toEqual([
      expect.objectContaining({
        outage_s: 12.3,
        failures: 500,
        msg: expect.stringMatching(/works again after 12.3 s/),
      }),
    ]);

    // The next outage warns again.
    outage.failed('heartbeat failed', new Error('closed'));
    expect(lines.filter((l) => l.level === 40)).toHaveLength(2);
  });
});
