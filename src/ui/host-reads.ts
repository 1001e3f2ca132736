// The read operations a host's page offers on demand (services, packages,
// users), keyed by operation name: each is shown only when it is declared,
// so a domain added later appears here without a change. Pure: no DOM.
import {
  isOperationType,
  OPERATIONS,
  type OperationDeclaration,
  type OperationType,
} from '../contract/operations.js';
import type { FieldSchema } from './operation-form.js';

export interface HostRead {
  type: OperationType;
  /** The section's heading: Services. */
  title: string;
  decl: OperationDeclaration;
  /** The result's list: `services`, `packages`, `users`. */
  listField: string;
  /** The list items' fields, as its schema declares them ([] when it does not). */
  columns: string[];
}

/** The sections in the order the page shows them. */
export const HOST_READ_SECTIONS: ReadonlyArray<{ type: string; title: string }> = [
  { type: 'service.list', title: 'Services' },
  { type: 'package.list', title: 'Packages' },
  { type: 'user.list', title: 'Users' },
];

/** The first list in a result schema, and its items' fields. */
function listOf(decl: OperationDeclaration): { field: string; columns: string[] } | null {
  for (const [field, schema] of Object.entries(
    decl.result.properties as Record<string, FieldSchema>,
  )) {
    if (schema.type === 'array') {
      return { field, columns: Object.keys(schema.items?.properties ?? {}) };
    }
  }
  return null;
}

/** The sections whose operation is declared and answers a list. */
export function hostReads(
  sections: ReadonlyArray<{ type: string; title: string }> = HOST_READ_SECTIONS,
): HostRead[] {
  const out: HostRead[] = [];
  for (const { type, title } of sections) {
    if (!isOperationType(type)) continue;
    const decl: OperationDeclaration = OPERATIONS[type];
    const list = listOf(decl);
    if (list) out.push({ type, title, decl, listField: list.field, columns: list.columns });
  }
  return out;
}

/** Every word of `filter` is in one of the row's values (case aside). */
export function rowMatches(row: unknown, filter: string): boolean {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const values =
    row && typeof row === 'object'
      ? Object.values(row as Record<string, unknown>).map((v) =>
          typeof v === 'object' ? JSON.stringify(v) : String(v),
        )
      : [String(row)];
  const hay = values.map((v) => v.toLowerCase());
  return words.every((w) => hay.some((h) => h.includes(w)));
}
