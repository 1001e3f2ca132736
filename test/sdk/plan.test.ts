// The plan format (src/sdk/plan.ts): what a valid plan reads as, and every
// way a plan file is refused before anything runs, each naming the step,
// the field and the position in the file.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backoffBefore, PlanError, parsePlan, planLevels } from '../../src/sdk/plan.js';
import { planIdempotencyKey } from '../../src/sdk/plan-run.js';

/** The problems of a plan that must be refused, as its message lines. */
function refusal(text: string): string[] {
  try {
    parsePlan(text, 'p.yaml');
  } catch (err) {
    if (err instanceof PlanError) return err.message.split('\n');
    throw err;
  }
  throw new Error('the plan was accepted');
}

describe('parsePlan', () => {
  it('reads steps, dependencies, guards, retry and on_error, with defaults', () => {
    const plan = parsePlan(
      `
name: upgrade
steps:
  - name: update
    operation: package.sources.update
    target: _all
  - name: restart
    operation: command.exec.execute
    target: group:web
    args: { command: systemctl, args: [restart, '@fact.custom.unit'] }
    after: update
    when: fact:os.family=debian
    retry: { attempts: 3, backoff: 2s }
    on_error: continue
  - name: report
    operation: node.status.get
    target: group:web
    only_if_failed: restart
`,
      'p.yaml',
    );
    expect(plan.name).toBe('upgrade');
    expect(plan.steps.map((s) => [s.name, s.after])).toEqual([
      ['update', []],
      ['restart', ['update']],
      // A guard's step comes first, named or not.
      ['report', ['restart']],
    ]);
    expect(plan.steps[0]).toMatchObject({
      args: {},
      retry: { attempts: 1, backoff_ms: 1000 },
      on_error: 'stop',
    });
    expect(plan.steps[1]).toMatchObject({
      when: 'fact:os.family=debian',
      retry: { attempts: 3, backoff_ms: 2000 },
      on_error: 'continue',
    });
    expect(planLevels(plan).map((l) => l.map((s) => s.name))).toEqual([
      ['update'],
      ['restart'],
      ['report'],
    ]);
  });

  it('puts steps that wait for nothing in common on the same level', () => {
    const plan = parsePlan(`
steps:
  - { name: a, operation: node.uptime.get, target: _all }
  - { name: b, operation: node.load.get, target: _all }
  - { name: c, operation: node.os.get, target: _all, after: [a, b] }
  - { name: d, operation: node.disk.get, target: _all, after: a }
`);
    expect(planLevels(plan).map((l) => l.map((s) => s.name))).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
  });

  it('refuses unknown keys, at their position', () => {
    expect(
      refusal(`
steps:
  - name: a
    operation: node.uptime.get
    target: _all
    retries: 3
extra: 1
`),
    ).toEqual([
      'p.yaml:7:1: unknown key "extra"; a plan has name and steps',
      expect.stringMatching(/^p\.yaml:6:5: step "a": unknown key "retries"; a step takes name, /),
    ]);
  });

  it('refuses an unknown operation and input its schema refuses, naming step and field', () => {
    const lines = refusal(`
steps:
  - name: a
    operation: node.nothing.get
    target: _all
  - name: b
    operation: command.exec.execute
    target: _all
    args:
      command: ls
      timeout: 100000
      colour: red
`);
    expect(lines[0]).toMatch(
      /^p\.yaml:4:16: step "a": operation: unknown operation "node\.nothing\.get"/,
    );
    expect(lines.slice(1).join('\n')).toMatch(/step "b": args\.(timeout|colour)/);
    expect(lines.some((l) => l.startsWith('p.yaml:11:16: step "b": args.timeout:'))).toBe(true);
  });

  it('checks args as the CLI does: a missing required field, a malformed @fact. reference', () => {
    const lines = refusal(`
steps:
  - { name: a, operation: command.exec.execute, target: _all, args: { args: [x] } }
  - { name: b, operation: command.exec.execute, target: _all, args: { command: '@fact.' } }
`);
    expect(lines[0]).toBe('p.yaml:3:69: step "a": args.command: is required');
    expect(lines[1]).toMatch(/step "b": args\.command: /);
  });

  it('accepts a @fact. reference where the field is checked on each agent', () => {
    const plan = parsePlan(`
steps:
  - { name: a, operation: command.exec.execute, target: _all, args: { command: '@fact.custom.tool' } }
`);
    expect(plan.steps[0]?.args).toEqual({ command: '@fact.custom.tool' });
  });

  it('refuses unknown steps in after and guards, and names the steps of a cycle', () => {
    expect(
      refusal(`
steps:
  - { name: a, operation: node.uptime.get, target: _all, after: z }
  - { name: b, operation: node.uptime.get, target: _all, only_if_changed: y }
`),
    ).toEqual([
      'p.yaml:3:65: step "a": after: no step is named "z"',
      'p.yaml:4:75: step "b": only_if_changed: no step is named "y"',
    ]);
    expect(
      refusal(`
steps:
  - { name: a, operation: node.uptime.get, target: _all, after: c }
  - { name: b, operation: node.uptime.get, target: _all, after: a }
  - { name: c, operation: node.uptime.get, target: _all, after: b }
`),
    ).toEqual([
      'p.yaml:3:65: step "a": after: the steps wait for each other in a cycle: a → c → b → a',
    ]);
    expect(
      refusal(`
steps:
  - { name: a, operation: node.uptime.get, target: _all, after: a }
`),
    ).toEqual(['p.yaml:3:65: step "a": after: a step cannot wait for itself']);
  });

  it('refuses bad names, targets, guards, retries and on_error', () => {
    const lines = refusal(`
steps:
  - { name: a, operation: node.uptime.get, target: 'bad target' }
  - { name: a, operation: node.uptime.get, target: _all }
  - { name: c, operation: node.uptime.get, target: _all, when: 'os.family=debian' }
  - { name: d, operation: node.uptime.get, target: _any, when: 'fact:os.family=debian' }
  - { name: e, operation: node.uptime.get, target: _all, retry: { attempts: 0, backoff: 1h } }
  - { name: f, operation: node.uptime.get, target: _all, on_error: ignore, only_if_changed: a, only_if_failed: a }
  - { name: '-g', operation: node.uptime.get, target: _all }
  - { name: h, operation: node.uptime.get, target: _all, retry: { attempts: 2, backoff: soon } }
`);
    const text = lines.join('\n');
    expect(text).toContain('step "a": target: invalid target "bad target"');
    expect(text).toContain('step "a": name: another step is named "a" already');
    expect(text).toContain('step "c": when: a fact comparison as a target writes it');
    expect(text).toContain('step "d": target: _any runs on one agent the API picks');
    expect(text).toContain('step "e": retry.attempts: required: the runs in all');
    expect(text).toContain('step "e": retry.backoff: a duration from 0s to 5m');
    expect(text).toContain(
      'step "f": only_if_failed: a step takes only_if_changed or only_if_failed',
    );
    expect(text).toContain('step "f": on_error: stop or continue');
    expect(text).toContain('step "-g": name: required: 1 to 64 letters');
    expect(text).toContain('step "h": retry.backoff: a duration from 0s to 5m');
  });

  it('reads a backoff as the config reads a duration', () => {
    const plan = parsePlan(`
steps:
  - { name: a, operation: node.uptime.get, target: _all, retry: { attempts: 2, backoff: 1m30s } }
  - { name: b, operation: node.uptime.get, target: _all, retry: { attempts: 2, backoff: 250ms } }
`);
    expect(plan.steps.map((s) => s.retry.backoff_ms)).toEqual([90_000, 250]);
  });

  it('refuses YAML it cannot read and a plan without steps', () => {
    expect(refusal('steps: [\n')[0]).toMatch(/^p\.yaml:\d+:\d+: invalid YAML: /);
    expect(refusal('name: x\n')).toEqual(['p.yaml:1:1: steps must be a list of at least one step']);
    expect(refusal('- a\n')).toEqual(['p.yaml:1:1: a plan is a mapping with `steps:`']);
  });
});

