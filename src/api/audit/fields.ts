// The text an audit entry records besides its path (path.ts), bounded. A
// request's body is the client's to choose: a command's `args` may fill the
// 1 MiB body, its `command` be 64 KiB, and a body refused by validation may
// hold anything where `user` or `env` go. An entry that kept them whole would
// let any token holder fill the audit bucket with a few dozen requests, each
// refused. So each text is cut to 1 KiB and each list (args, env names,
// roles) to 4 KiB in all, and the entry says where and how much it cut, in the
// path's style: ` [cut: <length> bytes]` after a text, and an element
// `[cut: <count> more, <length> bytes]` after a list's last element kept.
//
// A client can write a text that looks like a marker into its own arguments;
// that only makes its entry look cut when it was not. A marker the API adds
// is always last, so no client can make a cut entry look whole.

import type { AuditEntry } from '../../contract/audit.js';
import { cutMarker, prefixWithin } from './path.js';

/** Most bytes (UTF-8) of one text field or list element, marker included. */
export const AUDIT_FIELD_MAX_BYTES = 1024;

/**
 * Most bytes of a whole list, counting each element's UTF-8 bytes plus one
 * (the space between arguments), so that many empty elements are bounded too.
 */
export const AUDIT_LIST_MAX_BYTES = 4096;

/** Room kept at the end of a cut list for its marker element (at most 53 bytes with two 16-digit numbers). */
const LIST_MARKER_ROOM = 64;

/** The element that ends a cut list: how many elements were left out, and their length. */
export function listCutMarker(more: number, bytes: number): string {
  return `[cut: ${more} more, ${bytes} bytes]`;
}

/** `text` within `maxBytes` bytes of UTF-8: as it is, or cut and marked with its length. */
export function recordedText(text: string, maxBytes = AUDIT_FIELD_MAX_BYTES): string {
  const bytes = Buffer.byteLength(text);
  if (bytes <= maxBytes) return text;
  const marker = cutMarker(bytes);
  return prefixWithin(text, maxBytes - Buffer.byteLength(marker)) + marker;
}

/** Each element within AUDIT_FIELD_MAX_BYTES and the list within AUDIT_LIST_MAX_BYTES, marked where cut. */
export function recordedList(items: readonly string[]): string[] {
  const cost = (s: string) => Buffer.byteLength(s) + 1;
  const kept = items.map((item) => recordedText(item));
  let total = 0;
  for (const item of kept) total += cost(item);
  if (total <= AUDIT_LIST_MAX_BYTES) return kept;
  const out: string[] = [];
  let used = 0;
  for (const item of kept) {
    if (used + cost(item) > AUDIT_LIST_MAX_BYTES - LIST_MARKER_ROOM) break;
    out.push(item);
    used += cost(item);
  }
  let leftBytes = 0;
  for (const item of items.slice(out.length)) leftBytes += Buffer.byteLength(item);
  out.push(listCutMarker(items.length - out.length, leftBytes));
  return out;
}

/**
 * The entry as it is stored: every text and list within its bound. Bounded
 * texts are left as they are, so bounding an entry twice changes nothing.
 */
export function boundedEntry(entry: AuditEntry): AuditEntry {
  const { target, command, args, run_as, env_names, request_id } = entry;
  return {
    ...entry,
    user: recordedText(entry.user),
    roles: recordedList(entry.roles),
    method: recordedText(entry.method),
    path: recordedText(entry.path),
    operation_id: recordedText(entry.operation_id),
    source_ip: recordedText(entry.source_ip),
    ...(target !== undefined ? { target: recordedText(target) } : {}),
    ...(command !== undefined ? { command: recordedText(command) } : {}),
    ...(args !== undefined ? { args: recordedList(args) } : {}),
    ...(run_as !== undefined ? { run_as: recordedText(run_as) } : {}),
    ...(env_names !== undefined ? { env_names: recordedList(env_names) } : {}),
    ...(request_id !== undefined ? { request_id: recordedText(request_id) } : {}),
  };
}
