// Cron entries on the hosts, wire contract: what each cron operation takes
// and what an agent answers. Names and fields are the reference's
// (CronCreateRequest, CronEntry, CronMutationResult), with `command` added to
// an entry: the line cron runs.
import { type Static, Type } from 'typebox';
import { ContentType, OBJECT_NAME_PATTERN, TemplateVars } from './file.js';
import { ACCOUNT_NAME_PATTERN } from './users.js';

// ---- names and schedules ---------------------------------------------------

/**
 * An entry's name: its file is `osapi-<name>`. Letters, digits, '_' and '-'
 * only, since cron skips a file in /etc/cron.d whose name holds a dot, and
 * run-parts one in /etc/cron.daily whose name is not RUN_PARTS_NAME_PATTERN.
 */
export const CRON_NAME_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$';
export const CRON_FILE_PREFIX = 'osapi-';
export const CRON_NAME_EXPECTED =
  "must be 1 to 64 lowercase letters, digits, '_' or '-', starting with a letter or a digit (no '.': cron and run-parts skip such files)";
/** The names run-parts runs (without --lsbsysinit): any other file in /etc/cron.<interval> is skipped. */
export const RUN_PARTS_NAME_PATTERN = '^[A-Za-z0-9_-]+$';

export const CRON_SCHEDULE_MAX = 100;

/** The periods the reference offers; each is a run-parts directory, /etc/cron.<period>. */
export const CRON_INTERVALS = ['hourly', 'daily', 'weekly', 'monthly'] as const;
export type CronInterval = (typeof CRON_INTERVALS)[number];

const MACROS = new Set(['@hourly', '@daily', '@weekly', '@monthly', '@yearly', '@reboot']);

interface FieldRange {
  name: string;
  min: number;
  max: number;
  /** Names cron takes for the values, first one for `min`. */
  names?: readonly string[];
}

