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
