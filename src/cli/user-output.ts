// Tables for people of the users', groups' and SSH keys' reads: a row per
// user, group or key of each host, and the hosts that could not answer with
// their error below (--json has everything).
import type { OperationAnswer } from '../contract/operations.js';
import { perItem, shorten } from './output.js';

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
