// The upload's own parsing: base64 checked without a pattern that recurses
// (a few MiB once overflowed the stack), and multipart forms read into the
// JSON body the route validates, malformed ones refused.
import { describe, expect, it } from 'vitest';
import { formToUpload, MultipartError } from '../../src/api/files/multipart.js';
import { isBase64 } from '../../src/api/files/routes.js';

const CT = 'multipart/form-data; boundary=XyZ';
const form = (...parts: string[]) =>
  Buffer.from(`${parts.map((p) => `--XyZ\r\n${p}\r\n`).join('')}--XyZ--\r\n`);

describe('base64', () => {
  it('takes padded base64 of any size, and nothing else', () => {
    expect(isBase64(Buffer.alloc(12 * 1024 * 1024, 7).toString('base64'))).toBe(true);
    expect(isBase64('aGk=')).toBe(true);
    expect(isBase64('')).toBe(true);
    for (const bad of ['aGk', 'a=Gk', 'aG k', 'aGk==', '****'])
      expect(isBase64(bad), bad).toBe(false);
  });
});

describe('multipart forms', () => {
  it('reads name, content_type and the file part, the file base64-encoded', () => {
    const body = form(
      'Content-Disposition: form-data; name="name"\r\n\r\nmotd',
      'Content-Disposition: form-data; name="content_type"\r\n\r\ntemplate',
      'Content-Disposition: form-data; name="file"; filename="m.tmpl"\r\nContent-Type: text/plain\r\n\r\nline one\r\nline two\r\n',
    );
    expect({ ...formToUpload(body, CT) }).toEqual({
      name: 'motd',
      content_type: 'template',
      content: Buffer.from('line one\r\nline two\r\n').toString('base64'),
    });
  });

  it('refuses forms it cannot read, naming why', () => {
    expect(() => formToUpload(Buffer.from('x'), 'multipart/form-data')).toThrow(/boundary/);
    expect(() => formToUpload(Buffer.from('no parts'), CT)).toThrow(MultipartError);
    expect(() =>
      formToUpload(Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\nv'), CT),
    ).toThrow(/closing boundary/);
    expect(() => formToUpload(form('Content-Type: text/plain\r\n\r\nv'), CT)).toThrow(
      /Content-Disposition/,
    );
    const twice = form(
      'Content-Disposition: form-data; name="name"\r\n\r\na',
      'Content-Disposition: form-data; name="name"\r\n\r\nb',
    );
    expect(() => formToUpload(twice, CT)).toThrow(/given twice/);
    const many = form(
      ...Array.from(
        { length: 20 },
        (_, i) => `Content-Disposition: form-data; name="f${i}"\r\n\r\nv`,
      ),
    );
    expect(() => formToUpload(many, CT)).toThrow(/more than 8 parts/);
  });
});
