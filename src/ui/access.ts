// What the signed-in token may do, as the console offers it: each page and
// action names the permissions it needs (the same ones the API's routes
// declare), and what is not allowed is hidden or disabled with the reason.
import {
  isOperationType,
  type OperationType,
  operationPermission,
} from '../contract/operations.js';
import type { Permission } from '../contract/permissions.js';

export type PageId = 'fleet' | 'run' | 'jobs' | 'audit';

export interface PageInfo {
  id: PageId;
  title: string;
  /** Every one is needed: Run reads the job it starts, so it needs job:read too. */
  needs: readonly Permission[];
}

export const PAGES: readonly PageInfo[] = [
  { id: 'fleet', title: 'Fleet', needs: ['agent:read'] },
  { id: 'run', title: 'Run', needs: ['command:execute', 'job:read'] },
  { id: 'jobs', title: 'Jobs', needs: ['job:read'] },
  { id: 'audit', title: 'Audit', needs: ['audit:read'] },
];

/** The permissions in `needs` that `granted` lacks, in the order asked. */
export function lacking(granted: readonly string[], needs: readonly Permission[]): Permission[] {
  return needs.filter((p) => !granted.includes(p));
}

/** Why something is not offered: "needs command:execute, which this token does not grant". */
export function whyNot(missing: readonly Permission[]): string {
  if (missing.length === 0) return '';
  const list = missing.join(' and ');
  return `needs ${list}, which this token does not grant`;
}

export function allowedPages(granted: readonly string[]): PageInfo[] {
  return PAGES.filter((p) => lacking(granted, p.needs).length === 0);
}

/** Retrying makes a new job: job:write, and the permission of the operation's own route. */
export function retryNeeds(type: string): Permission[] {
  return isOperationType(type) ? ['job:write', operationPermission(type)] : ['job:write'];
}

/** Accepting, rejecting, draining and undraining agents. */
export const AGENT_WRITE_NEEDS: readonly Permission[] = ['agent:write'];

/** Cancel stops commands on hosts: the command routes' permission. */
export const CANCEL_NEEDS: readonly Permission[] = ['command:execute'];

export type { OperationType, Permission };