const FIELDS: readonly FieldRange[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
  },
  // 0 and 7 are both Sunday.
  { name: 'day of week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

export const CRON_SCHEDULE_EXPECTED =
  'must be five fields (minute 0-59, hour 0-23, day of month 1-31, month 1-12 or jan-dec, day of week 0-7 or sun-sat; each *, a value, a range a-b, a list a,b and an optional /step) or one of @hourly, @daily, @weekly, @monthly, @yearly, @reboot';

/** A value of a field: a number in its range or one of its names, else null. */
function fieldValue(text: string, field: FieldRange): number | null {
  if (/^[0-9]{1,2}$/.test(text)) {
    const n = Number(text);
    return n >= field.min && n <= field.max ? n : null;
  }
  const at = field.names?.indexOf(text.toLowerCase()) ?? -1;
  return at >= 0 ? field.min + at : null;
}

// Why one item of a field (a step like `*/5`, a range `1-5`, a name `mon`) is not one cron reads, or null.
function itemProblem(item: string, field: FieldRange): string | null {
  const [range, step, extra] = item.split('/');
  const bad = `${field.name} "${item}" is not *, a value or a range in ${field.min}-${field.max}`;
  if (extra !== undefined || range === undefined || range === '') return bad;
  if (step !== undefined) {
    if (!/^[0-9]{1,2}$/.test(step) || Number(step) < 1 || Number(step) > field.max) {
      return `${field.name} "${item}" has a step that is not 1-${field.max}`;
    }
  }
  if (range === '*') return null;
  const ends = range.split('-');
  if (ends.length > 2) return bad;
  const values = ends.map((e) => fieldValue(e, field));
  if (values.some((v) => v === null)) return bad;
  const [from, to] = values as number[];
  if (to !== undefined && (from as number) > to) return `${field.name} "${item}" runs backwards`;
  return null;
}

/**
 * Why `schedule` is not one cron reads, or null: five fields with their
 * ranges, or a macro. Only spaces separate the fields, so nothing else can
 * reach the file's line.
 */
export function cronScheduleProblem(schedule: string): string | null {
  if (schedule.startsWith('@')) return MACROS.has(schedule) ? null : CRON_SCHEDULE_EXPECTED;
  const parts = schedule.split(' ');
  if (parts.length !== FIELDS.length) return CRON_SCHEDULE_EXPECTED;
  for (const [i, part] of parts.entries()) {
    const field = FIELDS[i] as FieldRange;
    for (const item of part.split(',')) {
      const problem = itemProblem(item, field);
      if (problem) return `${problem}; ${CRON_SCHEDULE_EXPECTED}`;
    }
  }
  return null;
}

// ---- job data --------------------------------------------------------------

const CronName = Type.String({
  pattern: CRON_NAME_PATTERN,
  description:
    "The entry's name, 1 to 64 lowercase letters, digits, '_' or '-', starting with a letter or a digit; its file is /etc/cron.d/osapi-<name>, or /etc/cron.<interval>/osapi-<name> with interval.",
});

const CronSchedule = Type.String({
  minLength: 1,
  maxLength: CRON_SCHEDULE_MAX,
  description:
    'When cron runs it: five fields separated by single spaces (e.g. `*/5 * * * *`) or @hourly, @daily, @weekly, @monthly, @yearly, @reboot. Give this or `interval`.',
});

/** hourly, daily, weekly or monthly, described for where it stands. */
function intervalSchema(description: string) {
  return Type.Union(
    [
      Type.Literal('hourly'),
      Type.Literal('daily'),
      Type.Literal('weekly'),
      Type.Literal('monthly'),
    ],
    { description },
  );
}

const Interval = intervalSchema(
  'Instead of `schedule`: run hourly, daily, weekly or monthly, as a script in /etc/cron.<interval> that run-parts runs as root (so user may only be root).',
);

const CronUser = Type.String({
  pattern: ACCOUNT_NAME_PATTERN,
  description:
    'The account cron runs the command as; it must exist on the host. Default root; with interval only root.',
});

const ObjectName = Type.String({
  pattern: OBJECT_NAME_PATTERN,
  description:
    'The stored object (POST /file) whose content is the command line: one line, cron runs it with /bin/sh.',
});

const ObjectSha256 = Type.String({
  pattern: '^[0-9a-f]{64}$',
  description:
    "The object's SHA-256 as the API saw it when it accepted the job: the agent writes no other content.",
});

export const CronNameData = Type.Object({ name: CronName }, { additionalProperties: false });
export type CronNameData = Static<typeof CronNameData>;

const CreateFields = {
  name: CronName,
  object: ObjectName,
  schedule: Type.Optional(CronSchedule),
  interval: Type.Optional(Interval),
  user: Type.Optional(CronUser),
  content_type: Type.Optional(ContentType),
  vars: Type.Optional(TemplateVars),
};

export const CronCreateRequest = Type.Object(CreateFields, {
  additionalProperties: false,
  examples: [{ name: 'backup', object: 'backup-command', schedule: '30 2 * * *', user: 'root' }],
});
export const CronCreateData = Type.Object(
  { ...CreateFields, object_sha256: ObjectSha256 },
  { additionalProperties: false },
);
export type CronCreateData = Static<typeof CronCreateData>;

const UpdateFields = {
  name: CronName,
  object: Type.Optional(ObjectName),
  schedule: Type.Optional(CronSchedule),
  interval: Type.Optional(Interval),
  user: Type.Optional(CronUser),
  content_type: Type.Optional(ContentType),
  vars: Type.Optional(TemplateVars),
};

export const CronUpdateRequest = Type.Object(UpdateFields, { additionalProperties: false });
export const CronUpdateData = Type.Object(
  // Without `object` the API still puts a digest no object has: the agent then keeps the command.
  { ...UpdateFields, object_sha256: Type.Optional(ObjectSha256) },
  { additionalProperties: false },
);
export type CronUpdateData = Static<typeof CronUpdateData>;

// ---- what an agent answers ---------------------------------------------------

export const CronEntry = Type.Object(
  {
    name: Type.String(),
    object: Type.String({ description: 'The stored object the command was taken from.' }),
    schedule: Type.String({
      description:
        'The schedule as the file has it (e.g. `30 2 * * *`, `@daily`); `@<interval>` for a script run by interval.',
    }),
    interval: Type.Optional(
      intervalSchema(
        'Set when the entry was made with `interval`: its file is a script in /etc/cron.<interval>.',
      ),
    ),
    source: Type.String({
      description: "The entry's file on the host (in agent.cron.dir, or a run-parts directory).",
    }),
    user: Type.String(),
    command: Type.String({ description: 'The line cron runs (with /bin/sh) as the user.' }),
  },
  {
    description:
      'A cron entry this system wrote (a marked file in agent.cron.dir, or a marked script in <agent.cron.periodic_dir>/cron.<interval>).',
  },
);
export type CronEntry = Static<typeof CronEntry>;

export const CronListResult = Type.Object({ entries: Type.Array(CronEntry) });
/** A get answers the entry's own fields, as the reference's CronEntry has them. */
export const CronGetResult = CronEntry;
export const CronMutationResult = Type.Object({
  name: Type.String(),
  changed: Type.Boolean({
    description: 'False when the entry already was as asked: nothing was written.',
  }),
});
export type CronMutationResult = Static<typeof CronMutationResult>;
