// Users, groups and SSH authorized keys (wire contract): the schema of each
// operation's data and of what an agent answers. Names, paths and keys carry
// no pattern here: their rules are checked in src/job/user-checks.ts, by the
// API (a 400 naming the field and saying what is expected) and again by the
// agent, after it has put its own values in place of any `@fact.` reference.
//
// A password never travels: the API turns `password` into `password_hash`
// (SHA-512 crypt, password-hash.ts) before the job is made, so the job's data
// holds the hash only.
import { type Static, type TProperties, Type } from 'typebox';
import { HASHED_PASSWORD_MAX_BYTES, hashPassword, PASSWORD_HASH_PATTERN } from './password-hash.js';

/** A login or group name as shadow-utils takes it by default; never starting with '-'. */
export const ACCOUNT_NAME_PATTERN = '^[a-z_][a-z0-9_-]{0,31}$';
export const ACCOUNT_NAME_EXPECTED =
  'must be 1 to 32 of a-z, 0-9, _ and -, starting with a letter or _ (e.g. deploy)';
/** Above this some tools read an id as a negative number; 2^32-1 means "no id" to the kernel. */
export const ACCOUNT_ID_MAX = 2147483646;
/** Most supplementary groups one request may give a user. */
export const USER_GROUPS_MAX = 64;
/** Most members one request may give a group. */
export const GROUP_MEMBERS_MAX = 1024;
/** Longest home or shell path taken. */
export const ACCOUNT_PATH_MAX = 1024;
/**
 * Longest password taken, in characters (the schema's bound) and in UTF-8
 * bytes (checked in data-checks.ts): what a host's crypt(3) takes.
 */
export const PASSWORD_MAX = HASHED_PASSWORD_MAX_BYTES;
/** Longest authorized_keys line taken: an RSA key of 16384 bits is under 3 KiB. */
export const SSH_KEY_MAX = 16384;
export const SSH_FINGERPRINT_PATTERN = '^SHA256:[A-Za-z0-9+/]{43}$';
export const SSH_FINGERPRINT_EXPECTED =
  'must be a SHA-256 fingerprint as ssh-keygen -l prints it: SHA256: and 43 base64 characters';

// Loose bounds only: the rules are in user-checks.ts (a fact reference may stand in a field).
const NAME_FIELD_MAX = 256;

const UserName = Type.String({
  minLength: 1,
  maxLength: NAME_FIELD_MAX,
  description:
    'The login name: 1 to 32 of a-z, 0-9, _ and -, starting with a letter or _ (^[a-z_][a-z0-9_-]{0,31}$).',
});
const GroupName = Type.String({
  minLength: 1,
  maxLength: NAME_FIELD_MAX,
  description:
    'The group name: 1 to 32 of a-z, 0-9, _ and -, starting with a letter or _ (^[a-z_][a-z0-9_-]{0,31}$).',
});
const AccountId = (what: string) =>
  Type.Integer({ minimum: 0, maximum: ACCOUNT_ID_MAX, description: what });
const Home = Type.String({
  minLength: 1,
  maxLength: ACCOUNT_PATH_MAX,
  description:
    'The home directory: an absolute path without ., .. or empty parts, trailing /, colon or control characters.',
});
const NewHome = Type.String({
  minLength: 1,
  maxLength: ACCOUNT_PATH_MAX,
  description:
    "The new home directory, rules as for create; the old home's files are moved there (usermod -d -m), so the path must not exist yet.",
});
const Shell = Type.String({
  minLength: 1,
  maxLength: ACCOUNT_PATH_MAX,
  description:
    "The login shell: an absolute path to an executable listed in the host's /etc/shells, or a nologin or false that refuses logins.",
});
const Groups = Type.Array(Type.String({ maxLength: NAME_FIELD_MAX }), {
  maxItems: USER_GROUPS_MAX,
  description: `Supplementary groups by name, each existing on the host (at most ${USER_GROUPS_MAX}); [] leaves the user in none.`,
});
const Password = Type.String({
  minLength: 1,
  maxLength: PASSWORD_MAX,
  pattern: '^[^\\u0000]*$',
  writeOnly: true,
  description: `The new password: 1 to ${PASSWORD_MAX} bytes in UTF-8 (as many ASCII characters, fewer of others; the longest a host's crypt(3) takes), no NUL, taken as written (\`@fact.\` in it is text). The API stores and sends only its SHA-512 crypt hash; it is never recorded, logged or echoed.`,
});
const PasswordHash = Type.String({
  pattern: PASSWORD_HASH_PATTERN,
  description: "The password's SHA-512 crypt hash, made by the API from `password`.",
});

