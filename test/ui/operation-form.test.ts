// The Operations page's pure parts: an operation's input schema into form
// fields, what is typed into the request (input, route, body) or the
// problems per field, the API's 400 fields back onto the form, `@fact.`
// completions, which operations a token is offered, the host page's list
// sections, and the answer's summary.
import { Type } from 'typebox';
import { describe, expect, it } from 'vitest';
import { OPERATIONS, type OperationDeclaration } from '../../src/contract/operations.js';
import { BUILTIN_ROLES } from '../../src/contract/permissions.js';
import { hostReads, rowMatches } from '../../src/ui/host-reads.js';
import { resultColumns, resultSummary } from '../../src/ui/operation-answer.js';
import {
  countOrPercent,
  emptyValues,
  type FormValues,
  factCompletions,
  formFields,
  listItems,
  mappingOf,
  operationGroups,
  problemsByField,
  readForm,
  shownBody,
} from '../../src/ui/operation-form.js';

const decl = (t: keyof typeof OPERATIONS): OperationDeclaration => OPERATIONS[t];

/** The form of `type` read with `typed` over its empty values. */
function read(type: keyof typeof OPERATIONS, typed: FormValues, target = '_all') {
  const d = decl(type);
  const fields = formFields(d);
  return readForm(d, fields, { ...emptyValues(fields), ...typed }, target);
}

describe('formFields', () => {
  it('makes a field of each input property, by its schema', () => {
    const fields = formFields(decl('file.deploy'));
    expect(fields.map((f) => [f.name, f.kind, f.required])).toEqual([
      ['object_name', 'text', true],
      ['path', 'text', true],
      ['mode', 'text', false],
      ['owner', 'text', false],
      ['group', 'text', false],
      ['content_type', 'choice', true],
      ['vars', 'mapping', false],
      ['max_concurrency', 'rate', false],
      ['max_errors', 'rate', false],
    ]);
    const byName = Object.fromEntries(fields.map((f) => [f.name, f]));
    expect(byName.content_type?.choices).toEqual(['raw', 'template']);
    expect(byName.object_name?.label).toBe('Object name');
    expect(byName.mode?.hint).toMatch(/Octal file mode/);
    expect(byName.max_concurrency?.rateMin).toBe(1);
    expect(byName.max_errors?.rateMin).toBe(0);
    // A required choice starts on its first word; the rest start empty.
    expect(emptyValues(fields)).toMatchObject({ content_type: 'raw', path: '', vars: '' });
  });

  it('takes lists, integers, mappings and path fields; a pattern with no description is the hint', () => {
    const dns = formFields(decl('network.dns.update'));
    expect(dns.filter((f) => f.kind === 'list').map((f) => f.name)).toEqual([
      'servers',
      'search_domains',
    ]);
    const exec = Object.fromEntries(
      formFields(decl('command.exec.execute')).map((f) => [f.name, f]),
    );
    expect(exec.timeout?.kind).toBe('integer');
    expect(exec.env?.kind).toBe('mapping');
    expect(exec.args?.kind).toBe('list');
    const start = formFields(decl('service.start'));
    expect(start.find((f) => f.name === 'name')).toMatchObject({ inPath: true, required: true });
    const get = formFields(decl('network.dns.get'));
    expect(get).toEqual([
      expect.objectContaining({
        name: 'interface_name',
        inPath: true,
        hint: 'matches ^[A-Za-z0-9]{1,15}$',
      }),
    ]);
  });

  it('offers rate control only for a change', () => {
    const asRead = { ...decl('service.start'), kind: 'query' } as OperationDeclaration;
    expect(formFields(asRead).map((f) => f.name)).toEqual(['name']);
    expect(formFields(decl('service.start')).map((f) => f.name)).toEqual([
      'name',
      'max_concurrency',
      'max_errors',
    ]);
    expect(formFields(decl('node.hostname.get'))).toEqual([]);
  });

  it('makes a checkbox of a boolean and JSON of any other shape', () => {
    const odd = {
      ...decl('file.status'),
      input: Type.Object({
        force: Type.Optional(Type.Boolean()),
        must: Type.Boolean(),
        ports: Type.Optional(Type.Array(Type.Integer())),
      }),
    } as OperationDeclaration;
    const fields = formFields(odd);
    expect(fields.map((f) => f.kind)).toEqual(['boolean', 'boolean', 'json']);
    const r = readForm(odd, fields, { force: true, must: false, ports: '[80, 443]' }, 'h');
    expect(r).toMatchObject({ ok: true, input: { force: true, must: false, ports: [80, 443] } });
    // An unticked optional box is left out: the host's default applies.
    expect(readForm(odd, fields, { force: false, must: true, ports: '' }, 'h')).toMatchObject({
      ok: true,
      input: { must: true },
    });
    expect(readForm(odd, fields, { ports: '[80,' }, 'h')).toEqual({
      ok: false,
      problems: [{ field: 'ports', message: 'is not valid JSON' }],
    });
  });
});

