// The file store (objects uploaded to NATS and kept there) and file
// deployment (an object written to a path on each host, raw or rendered as a
// template with the host's facts): the wire contract. Names and fields are
// the reference's (FileInfo, FileDeployRequest, StaleDeployment...).
import { type Static, Type } from 'typebox';

/**
 * An object's name: letters, digits, `.`, `_`, `-`, at most 128, starting
 * with a letter or a digit (so never `.`, `..` or an option).
 */
export const OBJECT_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';
/** Names the system keeps for itself: refused from uploads. */
export const RESERVED_OBJECT_PREFIX = 'osapi.';

const OBJECT_NAME = new RegExp(OBJECT_NAME_PATTERN);

/** What OBJECT_NAME_PATTERN asks, in words. */
export const OBJECT_NAME_EXPECTED =
  "must be 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or a digit";

/** What is wrong with an object's name, as a sentence, or null. */
export function objectNameProblem(name: string): string | null {
  if (!OBJECT_NAME.test(name)) return OBJECT_NAME_EXPECTED;
  if (name.startsWith(RESERVED_OBJECT_PREFIX)) {
    return `must not start with "${RESERVED_OBJECT_PREFIX}": those names are kept for the system`;
  }
  return null;
}

const OBJECT_NAME_ABOUT =
  "An object of the file store: 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or a digit.";

export const ObjectName = Type.String({
  pattern: OBJECT_NAME_PATTERN,
  description: OBJECT_NAME_ABOUT,
});

/** How an object is written to a host: as it is, or rendered as a template. */
export const ContentType = Type.Union([Type.Literal('raw'), Type.Literal('template')], {
  description:
    'raw: written as stored; template: rendered first (Mustache, strict: a missing variable fails that host) with `facts`, `vars` and `hostname`.',
});
export type ContentType = Static<typeof ContentType>;

/** The default size limit of one object (api.server.files.max_bytes). */
export const DEFAULT_FILE_MAX_BYTES = 8 * 1024 * 1024;

export const FileUploadRequest = Type.Object(
  {
    name: Type.String({ description: OBJECT_NAME_ABOUT }),
    content: Type.String({ description: 'The content, base64-encoded.' }),
    content_type: Type.Optional(
      Type.Union([Type.Literal('raw'), Type.Literal('template')], {
        description: 'How deployments use it by default; raw when absent.',
      }),
    ),
  },
  {
    additionalProperties: false,
    examples: [
      { name: 'motd', content: 'V2VsY29tZSB0byB7e2hvc3RuYW1lfX0K', content_type: 'template' },
    ],
  },
);
export type FileUploadRequest = Static<typeof FileUploadRequest>;

export const FileUploadQuery = Type.Object(
  {
    force: Type.Optional(
      Type.Boolean({
        description: 'true: replace an object of that name holding other content (else 409).',
      }),
    ),
  },
  { additionalProperties: false },
);

const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256, hex.' });

export const FileInfo = Type.Object({
  name: Type.String(),
  sha256: Sha256,
  size: Type.Integer({ description: 'Bytes.' }),
  content_type: Type.String({ description: 'raw or template.' }),
  source: Type.String({ description: 'How it came: `upload`.' }),
});
export type FileInfo = Static<typeof FileInfo>;

export const FileUploadResponse = Type.Object({
  name: Type.String(),
  sha256: Sha256,
  size: Type.Integer(),
  changed: Type.Boolean({
    description: 'False when the object already held this content: nothing was written.',
  }),
  content_type: Type.String(),
});
export type FileUploadResponse = Static<typeof FileUploadResponse>;
export const FileInfoResponse = Type.Object({
  name: Type.String(),
  sha256: Sha256,
  size: Type.Integer(),
  content_type: Type.String(),
});
export type FileInfoResponse = Static<typeof FileInfoResponse>;
export const FileListResponse = Type.Object({
  files: Type.Array(FileInfo),
  total: Type.Integer(),
});
export type FileListResponse = Static<typeof FileListResponse>;
export const FileDeleteResponse = Type.Object({ name: Type.String(), deleted: Type.Boolean() });
export type FileDeleteResponse = Static<typeof FileDeleteResponse>;
export const FileNameParams = Type.Object({
  name: Type.String({ description: 'The object name.' }),
});

export const StaleDeployment = Type.Object({
  object_name: Type.String(),
  hostname: Type.String(),
  provider: Type.String({
    description: 'What deployed it: `file` (POST /node/{target}/file/deploy).',
  }),
  path: Type.String(),
  deployed_sha: Type.String({ description: "The object's SHA-256 when it was deployed." }),
  current_sha: Type.String({ description: "The object's SHA-256 now; empty when it was deleted." }),
  deployed_at: Type.String({ format: 'date-time' }),
});
export type StaleDeployment = Static<typeof StaleDeployment>;
export const StaleDeploymentsResponse = Type.Object({
  stale: Type.Array(StaleDeployment),
  total: Type.Integer(),
});
export type StaleDeploymentsResponse = Static<typeof StaleDeploymentsResponse>;

// ---- deployment operations -------------------------------------------------

/** At most this long a path on a host (PATH_MAX is 4096). */
export const HOST_PATH_MAX = 4096;

const HostPath = Type.String({
  minLength: 1,
  maxLength: HOST_PATH_MAX,
  description: 'An absolute, normalised path on the host (no `..`, no `//`, no trailing `/`).',
});

