// Processes of the hosts, wire contract: what the process operations take and
// what an agent answers. The names and fields are the reference's
// (ProcessInfo, ProcessSignalRequest, ProcessSignalResult), with more where
// ours says more (ppid, cpu_seconds, threads; a signal by any name or number;
// `force`).
import { type Static, Type } from 'typebox';

/** Linux's largest pid (PID_MAX_LIMIT on 64-bit). */
export const PID_MAX = 4_194_304;
/** Linux's signals run from 1 to 64 (SIGRTMAX). */
export const SIGNAL_MAX = 64;

const Pid = Type.Integer({
  minimum: 1,
  maximum: PID_MAX,
  description: `The process id: a whole number from 1 to ${PID_MAX}.`,
});

/** Linux's signal numbers (x86 and arm alike), by name without SIG; 34..64 are the real-time ones. */
const SIGNALS: Readonly<Record<string, number>> = Object.freeze({
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  IOT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  POLL: 29,
  PWR: 30,
  SYS: 31,
});

export const SIGNAL_EXPECTED = `must be a signal name (TERM, KILL, HUP, INT, QUIT, USR1, USR2, STOP, CONT, ..., with or without SIG) or a number from 1 to ${SIGNAL_MAX}`;

/**
 * The signal's number for a name (`TERM`, `SIGTERM`) or a number (`15`), or
 * null when it is neither a signal Linux has nor a number from 1 to 64.
 */
export function signalNumber(signal: string): number | null {
  if (/^[0-9]{1,2}$/.test(signal)) {
    const n = Number(signal);
    return n >= 1 && n <= SIGNAL_MAX ? n : null;
  }
  const upper = signal.toUpperCase();
  const name = upper.startsWith('SIG') ? upper.slice(3) : upper;
  return Object.hasOwn(SIGNALS, name) ? (SIGNALS[name] ?? null) : null;
}

/** `TERM` for 15; `40` for a signal without a name (the real-time ones). */
export function signalName(n: number): string {
  return Object.keys(SIGNALS).find((k) => SIGNALS[k] === n) ?? String(n);
}

// Its meaning is checked in data-checks.ts (signalNumber), so a 400 says what a
// signal is rather than a regular expression.
const Signal = Type.String({
  minLength: 1,
  maxLength: 12,
  description: `The signal: a name (TERM, KILL, HUP, INT, USR1, USR2, STOP, CONT, ..., SIGTERM too) or a number from 1 to ${SIGNAL_MAX}.`,
});

// ---- job data --------------------------------------------------------------

export const ProcessPidData = Type.Object({ pid: Pid }, { additionalProperties: false });
export type ProcessPidData = Static<typeof ProcessPidData>;

export const ProcessSignalData = Type.Object(
  {
    pid: Pid,
    signal: Signal,
    force: Type.Optional(
      Type.Boolean({
        description:
          'Signal even PID 1, the agent itself or its parent, which are refused otherwise.',
      }),
    ),
  },
  { additionalProperties: false, examples: [{ signal: 'TERM' }] },
);
export type ProcessSignalData = Static<typeof ProcessSignalData>;

/** The path carries the pid as text: a whole number becomes one, anything else stays to be refused. */
export function withPidNumber<T extends { pid?: unknown }>(input: T): T {
  const { pid } = input;
  if (typeof pid === 'string' && /^[0-9]{1,10}$/.test(pid)) return { ...input, pid: Number(pid) };
  return input;
}

// ---- what an agent answers ---------------------------------------------------

export const ProcessInfo = Type.Object(
  {
    pid: Type.Integer(),
    ppid: Type.Integer({ description: "The parent's pid; 0 for the kernel's own." }),
    name: Type.String({ description: 'The executable\'s name as the kernel keeps it ("comm").' }),
    user: Type.String({
      description: 'The real user, by name from /etc/passwd, else its uid as a number.',
    }),
    state: Type.String({
      description:
        'R running, S sleeping, D disk sleep, Z zombie, T stopped, t traced, I idle, X dead.',
    }),
    cpu_percent: Type.Number({
      description:
        'CPU time used since the process started, as a percentage of its time alive (100 is one core the whole time).',
    }),
    cpu_seconds: Type.Number({ description: 'CPU time used since it started: user + system.' }),
    mem_percent: Type.Number({ description: "Resident memory as a percentage of the host's." }),
    mem_rss: Type.Integer({ description: 'Resident memory in bytes.' }),
    threads: Type.Integer(),
    command: Type.String({
      description:
        'The command line, arguments joined by spaces; "[name]" for a kernel thread or a process without one.',
    }),
    start_time: Type.String({ description: 'When it started (ISO 8601, UTC).' }),
  },
  { description: 'A process of the host, read from /proc.' },
);
export type ProcessInfo = Static<typeof ProcessInfo>;

export const ProcessListResult = Type.Object({ processes: Type.Array(ProcessInfo) });
export const ProcessGetResult = Type.Object({ process: ProcessInfo });
export const ProcessSignalResult = Type.Object({
  pid: Type.Integer(),
  signal: Type.String({ description: 'The signal sent, by name (TERM), or its number.' }),
  changed: Type.Boolean({ description: 'True: the signal was delivered.' }),
});
export type ProcessSignalResult = Static<typeof ProcessSignalResult>;