describe('secret fields', () => {
  it('types a password into a password box and masks it where the request is shown', () => {
    const withPassword = {
      ...decl('file.status'),
      kind: 'modify',
      input: Type.Object({ name: Type.String(), password: Type.Optional(Type.String()) }),
    } as OperationDeclaration;
    const fields = formFields(withPassword);
    expect(fields.map((f) => [f.name, f.secret])).toEqual([
      ['name', false],
      ['password', true],
    ]);
    const r = readForm(withPassword, fields, { name: 'bob', password: 'hunter2' }, 'h');
    expect(r).toMatchObject({ ok: true, body: { name: 'bob', password: 'hunter2' } });
    if (r.ok && r.body) {
      expect(shownBody(fields, r.body)).toEqual({ name: 'bob', password: '••••••' });
    }
  });
});

describe('readForm', () => {
  it('puts path fields in the route and the rest in the body, rate control included', () => {
    const r = read('service.start', { name: ' nginx ', max_concurrency: '10%', max_errors: '0' });
    expect(r).toEqual({
      ok: true,
      input: { name: 'nginx', max_concurrency: '10%', max_errors: 0 },
      route: 'POST /node/_all/service/nginx/start',
      body: { max_concurrency: '10%', max_errors: 0 },
    });
    // A GET carries no body; its parameter is encoded as the SDK sends it.
    expect(read('network.dns.get', { interface_name: 'eth0' }, 'group:web')).toEqual({
      ok: true,
      input: { interface_name: 'eth0' },
      route: 'GET /node/group%3Aweb/network/dns/eth0',
      body: null,
    });
    expect(read('node.hostname.get', {})).toMatchObject({
      ok: true,
      input: {},
      route: 'GET /node/_all/hostname',
    });
  });

  it('reads lists comma-separated or one per line, and [] as the empty list', () => {
    expect(
      read('network.dns.update', {
        interface_name: 'eth0',
        servers: '192.0.2.53, 2001:db8::53',
        search_domains: 'corp.example\n\nexample.org\n',
      }),
    ).toMatchObject({
      ok: true,
      body: {
        interface_name: 'eth0',
        servers: ['192.0.2.53', '2001:db8::53'],
        search_domains: ['corp.example', 'example.org'],
      },
    });
    expect(listItems('[]')).toEqual([]);
    expect(
      read('network.dns.update', { interface_name: 'eth0', search_domains: '[]' }),
    ).toMatchObject({ ok: true, input: { search_domains: [] } });
    // servers takes one at least.
    expect(read('network.dns.update', { interface_name: 'eth0', servers: '[]' })).toEqual({
      ok: false,
      problems: [{ field: 'servers', message: 'must hold one item at least' }],
    });
  });

  it('reads a choice and a mapping as name=value lines or a JSON object', () => {
    const base = { object_name: 'motd', path: '/etc/motd' };
    expect(
      read('file.deploy', { ...base, content_type: 'template', vars: 'team=web\nport=8080' }),
    ).toMatchObject({
      ok: true,
      body: { content_type: 'template', vars: { team: 'web', port: '8080' } },
    });
    expect(read('file.deploy', { ...base, vars: '{"port": 8080, "tls": true}' })).toMatchObject({
      ok: true,
      body: { content_type: 'raw', vars: { port: 8080, tls: true } },
    });
    expect(mappingOf('a=1=2')).toEqual({ ok: true, value: { a: '1=2' } });
    expect(mappingOf('[1]')).toMatch(/name=value/);
    expect(mappingOf('{"a":')).toMatch(/not valid JSON/);
    const bad = read('file.deploy', { ...base, vars: '9lives=x', content_type: 'pdf' });
    expect(bad).toEqual({
      ok: false,
      problems: [
        { field: 'content_type', message: 'must be raw or template' },
        { field: 'vars', message: expect.stringMatching(/^"9lives" is not a valid name/) },
      ],
    });
  });

  it('names every field at fault at once: required, pattern, range, rate control', () => {
    const r = read('file.deploy', { mode: '99x', max_concurrency: '0', max_errors: '101%' });
    expect(r).toEqual({
      ok: false,
      problems: [
        { field: 'object_name', message: 'is required' },
        { field: 'path', message: 'is required' },
        { field: 'mode', message: 'must be an octal file mode such as 0644 or 0755' },
        {
          field: 'max_concurrency',
          message: 'must be a whole number (1 or more) or a percentage such as "10%"',
        },
        {
          field: 'max_errors',
          message: 'must be a whole number (0 or more) or a percentage such as "10%"',
        },
      ],
    });
    const exec = decl('command.exec.execute');
    const fields = formFields(exec);
    for (const timeout of ['0', '301', '1.5', 'x']) {
      expect(readForm(exec, fields, { command: 'ls', timeout }, 'h')).toEqual({
        ok: false,
        problems: [{ field: 'timeout', message: 'must be a whole number from 1 to 300' }],
      });
    }
    expect(readForm(exec, fields, { command: 'ls', env: 'BAD-NAME=1' }, 'h')).toMatchObject({
      ok: false,
      problems: [{ field: 'env', message: expect.stringMatching(/letters, digits and _/) }],
    });
    expect(countOrPercent(' 5 ', 1)).toBe(5);
    expect(countOrPercent('0', 1)).toBeNull();
  });

  it('leaves a field holding @fact. to each agent, but refuses a malformed reference', () => {
    const ok = read('file.deploy', {
      object_name: 'motd',
      path: '/srv/app-@fact.hostname',
      owner: '@fact.custom.owner',
    });
    expect(ok).toMatchObject({ ok: true, input: { owner: '@fact.custom.owner' } });
    const bad = read('file.deploy', { object_name: 'motd', path: '/srv/@fact.' });
    expect(bad).toMatchObject({
      ok: false,
      problems: [{ field: 'path', message: expect.stringMatching(/is not a fact reference/) }],
    });
  });
});

