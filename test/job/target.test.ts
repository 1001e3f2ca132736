import { describe, expect, it } from 'vitest';
import { labelPrefixes, parseTarget, TargetError, targetMatches } from '../../src/job/target.js';
import {
  hostFromToken,
  hostToken,
  infraNames,
  notifySubject,
  parseStatusKey,
  statusKey,
} from '../../src/names/names.js';

describe('parseTarget', () => {
  it('knows the four kinds', () => {
    expect(parseTarget('_any')).toEqual({ kind: 'any' });
    expect(parseTarget('_all')).toEqual({ kind: 'all' });
    expect(parseTarget('web-01.example.com')).toEqual({
      kind: 'host',
      hostname: 'web-01.example.com',
    });
    expect(parseTarget('group:web.dev')).toEqual({ kind: 'label', key: 'group', value: 'web.dev' });
  });

  it.each([
    '',
    'a b',
    'group:',
    ':web',
    'group:web..dev',
    'group:web.',
    '_foo',
    'x*',
    'a>b',
    'g:w:x',
  ])('refuses %j with a message', (raw) => {
    expect(() => parseTarget(raw)).toThrow(TargetError);
  });
});

describe('label matching', () => {
  const agent = { hostname: 'web-01', labels: { group: 'web.dev.us-east' } };
  it('matches every prefix of the value, on segment boundaries only', () => {
    expect(labelPrefixes('web.dev.us-east')).toEqual(['web', 'web.dev', 'web.dev.us-east']);
    expect(targetMatches(parseTarget('group:web'), agent)).toBe(true);
    expect(targetMatches(parseTarget('group:web.dev'), agent)).toBe(true);
    expect(targetMatches(parseTarget('group:web.dev.us-east'), agent)).toBe(true);
    expect(targetMatches(parseTarget('group:we'), agent)).toBe(false);
    expect(targetMatches(parseTarget('group:web.prod'), agent)).toBe(false);
    expect(targetMatches(parseTarget('env:web'), agent)).toBe(false);
  });
});

describe('names', () => {
  const names = infraNames({
    namespace: 'osapi',
    stream: { name: 'JOBS', subjects: 'jobs.>' },
    kv: { bucket: 'job-queue', response_bucket: 'job-responses' },
    audit: { bucket: 'audit-log' },
    registry: { bucket: 'agent-registry' },
  });

  it('applies the namespace to infrastructure and subjects', () => {
    expect(names.stream).toBe('osapi-JOBS');
    expect(names.jobsBucket).toBe('osapi-job-queue');
    expect(notifySubject(names, 'modify', { kind: 'any' })).toBe('osapi.jobs.modify._any');
    expect(notifySubject(names, 'query', { kind: 'host', hostname: 'web-01' })).toBe(
      'osapi.jobs.query.host.web-01',
    );
    expect(notifySubject(names, 'modify', { kind: 'label', key: 'group', value: 'web.dev' })).toBe(
      'osapi.jobs.modify.label.group.web.dev',
    );
  });

  it('keeps dotted hostnames in one token, reversibly', () => {
    expect(hostToken('a.b.c')).toBe('a=b=c');
    expect(hostFromToken(hostToken('web-01.example.com'))).toBe('web-01.example.com');
    const key = statusKey('id-1', 'started', 'web-01.example.com', 123n);
    expect(key).toBe('status.id-1.started.web-01=example=com.123');
    expect(parseStatusKey(key)).toEqual({
      id: 'id-1',
      event: 'started',
      hostname: 'web-01.example.com',
      nanos: 123n,
    });
  });
});

describe('fact comparison targets', () => {
  it('parses fact:<key><op><value>, and keeps fact:<value> a label', async () => {
    const { parseTarget, formatTarget, factCompares, isBroadcast } = await import(
      '../../src/job/target.js'
    );
    expect(parseTarget('fact:os.family=debian')).toEqual({
      kind: 'fact',
      key: 'os.family',
      op: '=',
      value: 'debian',
    });
    expect(parseTarget('fact:cpu_count>=8')).toMatchObject({ op: '>=', value: '8' });
    expect(parseTarget('fact:custom.rack!=r1')).toMatchObject({ op: '!=' });
    expect(parseTarget('fact:web.dev')).toEqual({ kind: 'label', key: 'fact', value: 'web.dev' });
    const t = parseTarget('fact:cpu_count<2.5');
    expect(formatTarget(t)).toBe('fact:cpu_count<2.5');
    expect(isBroadcast(t)).toBe(true);
    for (const bad of ['fact:cpu_count>=x', 'fact:os=', 'fact:os=a b', 'fact:.x=1']) {
      expect(() => parseTarget(bad), bad).toThrow();
    }
    const ge = parseTarget('fact:cpu_count>=8');
    if (ge.kind !== 'fact') throw new Error('not a fact target');
    expect(factCompares(ge, '8')).toBe(true);
    expect(factCompares(ge, '16')).toBe(true);
    expect(factCompares(ge, '4')).toBe(false);
    expect(factCompares(ge, 'eight')).toBe(false);
    expect(factCompares(ge, undefined)).toBe(false);
  });
});
