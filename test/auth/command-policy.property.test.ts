// Property tests of the command policy against hostile input: shell lines
// built from an allowed prefix plus separators, substitutions, quotes,
// redirections, globs and stray spaces; argument lists and cwds with `..`,
// `.`, `/` inside a `*`, doubled slashes, NUL, options (`-`, `+`, `@`) and
// extra arguments; and patterns whose program is a bare `*`, which allow
// nothing at all.
// Each is judged by an oracle written per pattern, by hand, from the rules in
// docs/security.md, so the test fails both ways: a hostile input that passes,
// or an allowed one that is refused.
// A fixed seed and a bounded count; FC_RUNS and FC_SEED run more:
//   FC_RUNS=20000 npx vitest run test/auth/command-policy.property.test.ts
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CommandPolicy,
  checkCommand,
  checkWorkingDir,
} from '../../src/auth/command-policy.js';

const RUNS = Number(process.env.FC_RUNS ?? 1000);
const SEED = Number(process.env.FC_SEED ?? 20261125);
const params = { numRuns: RUNS, seed: SEED, endOnFailure: true };

const POLICY: NonNullable<CommandPolicy> = {
  exec: ['cat /var/log/*', 'systemctl status *', 'ls -l /srv/*/logs', 'journalctl --lines=* -u *'],
  shell: ['echo *', 'cat /var/log/*', 'systemctl status *', 'journalctl -u *.service', 'uptime'],
  users: [],
  env: [],
  cwd: ['/tmp', '/srv/*'],
};

// ---------------------------------------------------------------------------
// The oracles: what each pattern is documented to allow, spelled out.

/** What one exec `*` may stand for: one or more characters, no `/` or NUL. */
const execStar = (s: string) => s.length > 0 && !/[/\0]/.test(s);
/** What one shell `*` may stand for: one or more of the safe characters. */
const shellStar = (s: string) => /^[A-Za-z0-9_.:,@+%-]+$/.test(s);
/** A word or argument with a `*` in its pattern: no `.` or `..` path segment. */
const dotFree = (s: string) => !s.split('/').some((seg) => seg === '.' || seg === '..');
/** ... and no leading `-`, `+` or `@` (an option, a count, a file of arguments) unless its pattern starts with one. */
const noOptionLead = (s: string) => !/^[-+@]/.test(s);

/** `s` is `pre` + one `*` + `post`, the `*` standing for what `star` accepts. */
const around = (s: string | undefined, pre: string, post: string, star: (x: string) => boolean) =>
  s?.startsWith(pre) === true &&
  s.endsWith(post) &&
  s.length > pre.length + post.length &&
  star(s.slice(pre.length, s.length - post.length)) &&
  dotFree(s);

function execOracle(argv: readonly string[]): boolean {
  const [p, a, b, c] = argv;
  const n = argv.length;
  const oneWord = (s: string | undefined) =>
    s !== undefined && around(s, '', '', execStar) && noOptionLead(s);
  return (
    (n === 2 && p === 'cat' && around(a, '/var/log/', '', execStar)) ||
    (n === 3 && p === 'systemctl' && a === 'status' && oneWord(b)) ||
    (n === 3 && p === 'ls' && a === '-l' && around(b, '/srv/', '/logs', execStar)) ||
    (n === 4 &&
      p === 'journalctl' &&
      around(a, '--lines=', '', execStar) &&
      b === '-u' &&
      oneWord(c))
  );
}

function shellOracle(line: string): boolean {
  const after = (pre: string) => (line.startsWith(pre) ? line.slice(pre.length) : undefined);
  const oneWord = (s: string | undefined) =>
    s !== undefined && around(s, '', '', shellStar) && noOptionLead(s);
  const unit = after('journalctl -u ');
  return (
    line === 'uptime' ||
    oneWord(after('echo ')) ||
    around(line, 'cat /var/log/', '', shellStar) ||
    oneWord(after('systemctl status ')) ||
    (unit !== undefined && around(unit, '', '.service', shellStar) && noOptionLead(unit))
  );
}

function cwdOracle(cwd: string): boolean {
  return cwd === '/tmp' || around(cwd, '/srv/', '', execStar);
}

// ---------------------------------------------------------------------------
// Generators: pieces an attacker would reach for, joined at random.

const HOSTILE_SHELL = [
  ';',
  '&',
  '&&',
  '|',
  '||',
  '\n',
  '\r',
  '\r\n',
  '\t',
  '\0',
  '$(id)',
  '`id`',
  '$HOME',
  '$',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, meant literally
  '${IFS}',
  "'",
  '"',
  '\\',
  '>',
  '>>',
  '<',
  '2>&1',
  '<(id)',
  '*',
  '?',
  '[a]',
  '{a,b}',
  '~',
  '~root',
  '#',
  '!',
  '(',
  ')',
  '=',
  'PATH=.',
  '/',
  '\u00a0',
  'é',
];
const BENIGN_SHELL = ['a', 'hi', 'nginx', '1', '.', '..', '-', '-x', ':', ',', '@', '+', '%', '_'];

/** A shell line: an allowed pattern's prefix, then safe and hostile pieces. */
const shellLine = fc
  .tuple(
    fc.constantFrom('echo ', 'cat /var/log/', 'systemctl status ', 'journalctl -u ', 'uptime', ''),
    // Mostly safe pieces, so that lines the patterns allow come up too.
    fc.array(
      fc.oneof(
        { arbitrary: fc.constantFrom(...BENIGN_SHELL), weight: 6 },
        { arbitrary: fc.constantFrom(...HOSTILE_SHELL, ' '), weight: 1 },
      ),
      { maxLength: 6 },
    ),
    fc.constantFrom('', '', '.service', ' ', '; id', '\nid'),
  )
  .map(([pre, mid, post]) => pre + mid.join('') + post);