describe('problemsByField', () => {
  it("puts the API's 400 fields next to the form's fields; the rest under ''", () => {
    const d = decl('network.dns.update');
    const fields = formFields(d);
    const map = problemsByField(d, fields, [
      { field: 'servers[1]', message: 'must be an IPv4 or IPv6 address' },
      { field: 'interface_name', message: 'must be 1 to 15 letters or digits' },
      { field: 'body', message: 'is invalid' },
    ]);
    expect(Object.fromEntries(map)).toEqual({
      servers: ['servers[1] must be an IPv4 or IPv6 address'],
      interface_name: ['interface_name must be 1 to 15 letters or digits'],
      '': ['body is invalid'],
    });
    // A path field is named by its parameter in a 400 about the path.
    const get = decl('network.dns.get');
    expect(
      Object.fromEntries(
        problemsByField(get, formFields(get), [{ field: 'interfaceName', message: 'bad' }]),
      ),
    ).toEqual({ interface_name: ['interface_name bad'] });
  });
});

describe('factCompletions', () => {
  it('completes what follows the last @fact. with the known keys', () => {
    const keys = ['hostname', 'fqdn', 'interface.<name>.ipv4', 'interface.eth0.ipv4'];
    expect(factCompletions('/srv/app-@fact.', keys)).toEqual([
      '/srv/app-@fact.hostname',
      '/srv/app-@fact.fqdn',
      '/srv/app-@fact.interface.eth0.ipv4',
    ]);
    expect(factCompletions('x @fact.h', keys)).toEqual(['x @fact.hostname']);
    expect(factCompletions('/srv/app', keys)).toEqual([]);
  });
});

