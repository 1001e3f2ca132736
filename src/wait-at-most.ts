// Waiting for something that may not come (a server that is gone, a late
// answer), bounded: a shutdown, a flush or a start-up must still end.

/**
 * Resolves true once `p` resolves, or false after `ms` if it has not (the
 * timer is then cleared, so it keeps nothing alive). A rejection of `p`
 * within the time passes through.
 */
export async function waitAtMost(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** What `p` resolves to, or undefined when it has not within `ms`. */
export async function valueWithin<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let value: T | undefined;
  await waitAtMost(
    p.then((v) => {
      value = v;
    }),
    ms,
  );
  return value;
}

/**
 * Resolves true once `check()` holds (looked at every `everyMs`), or false
 * after `ms`: for a state another process writes and this one's view shows
 * a moment later.
 */
export async function pollUntil(check: () => boolean, ms: number, everyMs = 10): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (check()) return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
