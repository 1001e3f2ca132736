// The order an agent lists names in (interfaces, fact sources, services).

/**
 * By their characters, as `LC_ALL=C ls` lists them, not by locale: the order
 * does not depend on the host's settings, and no collator is loaded (about
 * 3 MB of ICU data in every agent).
 */
export function inNameOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