/** A digest the API puts in the job: the content the job was made for. */
const ObjectSha = Type.String({
  pattern: '^[0-9a-f]{64}$',
  description: "Set by the API: the object's SHA-256 when the job was made.",
});

export const TEMPLATE_VAR_PATTERN = '^[A-Za-z_][A-Za-z0-9_]{0,63}$';
export const FILE_MODE_PATTERN = '^0?[0-7]{3,4}$';
/** A user or group: a name as shadow-utils takes it, or a number. */
export const FILE_OWNER_PATTERN = '^(?:[a-z_][a-z0-9_-]{0,31}|[0-9]{1,10})$';

/** Template variables: names to strings, numbers, booleans, or nested objects and lists of them. */
export const TemplateVars = Type.Record(
  Type.String({ pattern: TEMPLATE_VAR_PATTERN }),
  Type.Unknown(),
  {
    // A name a template could not write as `{{vars.<name>}}` is refused, not kept unusable.
    additionalProperties: false,
    maxProperties: 256,
    description:
      'Variables of a template, as `vars.<name>` (names: a letter or _, then letters, digits or _; at most 256), JSON values. The CLI takes `name=value,...` or a JSON object.',
  },
);

const DeployFields = {
  object_name: ObjectName,
  path: HostPath,
  mode: Type.Optional(
    Type.String({
      pattern: FILE_MODE_PATTERN,
      description:
        'Octal file mode, e.g. 0644 (default 0644 for a new file, else the present one).',
    }),
  ),
  owner: Type.Optional(
    Type.String({
      pattern: FILE_OWNER_PATTERN,
      description: 'User name or uid (default: root for a new file, else the present one).',
    }),
  ),
  group: Type.Optional(
    Type.String({
      pattern: FILE_OWNER_PATTERN,
      description: 'Group name or gid (default: root for a new file, else the present one).',
    }),
  ),
  content_type: ContentType,
  vars: Type.Optional(TemplateVars),
};

export const FileDeployInput = Type.Object(DeployFields, {
  additionalProperties: false,
  examples: [
    {
      object_name: 'motd',
      path: '/etc/motd',
      mode: '0644',
      content_type: 'template',
      vars: { team: 'web' },
    },
  ],
});
export const FileDeployData = Type.Object(
  { ...DeployFields, object_sha256: ObjectSha },
  { additionalProperties: false },
);
export type FileDeployData = Static<typeof FileDeployData>;

export const FilePathData = Type.Object({ path: HostPath }, { additionalProperties: false });
export type FilePathData = Static<typeof FilePathData>;

export const FileDeployResult = Type.Object({
  changed: Type.Boolean({
    description:
      'False when the file already had this content, mode and owner: nothing was written.',
  }),
  path: Type.String(),
  sha256: Type.String({ description: 'SHA-256 of what the file holds now (after rendering).' }),
});
export const FileUndeployResult = Type.Object({
  changed: Type.Boolean({ description: 'False when there was nothing deployed at that path.' }),
  path: Type.String(),
});

/** How a deployed file compares with what was deployed. */
export const FileState = Type.Union(
  [
    Type.Literal('in-sync'),
    Type.Literal('drifted'),
    Type.Literal('missing'),
    Type.Literal('not-deployed'),
  ],
  {
    description:
      'in-sync: the file holds what was deployed; drifted: it was changed since; missing: it was removed; not-deployed: nothing was deployed at that path.',
  },
);

export const FileStatusResult = Type.Object({
  path: Type.String(),
  status: FileState,
  sha256: Type.String({ description: 'SHA-256 of the file now; empty when there is none.' }),
  object_name: Type.Optional(Type.String()),
  deployed_sha: Type.Optional(
    Type.String({ description: 'SHA-256 of what was written at deployment.' }),
  ),
  deployed_at: Type.Optional(Type.String({ format: 'date-time' })),
});

/** File status's answer: each host's item says the file's state where it has one. */
export const FileStatusResponse = Type.Object({
  job_id: Type.String({ format: 'uuid' }),
  results: Type.Array(
    Type.Object({
      hostname: Type.String(),
      path: Type.Optional(Type.String()),
      status: Type.Union([
        ...FileState.anyOf,
        Type.Literal('failed'),
        Type.Literal('skipped'),
        Type.Literal('no_answer'),
      ]),
      sha256: Type.Optional(Type.String()),
      object_name: Type.Optional(Type.String()),
      deployed_sha: Type.Optional(Type.String()),
      deployed_at: Type.Optional(Type.String()),
      error: Type.Optional(Type.String()),
    }),
  ),
  expected_hosts: Type.Optional(Type.Array(Type.String())),
});

/** What the agent records of one deployment (the file-deployments bucket). */
export const DeploymentRecord = Type.Object({
  hostname: Type.String(),
  path: Type.String(),
  object_name: Type.String(),
  /** The object's digest as stored when deployed: what GET /file/stale compares. */
  deployed_sha: Type.String(),
  /** The digest of what was written (rendered), which status compares with the file. */
  written_sha: Type.String(),
  content_type: Type.String(),
  deployed_at: Type.String(),
  /** True when a file was there before the first deployment: undeploy puts it back. */
  replaced: Type.Optional(Type.Boolean()),
});
export type DeploymentRecord = Static<typeof DeploymentRecord>;
