// Whether a signed job is this agent's to run, from the target the API signed
// and the way the notification came. The signature says who made the job;
// this says where it was meant to go. Without it a notification copied onto
// another subject (by anyone who can publish there, or through a pull whose
// reply subject is another host's) would run wherever it was sent.

import type { JobRecord } from '../job/records.js';
import { expectedDigest } from '../job/signing.js';
import {
  isBroadcast,
  parseTarget,
  routeOf,
  type Target,
  TargetError,
  targetMatches,
} from '../job/target.js';
import type { RouteTarget } from '../names/names.js';

/** How a notification reached the agent. */
export type Arrival =
  /** From the shared `_any` consumer. */
  | { via: 'shared' }
  /**
   * On a subscription or read back from the stream: the target its subject
   * names (null: none), and whether it carries the API's signed word that
   * this host may start the job now (a rate-controlled broadcast's turn).
   */
  | { via: 'subject'; subject: string; target: RouteTarget | null; toldByApi?: boolean };

export interface Self {
  hostname: string;
  labels: Record<string, string>;
}

/**
 * Null when the job is addressed to this agent; otherwise why it is not,
 * as a sentence for the job's timeline. `expected` is the broadcast's list of
 * hosts as this agent holds it (null when it has none); it counts only when
 * its digest is the signed one.
 */
export function addressRefusal(
  job: Pick<JobRecord, 'target_hostname' | 'rollout' | 'expected_digest'>,
  arrival: Arrival,
  self: Self,
  expected: readonly string[] | null,
): string | null {
  let signed: Target;
  try {
    signed = parseTarget(job.target_hostname);
  } catch (err) {
    if (err instanceof TargetError) return `the signed target is not valid: ${err.message}`;
    throw err;
  }
  const where = arrival.via === 'shared' ? 'the shared _any consumer' : arrival.subject;
  if (signed.kind === 'any') {
    // One claim for every agent makes `_any` run once; a copy on any other
    // path would bypass it.
    return arrival.via === 'shared'
      ? null
      : `an _any job runs only through the shared _any consumer, and this one came on ${where}`;
  }
  if (arrival.via === 'shared') {
    return `the job was signed for ${job.target_hostname}, not _any, and came through ${where}`;
  }
  const came = arrival.target;
  if (signed.kind === 'host') {
    if (signed.hostname !== self.hostname) {
      return `the job was signed for host ${signed.hostname}, not this one (${self.hostname})`;
    }
    return came?.kind === 'host' && came.hostname === self.hostname
      ? null
      : `the job was signed for this host, and came on ${where}`;
  }
  // A broadcast: on its own subject; a rate-controlled one (whose hosts the
  // API tells one by one) only on this host's, with the API's signed word
  // for this host: a copy could otherwise start every host at once.
  if (job.rollout !== undefined) {
    const toldHere = came?.kind === 'host' && came.hostname === self.hostname;
    if (!toldHere || arrival.toldByApi !== true) {
      return `the rate-controlled job was signed for ${job.target_hostname}, and came on ${where} without the API's word that this host's turn has come`;
    }
  } else if (came === null || !sameTarget(came, signed)) {
    return `the job was signed for ${job.target_hostname}, and came on ${where}`;
  }
  if (!targetMatches(signed, self)) {
    return `the job was signed for ${job.target_hostname}, which this host's labels do not match`;
  }
  if (job.expected_digest === undefined) {
    return `the broadcast was signed without the hosts it was sent to; upgrade the API server`;
  }
  if (expected === null || expectedDigest(expected) !== job.expected_digest) {
    return `the list of hosts the broadcast was sent to is missing or not the signed one`;
  }
  if (!expected.includes(self.hostname)) {
    return `this host was not one the broadcast was sent to (it was not a Ready agent when the job was made)`;
  }
  return null;
}

/**
 * The one refusal that is nobody's doing: a broadcast on its own subject, with
 * its signed list of hosts, that this host was not on because it was not a
 * Ready agent when the job was made (it had just started, or could not
 * heartbeat while a cluster elected a leader). Refused all the same; only
 * told more quietly than a copy sent where the job was not addressed.
 */
export function missedBroadcast(
  job: Pick<JobRecord, 'expected_digest'>,
  expected: readonly string[] | null,
  self: Self,
): boolean {
  return (
    job.expected_digest !== undefined &&
    expected !== null &&
    expectedDigest(expected) === job.expected_digest &&
    !expected.includes(self.hostname)
  );
}

/** Whether a job that is signed for a broadcast needs the expected hosts to be checked. */
export function needsExpectedHosts(job: Pick<JobRecord, 'target_hostname'>): boolean {
  try {
    return isBroadcast(parseTarget(job.target_hostname));
  } catch {
    return false;
  }
}

function sameTarget(a: RouteTarget, b: Target): boolean {
  if (b.kind === 'fact') return sameTarget(a, routeOf(b));
  if (a.kind !== b.kind) return false;
  if (a.kind === 'host' && b.kind === 'host') return a.hostname === b.hostname;
  if (a.kind === 'label' && b.kind === 'label') return a.key === b.key && a.value === b.value;
  return true;
}