const closed = <P extends TProperties>(props: P, extra: Record<string, unknown> = {}) =>
  Type.Object(props, { additionalProperties: false, ...extra });

// ---- job data ------------------------------------------------------------

export const UserNameData = closed({ name: UserName });
export type UserNameData = Static<typeof UserNameData>;

const UserCreateFields = {
  name: UserName,
  uid: Type.Optional(AccountId('The user id; absent: the next free one.')),
  gid: Type.Optional(
    AccountId(
      'The primary group by id, which must exist; absent: a new group of the same name as the user.',
    ),
  ),
  home: Type.Optional(Home),
  shell: Type.Optional(Shell),
  groups: Type.Optional(Groups),
  system: Type.Optional(
    Type.Boolean({
      description: 'A system account (useradd -r): an id from the system range, and no home made.',
    }),
  ),
};

export const UserCreateRequest = closed(
  { ...UserCreateFields, password: Type.Optional(Password) },
  {
    examples: [
      { name: 'deploy', shell: '/bin/bash', groups: ['adm'] },
      { name: 'svc_backup', system: true, shell: '/usr/sbin/nologin' },
    ],
  },
);
export const UserCreateData = closed({
  ...UserCreateFields,
  password_hash: Type.Optional(PasswordHash),
});
export type UserCreateData = Static<typeof UserCreateData>;

export const UserUpdateData = closed(
  {
    name: UserName,
    shell: Type.Optional(Shell),
    home: Type.Optional(NewHome),
    groups: Type.Optional(Groups),
    lock: Type.Optional(
      Type.Boolean({
        description:
          "true: lock the password (usermod -L, a '!' before the hash); false: unlock it (usermod -U).",
      }),
    ),
  },
  {
    description: 'At least one of shell, home, groups and lock.',
    examples: [
      { name: 'deploy', shell: '/bin/bash', groups: ['adm', 'sudo'] },
      { name: 'deploy', lock: true },
    ],
  },
);
export type UserUpdateData = Static<typeof UserUpdateData>;

export const UserPasswordRequest = closed({ name: UserName, password: Password });
export const UserPasswordData = closed({ name: UserName, password_hash: PasswordHash });
export type UserPasswordData = Static<typeof UserPasswordData>;

export const SshKeyAddData = closed(
  {
    name: UserName,
    key: Type.String({
      minLength: 1,
      maxLength: SSH_KEY_MAX,
      description:
        'One public key as `ssh-keygen` writes it: `<type> <base64> [comment]`, type one of ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521, sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com. Options before the type are not taken.',
    }),
  },
  {
    examples: [
      {
        name: 'deploy',
        key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL98amT9+8fQcWZ1tXzl+quH3ab+/oo0qla6yNGrRrpd ops@example',
      },
    ],
  },
);
export type SshKeyAddData = Static<typeof SshKeyAddData>;

export const SshKeyRemoveData = closed({
  name: UserName,
  fingerprint: Type.String({
    maxLength: 64,
    description:
      "The key's SHA-256 fingerprint as `ssh-keygen -l` prints it: SHA256: and 43 base64 characters. In the path it is URL-encoded (/ as %2F, + as %2B).",
  }),
});
export type SshKeyRemoveData = Static<typeof SshKeyRemoveData>;

export const GroupNameData = closed({ name: GroupName });
export type GroupNameData = Static<typeof GroupNameData>;

