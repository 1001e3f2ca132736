// Tables for people of the package answers: a row per package (or update) of
// each host, and the hosts that could not answer with their error (--json
// has everything).
import { humanBytes } from '../format/units.js';
import type { PackageListResponse, PackageUpdatesResponse } from '../sdk/client.js';
import { perItem, shorten } from './output.js';

/** `package list` and `package get`: a row per package of each host. */
export function packagesTable(body: PackageListResponse): string {
  return perItem(
    body,
    ['NAME', 'VERSION', 'ARCH', 'STATUS', 'SIZE', 'DESCRIPTION'],
    (r) => r.packages,
    (p) => [
      p.name,
      shorten(p.version, 40),
      p.architecture,
      p.status,
      p.size === undefined ? '' : humanBytes(p.size),
      shorten(p.description),
    ],
  );
}

/** `package updates`: a row per package with a newer version, on each host. */
export function updatesTable(body: PackageUpdatesResponse): string {
  return perItem(
    body,
    ['NAME', 'ARCH', 'CURRENT', 'NEW'],
    (r) => r.updates,
    (u) => [u.name, u.architecture, shorten(u.current_version, 40), shorten(u.new_version, 40)],
  );
}
