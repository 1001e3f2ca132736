// One warning per NATS outage: the first failure warns, the retries after it
// are debug lines, and once nothing has failed for QUIET_MS the next success
// says once that NATS works again, with how long it failed and how often.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { OutageLog, QUIET_MS } from '../../src/log/outage-log.js';

function logged() {
  const lines: Array<{ level: number; msg: string; outage_s?: number; failures?: number }> = [];
  const logger = pino({ level: 'debug' }, { write: (l: string) => lines.push(JSON.parse(l)) });
  const at = (level: number) => lines.filter((l) => l.level === level);
  return { logger, lines, at };
}

describe('OutageLog', () => {
  it('warns once for an outage that fails and works by turns, and says when it is over', () => {
    const { logger, lines, at } = logged();
    let now = 1000;
    const outage = new OutageLog(logger, () => now);
    expect(outage.worked()).toBe(false); // nothing was failing: nothing to say
    expect(lines).toEqual([]);
    // An election: failures, a success in between, failures again, 12.3 s in all.
    for (let i = 0; i < 300; i++) outage.failed('job handling failed', new Error('TimeoutError'));
    now += 5_000;
    expect(outage.worked()).toBe(true); // retries may go now...
    expect(outage.failing).toBe(true); // ...but the outage is not over
    now += 7_300;
    for (let i = 0; i < 200; i++) outage.failed('heartbeat failed', new Error('TimeoutError'));
    expect(at(40)).toHaveLength(1);
    expect(at(40)[0]?.msg).toMatch(/^job handling failed; NATS is unreachable/);
    expect(at(20)).toHaveLength(499);

    now += QUIET_MS - 1;
    outage.worked();
    expect(at(30)).toEqual([]);
    now += 1;
    expect(outage.worked()).toBe(false);
    expect(outage.failing).toBe(false);
    expect(at(30)).toEqual([
      expect.objectContaining({
        outage_s: 12.3,
        failures: 500,
        msg: expect.stringMatching(/works again; it failed for 12.3 s/),
      }),
    ]);

    // The next outage warns again.
    outage.failed('heartbeat failed', new Error('closed'));
    expect(at(40)).toHaveLength(2);
  });

  it('adds no warning to an outage the connection has warned of already', () => {
    const { logger, at } = logged();
    let now = 0;
    const outage = new OutageLog(logger, () => now);
    outage.toldElsewhere();
    outage.failed('heartbeat failed', new Error('closed'));
    expect(at(40)).toEqual([]);
    expect(outage.failing).toBe(true);
    now += QUIET_MS;
    outage.worked();
    expect(at(30)).toHaveLength(1);
  });
});
