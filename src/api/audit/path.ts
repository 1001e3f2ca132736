// The path an audit entry records. A request target is the client's to choose:
// up to Node's 16 KiB header limit, and with a query string that may carry a
// credential (`?token=...`). So the entry keeps the path only, cut to a bound,
// and says so when it cut or left something out; never the query itself.
import { completeUtf8Length } from '../../exec/output-cap.js';

/** Most bytes (UTF-8) of the recorded path, markers included. */
export const AUDIT_PATH_MAX_BYTES = 1024;

/**
 * Added when the request had a query string, whose content is never recorded.
 * Markers start with a space, which a request target cannot hold, so no path
 * can pass for one.
 */
export const QUERY_OMITTED = ' [query omitted]';

/** Added where the path (or another text of the entry: fields.ts) was cut, with the length it had. */
export function cutMarker(originalBytes: number): string {
  return ` [cut: ${originalBytes} bytes]`;
}

/** The longest prefix of `s` within `maxBytes` bytes of UTF-8, never splitting a character. */
export function prefixWithin(s: string, maxBytes: number): string {
  const head = Buffer.from(s).subarray(0, Math.max(0, maxBytes));
  return head.subarray(0, completeUtf8Length(head)).toString();
}

/** What an audit entry records of a raw request target (`req.url`). */
export function recordedPath(rawUrl: string | undefined): string {
  const url = rawUrl ?? '';
  // A fragment is never sent by a browser, but a hostile client may; it is
  // no more the path than the query is.
  const end = url.search(/[?#]/);
  const path = end === -1 ? url : url.slice(0, end);
  const suffix = end === -1 ? '' : QUERY_OMITTED;
  const budget = AUDIT_PATH_MAX_BYTES - Buffer.byteLength(suffix);
  const bytes = Buffer.byteLength(path);
  if (bytes <= budget) return path + suffix;
  const marker = cutMarker(bytes);
  return prefixWithin(path, budget - Buffer.byteLength(marker)) + marker + suffix;
}
