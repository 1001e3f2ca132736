// Tells system-call failures (which describe the host or the command) from programming errors
// (which must reach the caller as a rejection).

export function isErrnoError(err: unknown): err is NodeJS.ErrnoException & { code: string } {
  return (
    err instanceof Error &&
    typeof (err as NodeJS.ErrnoException).errno === 'number' &&
    typeof (err as NodeJS.ErrnoException).code === 'string'
  );
}

export function hasErrnoCode(err: unknown, code: string): boolean {
  return isErrnoError(err) && err.code === code;
}

/** What an error says, for a sentence: its message, or the thrown value as text. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
