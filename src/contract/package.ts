// Package operations (wire contract): the data each one takes and what an
// agent answers, for hosts managed by dpkg (and apt where it is installed).
// Their declarations (operations.ts) name these schemas; the API validates
// requests with them and the agent checks the job it reads with the same ones.
import { type Static, Type } from 'typebox';

/**
 * Debian policy: lower-case letters, digits, `+`, `-` and `.`, at least two,
 * starting alphanumeric; and not ending in `-`, which apt-get reads as
 * "remove" (`apt-get install tzdata-` removes tzdata) when no package has the
 * whole name. No package of Debian's ends in `-`. A trailing `+` (apt's
 * "install") stays: g++ and vera++ are real names, and the agent checks with
 * apt's simulation that it installs the package named, not another.
 */
export const PACKAGE_NAME_PATTERN = '^[a-z0-9][a-z0-9+.-]*[a-z0-9+.]$';
/**
 * A Debian version's characters (epoch `:`, revision `-`, `~` before
 * releases), not starting with `-` (an option) nor ending in it: apt reads
 * `NAME=VERSION-` as "remove NAME", and dpkg has no version ending in `-`
 * (its revision would be empty).
 */
export const PACKAGE_VERSION_PATTERN = '^[A-Za-z0-9.+~:]([A-Za-z0-9.+~:-]*[A-Za-z0-9.+~:])?$';

export const PACKAGE_NAME_EXPECTED =
  "must be a Debian package name: lower-case letters, digits, '+', '-' and '.', starting with a letter or digit and not ending in '-' (apt reads a trailing '-' as \"remove\") (e.g. curl)";
export const PACKAGE_VERSION_EXPECTED =
  "must be a Debian version: letters, digits, '.', '+', '~', ':' and '-', not starting or ending with '-' (apt reads a trailing '-' as \"remove\") (e.g. 1.2.3-1)";
export const DEB_PATH_EXPECTED =
  'must be the absolute path of a .deb file on the host, without . or .. segments (e.g. /var/cache/osapi/tool.deb)';

/** How long an install, a removal or a sources update may take by default, and at most. */
export const PACKAGE_CHANGE_TIMEOUT_DEFAULT_S = 300;
export const PACKAGE_CHANGE_TIMEOUT_MAX_S = 1800;

const PackageName = Type.String({
  minLength: 2,
  maxLength: 128,
  pattern: PACKAGE_NAME_PATTERN,
  description: 'The package name, as Debian policy has it (e.g. curl).',
});
const PackageVersion = Type.String({
  minLength: 1,
  maxLength: 256,
  pattern: PACKAGE_VERSION_PATTERN,
  description: 'An exact version, as dpkg writes it with its epoch if it has one (e.g. 7.88.1-10).',
});
// Its meaning (absolute, normalized, .deb, no control characters) is checked in
// data-checks.ts, so a 400 says what is expected rather than a pattern.
const DebPath = Type.String({
  minLength: 1,
  maxLength: 4096,
  description:
    'The absolute path of a .deb file already on the host; it must hold the package `name` (and `version`, when given).',
});
const ChangeTimeout = Type.Integer({
  minimum: 1,
  maximum: PACKAGE_CHANGE_TIMEOUT_MAX_S,
  description: `Seconds the host may take (1..${PACKAGE_CHANGE_TIMEOUT_MAX_S}, default ${PACKAGE_CHANGE_TIMEOUT_DEFAULT_S}); a tool still running then is stopped.`,
});

// ---- job data ------------------------------------------------------------

export const PackageNameData = Type.Object({ name: PackageName }, { additionalProperties: false });
export type PackageNameData = Static<typeof PackageNameData>;

export const PackageInstallData = Type.Object(
  {
    name: PackageName,
    version: Type.Optional(PackageVersion),
    path: Type.Optional(DebPath),
    timeout: Type.Optional(ChangeTimeout),
  },
  {
    additionalProperties: false,
    examples: [
      { name: 'curl' },
      { name: 'curl', version: '7.88.1-10+deb12u5' },
      { name: 'tool', path: '/var/cache/osapi/tool_1.0_all.deb' },
    ],
  },
);
export type PackageInstallData = Static<typeof PackageInstallData>;

export const PackageRemoveData = Type.Object(
  { name: PackageName, timeout: Type.Optional(ChangeTimeout) },
  { additionalProperties: false },
);
export type PackageRemoveData = Static<typeof PackageRemoveData>;

export const SourcesUpdateData = Type.Object(
  { timeout: Type.Optional(ChangeTimeout) },
  { additionalProperties: false },
);

// ---- what an agent answers -------------------------------------------------

export const PackageInfo = Type.Object(
  {
    name: Type.String(),
    version: Type.String(),
    architecture: Type.String({
      description: 'all, or the architecture it was built for (amd64, arm64, ...).',
    }),
    description: Type.String({ description: "The first line of the package's description." }),
    status: Type.String({
      description:
        "dpkg's state of it: installed, or unpacked, half-configured, half-installed, triggers-awaited, triggers-pending when a run did not finish.",
    }),
    size: Type.Optional(
      Type.Integer({
        description: 'Bytes installed (dpkg counts them in KiB: a multiple of 1024).',
      }),
    ),
  },
  { description: 'An installed package.' },
);
export type PackageInfo = Static<typeof PackageInfo>;

export const PackageListResult = Type.Object({ packages: Type.Array(PackageInfo) });

export const PackageInstallResult = Type.Object({
  name: Type.String(),
  changed: Type.Boolean({
    description:
      'False when the package was already installed at the version asked for (at any version when none was asked): nothing ran.',
  }),
  version: Type.Optional(Type.String({ description: 'The version installed now.' })),
});

export const PackageRemoveResult = Type.Object({
  name: Type.String(),
  changed: Type.Boolean({ description: 'False when the package was not installed: nothing ran.' }),
});

export const SourcesUpdateResult = Type.Object({
  changed: Type.Boolean({
    description:
      'True when apt fetched some index anew (a `Get:` line); false when every source was as it had it (only `Hit:`).',
  }),
  warnings: Type.Optional(
    Type.Array(Type.String(), { description: "apt's warnings (its `W:` lines), when it had any." }),
  ),
});

export const UpdateInfo = Type.Object(
  {
    name: Type.String(),
    architecture: Type.String(),
    current_version: Type.String(),
    new_version: Type.String(),
  },
  { description: 'An installed package of which the package sources offer a newer version.' },
);
export type UpdateInfo = Static<typeof UpdateInfo>;

export const UpdatesListResult = Type.Object({ updates: Type.Array(UpdateInfo) });
