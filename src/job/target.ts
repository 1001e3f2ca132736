// Targets: `_any`, `_all`, a hostname, or a label
// `key:value` whose value is dot-hierarchical. Parsed once at the edge; the
// rest of the system works with the typed form.
import { isValidHostname, type RouteTarget, NAME_SEGMENT as SEGMENT } from '../names/names.js';

export type Target = RouteTarget;

// Hostname syntax lives with the names a hostname becomes a token of.
export { isValidHostname };

export class TargetError extends Error {
  override name = 'TargetError';
}

export function isValidLabelKey(key: string): boolean {
  return SEGMENT.test(key);
}

export function isValidLabelValue(value: string): boolean {
  return value.length > 0 && value.split('.').every((s) => SEGMENT.test(s));
}

/** Parses a target string; throws TargetError with a message a user can act on. */
export function parseTarget(raw: string): Target {
  if (raw === '_any') return { kind: 'any' };
  if (raw === '_all') return { kind: 'all' };
  const colon = raw.indexOf(':');
  if (colon >= 0) {
    const key = raw.slice(0, colon);
    const value = raw.slice(colon + 1);
    if (!isValidLabelKey(key) || !isValidLabelValue(value)) {
      throw new TargetError(
        `invalid label target "${raw}": expected key:value where the key and each dot-separated value segment match [A-Za-z0-9_-]+ (e.g. group:web.dev)`,
      );
    }
    return { kind: 'label', key, value };
  }
  if (!isValidHostname(raw)) {
    throw new TargetError(
      `invalid target "${raw}": expected _any, _all, a hostname (letters, digits, '-', '_' and dots) or a label key:value`,
    );
  }
  return { kind: 'host', hostname: raw };
}

export function formatTarget(t: Target): string {
  switch (t.kind) {
    case 'any':
      return '_any';
    case 'all':
      return '_all';
    case 'host':
      return t.hostname;
    case 'label':
      return `${t.key}:${t.value}`;
  }
}

/** A target that may reach several agents, each running the job: `_all` or a label. */
export function isBroadcast(t: Target): t is Extract<Target, { kind: 'all' | 'label' }> {
  return t.kind === 'all' || t.kind === 'label';
}

/**
 * The label prefixes an agent answers to: `group: web.dev.us-east` gives
 * `web`, `web.dev` and `web.dev.us-east`.
 */
export function labelPrefixes(value: string): string[] {
  const parts = value.split('.');
  return parts.map((_, i) => parts.slice(0, i + 1).join('.'));
}

/** Whether an agent with this hostname and these labels is addressed by the target. */
export function targetMatches(
  t: Target,
  agent: { hostname: string; labels: Record<string, string> },
): boolean {
  switch (t.kind) {
    case 'any':
    case 'all':
      return true;
    case 'host':
      return agent.hostname === t.hostname;
    case 'label': {
      const v = agent.labels[t.key];
      return v !== undefined && (v === t.value || v.startsWith(`${t.value}.`));
    }
  }
}
