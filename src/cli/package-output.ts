// Tables for people of the package answers: a row per package (or update) of
// each host, and the hosts that could not answer with their error (--json
// has everything).
import Table from 'cli-table3';
import { humanBytes } from '../format/units.js';
import type { PackageListResponse, PackageUpdatesResponse } from '../sdk/client.js';
import { escapeLine } from './escape.js';
import { row, shorten } from './output.js';

interface Item {
  hostname: string;
  status: string;
  error?: string;
}

function newTable(head: string[]): Table.Table {
  return new Table({ head, style: { head: [], border: [] }, wordWrap: false });
}

/** The hosts that did not answer `ok`, with why; '' when every host did. */
function problems(results: readonly Item[]): string {
  const failed = results.filter((r) => r.status !== 'ok');
  if (failed.length === 0) return '';
  const t = newTable(['HOSTNAME', 'STATUS', 'ERROR']);
  for (const r of failed) t.push(row([r.hostname, r.status, shorten(r.error ?? '')]));
  return `${t.toString()}\n`;
}

/** `package list` and `package get`: a row per package of each host. */
export function packagesTable(body: PackageListResponse): string {
  const t = newTable(['HOSTNAME', 'NAME', 'VERSION', 'ARCH', 'STATUS', 'SIZE', 'DESCRIPTION']);
  for (const r of body.results) {
    for (const p of r.packages ?? []) {
      t.push(
        row([
          r.hostname,
          p.name,
          shorten(p.version, 40),
          p.architecture,
          p.status,
          p.size === undefined ? '' : humanBytes(p.size),
          shorten(p.description),
        ]),
      );
    }
  }
  const packages = t.length > 0 ? `${t.toString()}\n` : '';
  return `Job ID: ${escapeLine(body.job_id)}\n${packages}${problems(body.results)}`;
}

/** `package updates`: a row per package with a newer version, on each host. */
export function updatesTable(body: PackageUpdatesResponse): string {
  const t = newTable(['HOSTNAME', 'NAME', 'ARCH', 'CURRENT', 'NEW']);
  for (const r of body.results) {
    for (const u of r.updates ?? []) {
      t.push(
        row([
          r.hostname,
          u.name,
          u.architecture,
          shorten(u.current_version, 40),
          shorten(u.new_version, 40),
        ]),
      );
    }
  }
  const updates = t.length > 0 ? `${t.toString()}\n` : '';
  return `Job ID: ${escapeLine(body.job_id)}\n${updates}${problems(body.results)}`;
}
