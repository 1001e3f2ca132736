// Text from the API shown on a terminal: agents write the registry and the
// results, so a hostname, a label or a command's output may hold escape
// sequences that move the cursor, rewrite lines already printed (a forged
// "0 failed"), retitle the window, or, on some terminals, answer back into
// the input. What people read is escaped here; --json output is not (JSON
// escapes C0 controls itself, and a program reads it).
//
// Escaped: the C0 controls (U+0000..U+001F), DEL, the C1 controls
// (U+0080..U+009F, among them the one-character CSI), the line and paragraph
// separators (U+2028, U+2029) and the bidirectional overrides and isolates
// (U+202A..U+202E, U+2066..U+2069), which reorder what is shown.

function isUnsafe(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x2028 ||
    code === 0x2029 ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

const NAMED: Record<number, string> = { 9: '\\t', 10: '\\n', 13: '\\r', 27: '\\e' };

function escapeCode(code: number): string {
  const named = NAMED[code];
  if (named) return named;
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

function escapeWith(text: string, keep: (code: number) => boolean): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (!isUnsafe(code) || keep(code)) continue;
    out += text.slice(from, i) + escapeCode(code);
    from = i + 1;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** For a table cell or any one-line field: every control escaped, newline and tab too. */
export function escapeLine(text: string): string {
  return escapeWith(text, () => false);
}

/** For a table cell that shows several lines of output: newlines kept, everything else escaped. */
export function escapeCell(text: string): string {
  return escapeWith(text.replaceAll('\r\n', '\n'), (c) => c === 0x0a);
}

/**
 * For output printed as a block of lines (`--group`, `--follow`): newlines
 * and tabs kept, as the program printed them; everything else escaped,
 * carriage returns included (one could make a line print over another).
 */
export function escapeText(text: string): string {
  // A CRLF ends a line as a newline does; only a carriage return on its own is shown.
  return escapeWith(text.replaceAll('\r\n', '\n'), (c) => c === 0x0a || c === 0x09);
}
