// A result must fit in one NATS message (the server's max_payload, 1 MiB by
// default), whatever the output caps say: stdout and stderr are each capped
// apart, and JSON escaping can grow them. A command result too large is cut
// further in the middle of its streams, as the runner's cap does, so
// the head and the tail stay and the result is always stored.
import { completeUtf8Length, leadingContinuationBytes, omittedMarker } from '../exec/output-cap.js';
import { CommandResult, type JobResponse } from './records.js';
import { validatorOf } from './schema-check.js';

/** Room for the message's headers and the KV subject, beside the body. */
const ENVELOPE_BYTES = 8192;

/** The most body bytes a result may have on a connection, from the server's max_payload. */
export function resultBudget(maxPayload: number | undefined): number {
  return Math.max(64 * 1024, (maxPayload ?? 1024 * 1024) - ENVELOPE_BYTES);
}

/** Drops `bytes` from the middle of `text`, on character boundaries, marking the cut. */
function cutMiddle(text: string, bytes: number): string {
  const all = Buffer.from(text, 'utf8');
  const keep = Math.max(0, all.length - bytes);
  const head = all.subarray(0, Math.floor(keep / 2));
  const tail = all.subarray(all.length - (keep - head.length));
  const shownHead = head.subarray(0, completeUtf8Length(head));
  const shownTail = tail.subarray(leadingContinuationBytes(tail));
  const omitted = all.length - shownHead.length - shownTail.length;
  return shownHead.toString('utf8') + omittedMarker(omitted) + shownTail.toString('utf8');
}

/** The JSON to store for a result, no larger than `maxBytes` when it is a command's. */
export function encodeResponse(r: JobResponse, maxBytes: number): string {
  let text = JSON.stringify(r);
  if (Buffer.byteLength(text) <= maxBytes || !validatorOf(CommandResult).Check(r.data)) return text;
  const data = r.data;
  let { stdout, stderr } = data;
  // Each pass cuts at least the excess; escapes can make one pass fall short.
  for (let pass = 0; pass < 4; pass++) {
    const excess = Buffer.byteLength(text) - maxBytes;
    if (excess <= 0) break;
    // Each stream gives up its share of the excess, by size: neither loses all of itself.
    const outBytes = Buffer.byteLength(stdout);
    const errBytes = Buffer.byteLength(stderr);
    const cut = excess + 512;
    const fromOut = Math.ceil((cut * outBytes) / (outBytes + errBytes));
    if (fromOut > 0) stdout = cutMiddle(stdout, fromOut);
    if (cut - fromOut > 0) stderr = cutMiddle(stderr, cut - fromOut);
    text = JSON.stringify({
      ...r,
      data: {
        ...data,
        stdout,
        stderr,
        stdout_truncated: data.stdout_truncated || stdout !== data.stdout,
        stderr_truncated: data.stderr_truncated || stderr !== data.stderr,
      },
    });
  }
  return text;
}