export const GroupCreateData = closed(
  {
    name: GroupName,
    gid: Type.Optional(AccountId('The group id; absent: the next free one.')),
    system: Type.Optional(
      Type.Boolean({ description: 'A system group (groupadd -r): an id from the system range.' }),
    ),
  },
  { examples: [{ name: 'deployers' }, { name: 'metrics', system: true }] },
);
export type GroupCreateData = Static<typeof GroupCreateData>;

export const GroupUpdateData = closed(
  {
    name: GroupName,
    members: Type.Array(Type.String({ maxLength: NAME_FIELD_MAX }), {
      maxItems: GROUP_MEMBERS_MAX,
      description: `Every member the group is to have, by user name, each existing on the host (at most ${GROUP_MEMBERS_MAX}); [] empties it. Members it has beyond these are taken out.`,
    }),
  },
  {
    examples: [
      { name: 'deployers', members: ['alice', 'bob'] },
      { name: 'deployers', members: [] },
    ],
  },
);
export type GroupUpdateData = Static<typeof GroupUpdateData>;

/** The API's step from a request to the job's data: rate control out, a password hashed. */
function withoutRollout<T extends Record<string, unknown>>(input: T): Record<string, unknown> {
  const { max_concurrency: _c, max_errors: _e, ...rest } = input;
  return rest;
}

export function userCreateData(input: Static<typeof UserCreateRequest>): UserCreateData {
  const { password, ...rest } = withoutRollout(input) as Static<typeof UserCreateRequest>;
  return {
    ...rest,
    ...(typeof password === 'string' ? { password_hash: hashPassword(password) } : {}),
  };
}

export function userPasswordData(input: Static<typeof UserPasswordRequest>): UserPasswordData {
  const { password, ...rest } = withoutRollout(input) as Static<typeof UserPasswordRequest>;
  // A request without a password is refused by its schema before this data is used.
  return { ...rest, password_hash: hashPassword(typeof password === 'string' ? password : '') };
}

// ---- what an agent answers -------------------------------------------------

export const UserInfo = Type.Object(
  {
    name: Type.String(),
    uid: Type.Integer(),
    gid: Type.Integer({ description: 'The primary group id.' }),
    home: Type.String(),
    shell: Type.String(),
    groups: Type.Array(Type.String(), {
      description: 'Supplementary groups: those of /etc/group that list the user as a member.',
    }),
    locked: Type.Optional(
      Type.Boolean({
        description:
          "Whether the password field in /etc/shadow starts with '!' (locked, or no password set yet); absent when the agent cannot read /etc/shadow.",
      }),
    ),
  },
  { description: 'A user account of the host, from /etc/passwd, /etc/group and /etc/shadow.' },
);
export type UserInfo = Static<typeof UserInfo>;

export const UserListResult = Type.Object({ users: Type.Array(UserInfo) });
export const UserMutationResult = Type.Object({
  name: Type.String(),
  changed: Type.Boolean({
    description: 'False when the host already was as asked: nothing was run.',
  }),
});

export const GroupInfo = Type.Object(
  {
    name: Type.String(),
    gid: Type.Integer(),
    members: Type.Array(Type.String(), {
      description: 'The members /etc/group lists (not the users whose primary group it is).',
    }),
  },
  { description: 'A group of the host, from /etc/group.' },
);
export type GroupInfo = Static<typeof GroupInfo>;

export const GroupListResult = Type.Object({ groups: Type.Array(GroupInfo) });
export const GroupMutationResult = UserMutationResult;

export const SshKeyInfo = Type.Object(
  {
    type: Type.String({ description: 'The key type, e.g. ssh-ed25519.' }),
    fingerprint: Type.String({ description: 'SHA256:<base64>, as ssh-keygen -l prints it.' }),
    comment: Type.String({ description: "The text after the key; '' when there is none." }),
  },
  { description: "A key of the user's ~/.ssh/authorized_keys." },
);
export type SshKeyInfo = Static<typeof SshKeyInfo>;

export const SshKeyListResult = Type.Object({ keys: Type.Array(SshKeyInfo) });
export const SshKeyMutationResult = Type.Object({
  changed: Type.Boolean({
    description: 'False when the file already was as asked: nothing was written.',
  }),
  fingerprint: Type.String({ description: 'The fingerprint of the key added or removed.' }),
});