/** A safe line each shell pattern allows, and the same with a hostile piece put in anywhere. */
const shellInjection = fc
  .tuple(
    fc.constantFrom('echo ', 'cat /var/log/', 'systemctl status ', 'journalctl -u ', 'uptime'),
    fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.:,@+%-]{0,11}$/),
    fc.constantFrom(...HOSTILE_SHELL.filter((h) => h !== '/')),
    fc.nat(),
  )
  .map(([pre, word, hostile, at]) => {
    const line =
      pre === 'uptime' ? pre : pre === 'journalctl -u ' ? `${pre}${word}.service` : pre + word;
    const i = at % (line.length + 1);
    return { line, hostile: line.slice(0, i) + hostile + line.slice(i) };
  });

const PATH_PIECES = [
  'a',
  'b',
  'syslog',
  '.',
  '..',
  '/',
  '//',
  '-',
  '+',
  '@',
  '\0',
  ' ',
  '*',
  'var',
  'log',
];
const piece = fc.array(fc.constantFrom(...PATH_PIECES), { minLength: 0, maxLength: 5 });
const joined = piece.map((p) => p.join(''));

/** Argument lists: a pattern's literal words with hostile path pieces where its `*` goes. */
const argv = fc.oneof(
  fc.tuple(joined).map(([x]) => ['cat', `/var/log/${x}`]),
  fc.tuple(joined, joined).map(([x, y]) => ['cat', `/var/log/${x}`, y]),
  fc.tuple(joined).map(([x]) => ['cat', x]),
  fc.tuple(joined).map(([x]) => ['systemctl', 'status', x]),
  fc.tuple(joined, joined).map(([x, y]) => ['systemctl', 'status', x, y]),
  fc.tuple(joined).map(([x]) => ['ls', '-l', `/srv/${x}/logs`]),
  fc.tuple(joined).map(([x]) => ['ls', '-l', x]),
  fc.tuple(joined, joined).map(([x, y]) => ['journalctl', `--lines=${x}`, '-u', y]),
  fc.array(joined, { minLength: 1, maxLength: 5 }),
);

const cwd = fc.oneof(
  joined.map((x) => `/srv/${x}`),
  joined.map((x) => `/tmp${x}`),
  joined,
);

describe('the command policy against hostile input', () => {
  it('refuses every shell line the patterns do not allow, and allows the rest', () => {
    fc.assert(
      fc.property(shellLine, (line) => {
        expect(checkCommand(POLICY, 'shell', line) === null, JSON.stringify(line)).toBe(
          shellOracle(line),
        );
      }),
      params,
    );
  });

  it('allows a safe line and refuses it with a metacharacter put in anywhere', () => {
    fc.assert(
      fc.property(shellInjection, ({ line, hostile }) => {
        expect(checkCommand(POLICY, 'shell', line), JSON.stringify(line)).toBeNull();
        expect(checkCommand(POLICY, 'shell', hostile), JSON.stringify(hostile)).toMatch(
          /matches none/,
        );
      }),
      params,
    );
  });

  it('refuses every argument list the patterns do not allow, and allows the rest', () => {
    fc.assert(
      fc.property(argv, (args) => {
        const [command, ...rest] = args as [string, ...string[]];
        expect(checkCommand(POLICY, 'exec', command, rest) === null, JSON.stringify(args)).toBe(
          execOracle(args),
        );
      }),
      params,
    );
  });

  it('allows a plain file name under an exec `*` and refuses every path trick on it', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,11}$/),
        fc.constantFrom('../', './', '/', '/../..', '/..', '//', '\0', '/./'),
        fc.nat(),
        (name, trick, at) => {
          expect(checkCommand(POLICY, 'exec', 'cat', [`/var/log/${name}`])).toBeNull();
          const i = at % (name.length + 1);
          const path = `/var/log/${name.slice(0, i)}${trick}${name.slice(i)}`;
          expect(checkCommand(POLICY, 'exec', 'cat', [path]), JSON.stringify(path)).toMatch(
            /matches none/,
          );
          const leading = `/var/log/${trick}${name}`;
          expect(checkCommand(POLICY, 'exec', 'cat', [leading]), JSON.stringify(leading)).toMatch(
            /matches none/,
          );
        },
      ),
      params,
    );
  });

  it('allows nothing under a pattern whose program is a bare `*`, exec or shell', () => {
    const anyProgram: CommandPolicy = {
      exec: ['*', '* *', '* --version', '** -h', '  * status *'],
      shell: ['*', '* *', ' *', 'uptime | *', 'uptime; *', 'LANG=C *', 'if * ; then *'],
      users: [],
      env: [],
      cwd: [],
    };
    const names = fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9_.:,@+%-]{1,8}$/),
      fc.constantFrom('sh', 'uname', 'id', 'status', '--version', '-h', 'LANG=C', '|', ';'),
    );
    fc.assert(
      fc.property(fc.array(names, { minLength: 1, maxLength: 4 }), (words) => {
        const [command, ...rest] = words as [string, ...string[]];
        expect(checkCommand(anyProgram, 'exec', command, rest), JSON.stringify(words)).toMatch(
          /matches none/,
        );
        for (const line of [words.join(' '), `uptime | ${words.join(' ')}`, ` ${words[0]}`]) {
          expect(checkCommand(anyProgram, 'shell', line), JSON.stringify(line)).toMatch(
            /matches none/,
          );
        }
      }),
      params,
    );
  });

  it('refuses every cwd the list does not allow, and allows the rest', () => {
    fc.assert(
      fc.property(cwd, (dir) => {
        expect(checkWorkingDir(POLICY, dir) === null, JSON.stringify(dir)).toBe(cwdOracle(dir));
      }),
      params,
    );
  });
});
