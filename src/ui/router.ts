// The console's places, kept in the URL's fragment (#/jobs?status=failed) so
// the server serves one page, the browser's back button works, and a place
// can be bookmarked or shared. Pure: parses and builds, touches nothing.
import type { PageId } from './access.js';

export type Route =
  | { page: PageId; params: URLSearchParams }
  | { page: 'job'; id: string; params: URLSearchParams }
  | { page: 'host'; hostname: string; params: URLSearchParams }
  | { page: 'home'; params: URLSearchParams };

/** `#/jobs/ID?x=1` → the route (`#/fleet/HOST` is one host); anything unknown is home. */
export function parseRoute(hash: string): Route {
  const text = hash.replace(/^#\/?/, '');
  const q = text.indexOf('?');
  const path = q < 0 ? text : text.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : text.slice(q + 1));
  const [first = '', second] = path.split('/').map((s) => decodeURIComponent(s));
  if (first === 'jobs' && second) return { page: 'job', id: second, params };
  if (first === 'fleet' && second) return { page: 'host', hostname: second, params };
  if (
    first === 'fleet' ||
    first === 'run' ||
    first === 'operations' ||
    first === 'jobs' ||
    first === 'audit'
  ) {
    return { page: first, params };
  }
  return { page: 'home', params };
}

/** The fragment for a page (`id`: a job's id, a host's name), with query parameters left out when empty. */
export function href(
  page: PageId | 'job' | 'host',
  opts: { id?: string; params?: Record<string, string | number | undefined> } = {},
): string {
  const path =
    page === 'job'
      ? `jobs/${encodeURIComponent(opts.id ?? '')}`
      : page === 'host'
        ? `fleet/${encodeURIComponent(opts.id ?? '')}`
        : page;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(opts.params ?? {})) {
    if (v !== undefined && v !== '') params.set(k, String(v));
  }
  const qs = params.toString();
  return `#/${path}${qs ? `?${qs}` : ''}`;
}

/** A one-time login code in the fragment: `#login=CODE`, what `osapi ui` prints. */
export function loginCodeIn(hash: string): string | null {
  const m = /^#login=([A-Za-z0-9_-]{1,128})$/.exec(hash);
  return m?.[1] ?? null;
}
