import { describe, expect, it } from 'vitest';
import {
  completeUtf8Length,
  leadingContinuationBytes,
  OutputCap,
  omittedMarker,
} from '../../src/exec/output-cap.js';

function capOf(max: number, ...chunks: (string | Buffer)[]): OutputCap {
  const cap = new OutputCap(max);
  for (const chunk of chunks) cap.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return cap;
}

describe('OutputCap', () => {
  it('returns everything under the cap', () => {
    expect(capOf(10, 'abc', 'de').finish()).toEqual({ text: 'abcde', truncated: false, bytes: 5 });
  });

  it('returns everything at exactly the cap, across head and tail', () => {
    expect(capOf(10, 'abcdefgh', 'ij').finish()).toEqual({
      text: 'abcdefghij',
      truncated: false,
      bytes: 10,
    });
  });

  it('keeps the first and last halves and counts the middle', () => {
    const result = capOf(6, 'abcdefghij').finish();
    expect(result).toEqual({ text: `abc${omittedMarker(4)}hij`, truncated: true, bytes: 10 });
  });

  it('keeps the right tail when many small chunks wrap the ring', () => {
    const cap = new OutputCap(8);
    const written = Array.from({ length: 1000 }, (_, i) => String(i % 10)).join('');
    for (let i = 0; i < written.length; i += 3) cap.push(Buffer.from(written.slice(i, i + 3)));
    const result = cap.finish();
    expect(result.text).toBe(`0123${omittedMarker(992)}6789`);
    expect(result.bytes).toBe(1000);
  });

  it('keeps the tail of one chunk larger than the whole cap', () => {
    expect(capOf(4, 'ab', 'cdefghijklmnop').finish().text).toBe(`ab${omittedMarker(12)}op`);
  });

  it('with a zero cap only counts', () => {
    expect(capOf(0, 'abc').finish()).toEqual({ text: omittedMarker(3), truncated: true, bytes: 3 });
  });

  it('drops the pieces of characters cut at either edge instead of throwing', () => {
    // 'é' is two bytes: 3-byte halves each end inside a character, whose pieces are dropped.
    const result = capOf(6, 'ééééééé').finish();
    expect(result.text).toBe(`é${omittedMarker(10)}é`);
    expect(result.truncated).toBe(true);
    expect(result.bytes).toBe(14);
  });

  it('never holds more than the cap, whatever is written', () => {
    const cap = new OutputCap(1024);
    const chunk = Buffer.alloc(64 * 1024, 'a');
    for (let i = 0; i < 200; i++) cap.push(chunk);
    const result = cap.finish();
    expect(result.bytes).toBe(200 * 64 * 1024);
    expect(result.text.length).toBe(1024 + omittedMarker(200 * 64 * 1024 - 1024).length);
  });
});

describe('UTF-8 edges', () => {
  it('finds where the last complete character ends', () => {
    const euro = Buffer.from('€'); // 3 bytes
    expect(completeUtf8Length(Buffer.from('ab'))).toBe(2);
    expect(completeUtf8Length(Buffer.concat([Buffer.from('a'), euro]))).toBe(4);
    expect(completeUtf8Length(Buffer.concat([Buffer.from('a'), euro.subarray(0, 2)]))).toBe(1);
    expect(completeUtf8Length(Buffer.concat([Buffer.from('a'), euro.subarray(0, 1)]))).toBe(1);
    expect(completeUtf8Length(Buffer.alloc(0))).toBe(0);
  });

  it('counts the continuation bytes a tail starts with', () => {
    const euro = Buffer.from('€');
    expect(leadingContinuationBytes(euro.subarray(1))).toBe(2);
    expect(leadingContinuationBytes(euro)).toBe(0);
    expect(leadingContinuationBytes(Buffer.alloc(0))).toBe(0);
  });
});