describe('retry and keys', () => {
  it('doubles the backoff after each run, bounded at 5 minutes', () => {
    const retry = { attempts: 10, backoff_ms: 1000 };
    expect([2, 3, 4, 5].map((a) => backoffBefore(retry, a))).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffBefore(retry, 10)).toBe(256_000);
    expect(backoffBefore({ attempts: 10, backoff_ms: 200_000 }, 4)).toBe(300_000);
  });

  it('makes an Idempotency-Key of run id, step, attempt and host, within 255 characters', () => {
    expect(planIdempotencyKey('r1', 'deploy', 2, 'web-01')).toBe('osapi-plan:r1:deploy:2:web-01');
    expect(planIdempotencyKey('r1', 'deploy', 1)).toBe('osapi-plan:r1:deploy:1');
    const long = planIdempotencyKey('r'.repeat(64), 's'.repeat(64), 10, 'h'.repeat(253));
    expect(long).toMatch(/^osapi-plan:[0-9a-f]{64}$/);
  });
});

describe('docs/plans.md', () => {
  it('holds an example plan that is valid', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'plans.md'), 'utf8');
    const example = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(example).toBeDefined();
    const plan = parsePlan(example as string, 'docs/plans.md');
    expect(planLevels(plan).map((l) => l.map((s) => s.name))).toEqual([
      ['sources', 'motd'],
      ['install'],
      ['restart'],
      ['report'],
    ]);
  });
});
