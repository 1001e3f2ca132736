// What the signed-in token may do, as the console offers it: each page and
// action names the permissions it needs (the same ones the API's routes
// declare), and what is not allowed is hidden or disabled with the reason.
import {
  isOperationType,
  OPERATION_TYPES,
  OPERATIONS,
  type OperationDeclaration,
  type OperationType,
  operationPermission,
} from '../contract/operations.js';
import type { Permission } from '../contract/permissions.js';

export type PageId = 'fleet' | 'run' | 'operations' | 'jobs' | 'audit';

export interface PageInfo {
  id: PageId;
  title: string;
  /** Every one is needed: Run reads the job it starts, so it needs job:read too. */
  needs: readonly Permission[];
  /** One of these at least (beside `needs`): Operations is of use with any operation's permission. */
  needsOneOf?: readonly Permission[];
}

/**
 * What the Operations page offers: every declared operation but the
 * commands, which have the Run page (live output, Cancel).
 */
export function onOperationsPage(decl: OperationDeclaration): boolean {
  return decl.answer !== 'command';
}

/** The permissions of the operations on the Operations page, in declaration order. */
const OPERATION_PAGE_PERMISSIONS: readonly Permission[] = [
  ...new Set(
    OPERATION_TYPES.map((t): OperationDeclaration => OPERATIONS[t])
      .filter(onOperationsPage)
      .map((d) => d.permission),
  ),
];

export const PAGES: readonly PageInfo[] = [
  { id: 'fleet', title: 'Fleet', needs: ['agent:read'] },
  { id: 'run', title: 'Run', needs: ['command:execute', 'job:read'] },
  { id: 'operations', title: 'Operations', needs: [], needsOneOf: OPERATION_PAGE_PERMISSIONS },
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

/** Why a page is not offered to a token ('' when it is). */
export function pageWhyNot(granted: readonly string[], page: PageInfo): string {
  const missing = lacking(granted, page.needs);
  if (missing.length > 0) return whyNot(missing);
  const any = page.needsOneOf ?? [];
  if (any.length > 0 && lacking(granted, any).length === any.length) {
    return `needs one of ${any.join(', ')}, which this token does not grant`;
  }
  return '';
}

export function allowedPages(granted: readonly string[]): PageInfo[] {
  return PAGES.filter((p) => pageWhyNot(granted, p) === '');
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
