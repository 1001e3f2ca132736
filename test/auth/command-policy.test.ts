// The command policy's rules, example by example: the attacks the issue "The
// command policy cannot be talked around" observed (each allowed when `*`
// matched any run of characters), then what `*` may and may not stand for in
// exec arguments, shell lines and cwd, and which patterns the config refuses.
// Property tests: command-policy.property.test.ts.
import { describe, expect, it } from 'vitest';
import {
  anyProgramWord,
  type CommandPolicy,
  checkCommand,
  checkCommandJob,
  checkWorkingDir,
  commandPolicy,
  isPolicedOperation,
  policyRefusal,
} from '../../src/auth/command-policy.js';
import { ConfigError, loadConfig } from '../../src/config/index.js';

const ROLES = {
  echoer: {
    permissions: ['command:execute'],
    commands: { shell: ['echo *'], exec: ['cat /var/log/*'] },
  },
  ops: {
    permissions: ['command:execute'],
    commands: {
      exec: [
        'systemctl status *',
        'journalctl -u * -n *',
        'journalctl --lines=* -u *',
        'run-* --version',
        'ls -l /srv/*/logs',
      ],
      shell: ['uptime | cut -c1-20', 'journalctl -u *.service', 'df -h *'],
      cwd: ['/tmp', '/srv/*'],
    },
  },
  anyShell: { permissions: ['command:execute'], commands: { shell: true } },
  anyExec: { permissions: ['command:execute'], commands: { exec: true, shell: false } },
};
const echoer = commandPolicy(['echoer'], ROLES);
const ops = commandPolicy(['ops'], ROLES);

const exec = (p: CommandPolicy, ...argv: string[]) =>
  checkCommand(p, 'exec', argv[0] as string, argv.slice(1));
const shell = (p: CommandPolicy, line: string) => checkCommand(p, 'shell', line);

