// POST /file also takes `multipart/form-data` (as `curl -F name=motd -F
// file=@motd.tmpl -F content_type=template` sends it): the parts become the
// JSON body the route validates (`file` base64-encoded as `content`), so both
// forms meet one schema and one handler. Any other route refuses multipart
// with the 415 it gives every body that is not JSON.

/** The fields a form may carry; anything else is refused by the route's schema. */
export interface FormFields {
  [name: string]: string;
}

/** More parts than an upload has fields is not an upload. */
const MAX_PARTS = 8;

export class MultipartError extends Error {
  override name = 'MultipartError';
}

/** The boundary of a `multipart/form-data; boundary=...` content type. */
export function boundaryOf(contentType: string): string {
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) throw new MultipartError('multipart/form-data without a boundary');
  return boundary;
}

/** A part's `Content-Disposition: form-data; name="x"; filename="y"`. */
function dispositionName(headers: string): string {
  for (const line of headers.split('\r\n')) {
    const [key, ...rest] = line.split(':');
    if (key?.trim().toLowerCase() !== 'content-disposition') continue;
    const value = rest.join(':');
    const m = /;\s*name="([^"]*)"/i.exec(value) ?? /;\s*name=([^;\s]+)/i.exec(value);
    if (m?.[1] !== undefined) return m[1];
  }
  throw new MultipartError('a part without a Content-Disposition name');
}

/**
 * The form's parts by name: `file` base64-encoded as `content`, the others
 * as text. A field given twice is refused (one object per upload).
 */
export function formToUpload(body: Buffer, contentType: string): FormFields {
  const delimiter = Buffer.from(`--${boundaryOf(contentType)}`);
  const out: FormFields = Object.create(null);
  let at = body.indexOf(delimiter);
  if (at < 0) throw new MultipartError('the body holds no part');
  for (;;) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    if (body.subarray(start, start + 2).toString() !== '\r\n') {
      throw new MultipartError('a boundary not followed by CRLF');
    }
    // A boundary after the first is the line end and the delimiter together.
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), start);
    if (next < 0) throw new MultipartError('the last part has no closing boundary');
    const part = body.subarray(start + 2, next);
    const split = part.indexOf('\r\n\r\n');
    if (split < 0) throw new MultipartError('a part without headers');
    const name = dispositionName(part.subarray(0, split).toString('utf8'));
    const data = part.subarray(split + 4);
    const field = name === 'file' ? 'content' : name;
    if (field in out) throw new MultipartError(`the field ${name} is given twice`);
    if (Object.keys(out).length >= MAX_PARTS) {
      throw new MultipartError(
        `more than ${MAX_PARTS} parts; an upload has name, content_type and file`,
      );
    }
    out[field] = name === 'file' ? data.toString('base64') : data.toString('utf8');
    at = next + 2;
  }
  return out;
}
