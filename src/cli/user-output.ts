// Tables for people of the users', groups' and SSH keys' reads: a row per
// user, group or key of each host, and the hosts that could not answer with
// their error below (--json has everything).
import Table from 'cli-table3';
import type { OperationAnswerBody } from '../contract/answers.js';
import type { OperationAnswer } from '../contract/operations.js';
import { escapeLine } from './escape.js';
import { row, shorten } from './output.js';

type Result = OperationAnswerBody['results'][number];

function newTable(head: string[]): Table.Table {
  return new Table({ head, style: { head: [], border: [] }, wordWrap: false });
}

/** A row per item of each host that answered, then a table of those that did not. */
function perItem<R extends Result, I>(
  body: { job_id: string; results: R[] },
  head: string[],
  items: (r: R) => I[] | undefined,
  cells: (item: I) => string[],
): string {
  const t = newTable(['HOSTNAME', ...head]);
  for (const r of body.results) {
    for (const item of items(r) ?? []) t.push(row([r.hostname, ...cells(item)]));
  }
  const failed = body.results.filter((r) => r.status !== 'ok');
  let problems = '';
  if (failed.length > 0) {
    const p = newTable(['HOSTNAME', 'STATUS', 'ERROR']);
    for (const r of failed) p.push(row([r.hostname, r.status, shorten(r.error ?? '')]));
    problems = `${p.toString()}\n`;
  }
  return `Job ID: ${escapeLine(body.job_id)}\n${t.length > 0 ? `${t.toString()}\n` : ''}${problems}`;
}

type Users = OperationAnswer<'user.list'>;
type Groups = OperationAnswer<'group.list'>;
type Keys = OperationAnswer<'user.sshkey.list'>;

/** `user list` and `user get`: LOCKED is blank where the agent could not read /etc/shadow. */
export function usersTable(body: Users): string {
  return perItem(
    body,
    ['NAME', 'UID', 'GID', 'HOME', 'SHELL', 'GROUPS', 'LOCKED'],
    (r) => r.users,
    (u) => [
      u.name,
      String(u.uid),
      String(u.gid),
      shorten(u.home, 40),
      u.shell,
      shorten(u.groups.join(',')),
      u.locked === undefined ? '' : String(u.locked),
    ],
  );
}

export function groupsTable(body: Groups): string {
  return perItem(
    body,
    ['NAME', 'GID', 'MEMBERS'],
    (r) => r.groups,
    (g) => [g.name, String(g.gid), shorten(g.members.join(','))],
  );
}

export function sshKeysTable(body: Keys): string {
  return perItem(
    body,
    ['TYPE', 'FINGERPRINT', 'COMMENT'],
    (r) => r.keys,
    (k) => [k.type, k.fingerprint, shorten(k.comment, 40)],
  );
}