describe('the attacks observed in the issue', () => {
  it.each([
    'echo hi; id',
    'echo $(id)',
    'echo `id`',
    'uptime && id',
    'echo hi\nid',
    'echo hi\r\nid',
    'echo hi|id',
    'echo hi&id',
  ])('a shell `echo *` refuses %j', (line) => {
    expect(shell(echoer, line)).toMatch(
      /^the command policy of this token's roles allows shell only for "echo \*"; .* matches none \(the line must be a pattern as written, where a \* matches one or more of A-Z a-z 0-9 _ \. : , @ \+ % -/,
    );
  });

  it('an exec `cat /var/log/*` refuses a path climbing to the signing key', () => {
    expect(exec(echoer, 'cat', '/var/log/../../var/lib/osapi/signing.key')).toMatch(
      /allows exec only for "cat \/var\/log\/\*"; \["cat","\/var\/log\/\.\.\/\.\.\/var\/lib\/osapi\/signing\.key"\] matches none \(each word of a pattern is one argument; a \* matches characters other than "\/"/,
    );
  });

  it('a cwd is refused to a policy that lists none', () => {
    expect(checkCommandJob(echoer, 'exec', { command: 'cat', args: ['/var/log/syslog'] })).toBe(
      null,
    );
    expect(
      checkCommandJob(echoer, 'exec', {
        command: 'cat',
        args: ['/var/log/syslog'],
        cwd: '/var/lib/osapi',
      }),
    ).toBe(
      `the command policy of this token's roles lists no cwd directories, so a command may not set cwd "/var/lib/osapi"`,
    );
  });
});

describe('the operations the policy rules (policyRefusal, one check for the API and the agent)', () => {
  const job = (command: string, args: string[] = []) => ({
    command,
    args,
    timeout: 30,
  });
  it('rules command exec and shell, and a docker exec as an exec of its argv', () => {
    for (const t of ['command.exec.execute', 'command.shell.execute', 'docker.container.exec']) {
      expect(isPolicedOperation(t)).toBe(true);
    }
    expect(isPolicedOperation('node.hostname.get')).toBe(false);
    expect(policyRefusal(echoer, 'command.exec.execute', job('cat', ['/var/log/syslog']))).toBe(
      null,
    );
    expect(policyRefusal(echoer, 'command.exec.execute', job('id'))).toMatch(
      /allows exec only for "cat \/var\/log\/\*"/,
    );
    expect(policyRefusal(echoer, 'command.shell.execute', job('echo hi'))).toBe(null);
    expect(
      policyRefusal(echoer, 'docker.container.exec', {
        id: 'web',
        command: ['cat', '/var/log/syslog'],
      }),
    ).toBe(null);
    expect(
      policyRefusal(echoer, 'docker.container.exec', { id: 'web', command: ['sh', '-c', 'id'] }),
    ).toMatch(/allows exec only for/);
  });

  it('refuses data it cannot read, and lets anything pass without a policy or outside its rule', () => {
    const unreadable = /its command cannot be checked against the command policy/;
    expect(policyRefusal(echoer, 'command.exec.execute', { command: 'cat', args: 'x' })).toMatch(
      unreadable,
    );
    expect(policyRefusal(echoer, 'docker.container.exec', { id: 'web', command: [] })).toMatch(
      unreadable,
    );
    expect(policyRefusal(null, 'command.exec.execute', { command: 'id', args: 'x' })).toBe(null);
    expect(policyRefusal(echoer, 'node.hostname.get', {})).toBe(null);
  });
});

describe('roles', () => {
  const OPS = { ops: { permissions: [], commands: { exec: ['id'] } } } as Parameters<
    typeof commandPolicy
  >[1];
  it('a role name that is a member of every object grants nothing and restricts nothing', () => {
    for (const role of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(commandPolicy([role], {})).toBeNull();
      expect(commandPolicy([role, 'ops'], OPS)).toMatchObject({ exec: ['id'] });
    }
  });
});

describe('exec patterns', () => {
  it('allow one argument per word, `*` matching within it', () => {
    expect(exec(echoer, 'cat', '/var/log/syslog')).toBeNull();
    expect(exec(echoer, 'cat', '/var/log/syslog.1')).toBeNull();
    // Exec arguments reach the program as they are: no shell reads them.
    expect(exec(echoer, 'cat', '/var/log/a b;c$(d)')).toBeNull();
    expect(exec(ops, 'systemctl', 'status', 'nginx')).toBeNull();
    expect(exec(ops, 'journalctl', '-u', 'nginx', '-n', '50')).toBeNull();
    expect(exec(ops, 'ls', '-l', '/srv/app/logs')).toBeNull();
  });

  it.each([
    ['a "/" inside the `*`', ['cat', '/var/log/a/b']],
    ['a ".." segment', ['cat', '/var/log/..']],
    ['a "." segment', ['cat', '/var/log/.']],
    ['a "./" before the name', ['cat', '/var/log/./syslog']],
    ['a doubled leading slash', ['cat', '//var/log/syslog']],
    ['a doubled slash inside', ['cat', '/var/log//syslog']],
    ['an empty `*`', ['cat', '/var/log/']],
    ['a NUL byte', ['cat', '/var/log/sys\0log']],
    ['an extra argument', ['cat', '/var/log/syslog', '/etc/shadow']],
    ['a missing argument', ['cat']],
    ['an empty argument', ['cat', '']],
    ['another program', ['tac', '/var/log/syslog']],
    ['a program by path', ['/bin/cat', '/var/log/syslog']],
  ])('refuse %s', (_, argv) => {
    expect(exec(echoer, ...argv)).toMatch(/matches none/);
  });

  it('refuse an option where the pattern writes none, and allow one where it does', () => {
    expect(exec(ops, 'systemctl', 'status', '-H')).toMatch(/matches none/);
    expect(exec(ops, 'systemctl', 'status', '--root=/')).toMatch(/matches none/);
    expect(exec(ops, 'journalctl', '-u', 'a', '-n', '-5')).toMatch(/matches none/);
    expect(exec(ops, 'journalctl', '--lines=5', '-u', 'nginx')).toBeNull();
    // A `-` inside the `*` (not leading) is just a character.
    expect(exec(ops, 'systemctl', 'status', 'user-1000')).toBeNull();
    expect(exec(ops, 'ls', '-l', '/srv/-x/logs')).toBeNull();
  });

  it('refuse a leading "+" or "@" where the pattern writes none, and allow one where it does', () => {
    const p: CommandPolicy = {
      exec: ['tail -n * /var/log/*', 'gcc -c *', 'tail +* /var/log/*', 'javac @*'],
      shell: ['echo *', 'tail -n * /var/log/syslog'],
    };
    // `tail -n +1` counts from the start, `gcc @file` reads its arguments from a file.
    expect(exec(p, 'tail', '-n', '+1', '/var/log/syslog')).toMatch(
      /matches none \(each word of a pattern is one argument; a \* matches characters other than "\/", not a leading "-", "\+" or "@" the pattern does not write/,
    );
    expect(exec(p, 'tail', '-n', '10', '/var/log/@x')).toBeNull();
    expect(exec(p, 'gcc', '-c', '@/etc/osapi/args')).toMatch(/matches none/);
    expect(exec(p, 'gcc', '-c', '+x')).toMatch(/matches none/);
    // Inside the `*` (not leading) they are just characters.
    expect(exec(p, 'gcc', '-c', 'a+b@c.c')).toBeNull();
    // Where the pattern writes one, the `*` follows it.
    expect(exec(p, 'tail', '+5', '/var/log/syslog')).toBeNull();
    expect(exec(p, 'javac', '@args')).toBeNull();
    expect(exec(p, 'javac', '+args')).toMatch(/matches none/);
    expect(exec(p, 'javac', '@@args')).toBeNull();
    for (const line of ['echo +x', 'echo @x', 'tail -n +1 /var/log/syslog']) {
      expect(shell(p, line), line).toMatch(
        /matches none \(the line must be a pattern as written, where a \* matches one or more of A-Z a-z 0-9 _ \. : , @ \+ % -, not a leading "-", "\+" or "@" the pattern does not write/,
      );
    }
    expect(shell(p, 'echo a+b@c')).toBeNull();
    expect(shell(p, 'tail -n 1 /var/log/syslog')).toBeNull();
  });

  it('match the program like any other word: a `*` in it is part of one name, never a path', () => {
    expect(exec(ops, 'run-parts', '--version')).toBeNull();
    expect(exec(ops, 'run-a/b', '--version')).toMatch(/matches none/);
    expect(exec(ops, '/bin/run-parts', '--version')).toMatch(/matches none/);
    expect(exec(ops, 'uname', '--version')).toMatch(/matches none/);
  });

  it('allow nothing to a pattern whose program is a bare `*` (the config refuses it: exec: true says so)', () => {
    // A policy signed before the config refused them, say.
    const p: CommandPolicy = { exec: ['* --version', '** -h', '*'], shell: [] };
    expect(exec(p, 'uname', '--version')).toMatch(/matches none/);
    expect(exec(p, 'sh', '-h')).toMatch(/matches none/);
    expect(exec(p, 'id')).toMatch(/matches none/);
  });

  it('refuse `..` where the `*` sits between literal directories', () => {
    expect(exec(ops, 'ls', '-l', '/srv/../logs')).toMatch(/matches none/);
    expect(exec(ops, 'ls', '-l', '/srv/a/../logs')).toMatch(/matches none/);
  });

  it('split a pattern on runs of spaces', () => {
    const p = { exec: ['  systemctl   status  * '], shell: [] };
    expect(exec(p, 'systemctl', 'status', 'nginx')).toBeNull();
  });

  it('stay linear on a long hostile argument against several `*`', () => {
    // A backtracking RegExp of `*a*a*a*a*b` would take hours on this.
    const p = { exec: ['echo *a*a*a*a*b'], shell: [] };
    expect(exec(p, 'echo', 'a'.repeat(65_536))).toMatch(/matches none/);
    expect(exec(p, 'echo', `${'a'.repeat(65_536)}b`)).toBeNull();
  });

  it('allow anything to `exec: true`, and still no shell', () => {
    const p = commandPolicy(['anyExec'], ROLES);
    expect(p).toMatchObject({ exec: true, shell: [] });
    expect(exec(p, '/bin/sh', '-c', 'id; cat /etc/shadow')).toBeNull();
    expect(shell(p, 'id')).toMatch(/allows no shell commands/);
  });
});

describe('shell patterns', () => {
  it('allow the line as written, `*` being one safe word', () => {
    expect(shell(echoer, 'echo hi')).toBeNull();
    expect(shell(echoer, 'echo a.b:c,d@e+f%g-h_9')).toBeNull();
    expect(shell(ops, 'uptime | cut -c1-20')).toBeNull();
    expect(shell(ops, 'journalctl -u nginx.service')).toBeNull();
    expect(shell(ops, 'df -h /srv')).toMatch(/matches none/);
  });

  it.each([
    'echo',
    'echo ',
    ' echo hi',
    'echo hi ',
    'echo  hi',
    'echo\thi',
    'echo hi there',
    'echo -e',
    'echo .',
    'echo ..',
    'echo ~',
    'echo ~root',
    'echo a=b',
    'echo a/b',
    'echo *',
    'echo ?',
    'echo [a]',
    'echo {a,b}',
    'echo #x',
    'echo !x',
    'echo $HOME',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, meant literally
    'echo ${x}',
    "echo 'a'",
    'echo "a"',
    'echo a>b',
    'echo a<b',
    'echo a\\b',
    'echo hi\r',
    'echo (a)',
    'echo \0',
    'echo é',
  ])('refuse %j under `echo *`', (line) => {
    expect(shell(echoer, line)).toMatch(/matches none/);
  });

  it('refuse a line that changes a literal pattern at all', () => {
    for (const line of [
      'uptime | cut -c1-20; id',
      'uptime | cut -c1-20 > /etc/motd',
      'uptime | cut -c1-200',
      'uptime  | cut -c1-20',
      'uptime | cut -c1-20\n',
      'journalctl -u $(id).service',
      'journalctl -u -x.service',
      'journalctl -u a;b.service',
    ]) {
      expect(shell(ops, line), line).toMatch(/matches none/);
    }
  });

  it('allow any line to `shell: true`, the meaning it always had', () => {
    const p = commandPolicy(['anyShell'], ROLES);
    expect(p).toMatchObject({ shell: true, exec: [] });
    expect(shell(p, 'echo hi; id')).toBeNull();
    expect(exec(p, 'id')).toMatch(/allows no exec commands/);
  });

  it('allow nothing to a pattern with a bare `*` where a program goes', () => {
    const p: CommandPolicy = {
      exec: [],
      shell: ['* -a', 'uptime | *', 'uptime; *', 'uptime && *', 'LANG=C *', ' *'],
    };
    for (const line of [
      'uname -a',
      'uptime | sh',
      'uptime; id',
      'uptime && id',
      'LANG=C id',
      ' id',
    ]) {
      expect(shell(p, line), line).toMatch(/matches none/);
    }
  });

  it('refuse args on a shell job: its line is all the policy looks at', () => {
    expect(checkCommand(echoer, 'shell', 'echo hi', ['; id'])).toMatch(/has args/);
  });
});

describe('cwd', () => {
  it.each(['/tmp', '/srv/app', '/srv/my app'])('allows %j where listed', (cwd) => {
    expect(checkWorkingDir(ops, cwd)).toBeNull();
  });

  it.each([
    '/',
    '/tmp/',
    '/tmp/..',
    '/tmp/x',
    '/srv',
    '/srv/',
    '/srv/..',
    '/srv/.',
    '/srv/a/b',
    '//srv/a',
    '/srv/../etc',
    'srv/a',
  ])('refuses %j, naming the list', (cwd) => {
    expect(checkWorkingDir(ops, cwd)).toBe(
      `the command policy of this token's roles allows cwd "/tmp", "/srv/*" only; ${JSON.stringify(cwd)} matches none (a * matches characters other than "/", and no "." or ".." path segment)`,
    );
  });

  it('is refused under a policy signed without a cwd list, and free without a policy', () => {
    const signedBefore: CommandPolicy = { exec: ['cat /var/log/*'], shell: [] };
    expect(checkWorkingDir(signedBefore, '/tmp')).toMatch(/lists no cwd directories/);
    expect(checkWorkingDir(signedBefore, undefined)).toBeNull();
    expect(checkWorkingDir(null, '/anywhere/..')).toBeNull();
  });

  it('combines by union across roles; a role without a policy lifts it', () => {
    expect(commandPolicy(['echoer', 'ops'], ROLES)?.cwd).toEqual(['/tmp', '/srv/*']);
    expect(commandPolicy(['echoer', 'anyShell'], ROLES)).toMatchObject({
      exec: ['cat /var/log/*'],
      shell: true,
    });
    expect(commandPolicy(['echoer', 'admin'], ROLES)).toBeNull();
  });
});

describe('where a pattern lets any program run', () => {
  it.each([
    ['exec', '* --version', '*'],
    ['exec', '  ** -h', '**'],
    ['exec', '*', '*'],
    ['shell', '*', '*'],
    ['shell', '* -a', '*'],
    ['shell', ' *', '*'],
    ['shell', 'uptime | *', '*'],
    ['shell', 'uptime || * x', '*'],
    ['shell', 'uptime && *', '*'],
    ['shell', 'uptime; *', '*'],
    ['shell', 'uptime & *', '*'],
    ['shell', 'echo $( * )', '*'],
    ['shell', '( * )', '*'],
    ['shell', '! *', '*'],
    ['shell', 'LANG=C A=1 *', '*'],
    ['shell', 'if true; then *; fi', '*'],
    ['shell', 'uptime|*', '*'],
    ['shell', 'echo `*`', '*'],
    ['shell', 'echo $(*)', '*'],
    ['shell', "'*' -a", "'*'"],
    ['shell', '\\* -a', '\\*'],
    ['shell', '> /tmp/out *', '*'],
    ['shell', '2>&1 *', '*'],
    ['shell', 'time *', '*'],
    ['shell', '{ *; }', '*'],
  ] as const)('%s %j: %j', (mode, pattern, word) => {
    expect(anyProgramWord(mode, pattern)).toBe(word);
  });

  it.each([
    ['exec', 'cat /var/log/*'],
    ['exec', 'run-* --version'],
    ['exec', '/usr/local/bin/* --version'],
    ['exec', 'echo *'],
    ['exec', 'echo * *'],
    ['shell', 'echo *'],
    ['shell', 'echo A=1 *'],
    ['shell', 'journalctl -u *.service | tail -n 5'],
    ['shell', 'uptime | cut -c1-20'],
    ['shell', 'echo * | wc -c'],
    ['shell', 'echo `date` *'],
    ['shell', 'uptime > *'],
    ['shell', 'uptime 2>&1 *'],
    ['shell', 'find /srv -name * -exec ls {} ;'],
    ['shell', 'cut -d* -f1 < /etc/passwd'],
  ] as const)('not %s %j', (mode, pattern) => {
    expect(anyProgramWord(mode, pattern)).toBeUndefined();
  });
});

describe('the role config', () => {
  const load = (commands: unknown) =>
    loadConfig({
      env: {},
      defaultFile: null,
      overrides: {
        'api.server.security.roles': { ops: { permissions: ['command:execute'], commands } },
      },
    });

  it('takes `exec: true` and a cwd list', () => {
    const commands = { exec: true, shell: ['echo *'], cwd: ['/srv/*'] };
    expect(load(commands).config.api.server.security.roles).toEqual({
      ops: { permissions: ['command:execute'], commands },
    });
  });

  it('refuses a pattern whose program is a bare `*`, naming the role and the pattern', () => {
    let err: unknown;
    try {
      load({ exec: ['cat /var/log/*', '* --version'], shell: ['uptime', 'uptime | *'] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      'api.server.security.roles.ops.commands.exec.1: role "ops" has the exec pattern "* --version", where "*" stands for the program, so it would allow any program; name the program, or write exec: true to allow any command (from override)',
      'api.server.security.roles.ops.commands.shell.1: role "ops" has the shell pattern "uptime | *", where "*" stands for the program, so it would allow any program; name the program, or write shell: true to allow any line (from override)',
    ]);
    expect(load({ exec: ['run-* --version'], shell: ['echo *'] }).config).toBeDefined();
  });

  it('refuses a cwd that is not a list of directories, naming the field', () => {
    let err: unknown;
    try {
      load({ cwd: '/srv', exec: 'cat *' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      'api.server.security.roles.ops.commands.exec: expected true, false or a list of patterns such as "systemctl status *", got "cat *" (from override)',
      'api.server.security.roles.ops.commands.cwd: expected a list of directories (or patterns such as "/srv/*") commands may run in, got "/srv" (from override)',
    ]);
  });
});