describe('operationGroups', () => {
  it('groups by the first word of the name, leaves commands to Run, and says why one is not allowed', () => {
    const groups = operationGroups(BUILTIN_ROLES.read);
    const domains = groups.map((g) => g.domain);
    expect(domains.slice(0, 4)).toEqual(['node', 'network', 'file', 'service']);
    expect(domains).not.toContain('command');
    const all = groups.flatMap((g) => g.operations);
    const of = (t: string) => all.find((o) => o.type === t);
    expect(of('node.hostname.get')?.reason).toBe('');
    expect(of('service.list')?.reason).toBe('');
    expect(of('service.start')?.reason).toBe(
      'needs service:write, which this token does not grant',
    );
    expect(operationGroups(BUILTIN_ROLES.admin).flatMap((g) => g.operations)).toSatisfy(
      (ops: Array<{ reason: string }>) => ops.every((o) => o.reason === ''),
    );
  });
});

describe('host page sections and answers', () => {
  it('shows a list section only for a declared operation, with its list and columns', () => {
    const reads = hostReads();
    const services = reads.find((r) => r.type === 'service.list');
    expect(services).toMatchObject({ title: 'Services', listField: 'services' });
    expect(services?.columns).toContain('name');
    expect(
      hostReads([
        { type: 'nothing.list', title: 'Nothing' },
        { type: 'service.list', title: 'Services' },
      ]).map((r) => r.type),
    ).toEqual(['service.list']);
    expect(rowMatches({ name: 'nginx.service', status: 'active' }, 'NGINX act')).toBe(true);
    expect(rowMatches({ name: 'nginx.service' }, 'ssh')).toBe(false);
  });

  it('sums an answer up, with the hosts that changed for a change', () => {
    const body = {
      job_id: 'j',
      results: [
        { hostname: 'a', status: 'ok', changed: true },
        { hostname: 'b', status: 'ok', changed: false },
        { hostname: 'c', status: 'skipped', changed: false, error: 'no systemd' },
      ],
    };
    expect(resultSummary(decl('service.start'), body)).toBe('3 hosts: 2 ok, 1 skipped; 1 changed');
    expect(resultSummary(decl('service.list'), body)).toBe('3 hosts: 2 ok, 1 skipped');
    expect(resultColumns(decl('file.status'))).toEqual([
      'path',
      'sha256',
      'object_name',
      'deployed_sha',
      'deployed_at',
    ]);
    expect(resultColumns(decl('file.deploy'))).toEqual(['path', 'sha256']);
  });
});

describe('the docker forms', () => {
  it('start auto_start ticked; unticked it sends false, ticked true', () => {
    const fields = formFields(decl('docker.container.create'));
    expect(emptyValues(fields).auto_start).toBe(true);
    expect(read('docker.container.create', { image: 'debian:12' })).toMatchObject({
      ok: true,
      input: { image: 'debian:12', auto_start: true },
    });
    expect(
      read('docker.container.create', { image: 'debian:12', auto_start: false }),
    ).toMatchObject({ ok: true, input: { image: 'debian:12', auto_start: false } });
  });

  it('say what a refused name, image, port or volume must be, in words', () => {
    const r = read('docker.container.create', {
      image: '-rf',
      name: '-x',
      ports: '99:80:tcp',
      volumes: 'rel/x:/y',
    });
    expect(r.ok).toBe(false);
    const messages = Object.fromEntries((r.ok ? [] : r.problems).map((p) => [p.field, p.message]));
    expect(messages.image).toMatch(/^must be an image reference/);
    expect(messages.name).toMatch(/^must be 2 to 128 letters/);
    expect(JSON.stringify(messages)).toMatch(/host_port:container_port/);
    expect(JSON.stringify(messages)).toMatch(/host_path:container_path/);
  });

  it('send a removal’s force in the query string, not the body', () => {
    expect(read('docker.container.remove', { id: 'web', force: true }, 'h-01')).toMatchObject({
      ok: true,
      input: { id: 'web', force: true },
      body: {},
    });
  });

  it('put the container id and the image in the path', () => {
    expect(
      read('docker.container.exec', { id: 'web', command: 'cat, /etc/hostname' }, 'h-01'),
    ).toMatchObject({
      ok: true,
      route: 'POST /node/h-01/container/docker/web/exec',
      body: { command: ['cat', '/etc/hostname'] },
    });
    expect(read('docker.image.remove', { image: 'debian:12' }, 'h-01')).toMatchObject({
      ok: true,
      route: expect.stringMatching(
        /^DELETE \/node\/h-01\/container\/docker\/image\/debian(:|%3A)12$/,
      ),
    });
  });
});
