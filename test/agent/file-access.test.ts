// The agent's side of the file store against a real nats-server: objects of
// several chunks read back whole by direct reads, refused when their content
// is not the job's; deployment records per path. And the template renderer:
// strict about missing variables, no partials, no HTML escaping.
import { createHash, randomBytes } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { describe, expect, it } from 'vitest';
import { natsDeploymentRecords, natsObjectReader } from '../../src/agent/file-access.js';
import { nestedFacts, renderTemplate } from '../../src/agent/handlers/template.js';
import { natsFileStore } from '../../src/api/files/store.js';
import { ensureLayout } from '../../src/nats/layout.js';
import { silentLogger, useTestNats } from '../support/nats.js';
import { testLayout } from '../support/settings.js';

const t = useTestNats();
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const signal = new AbortController().signal;

async function setUp(namespace: string) {
  const { names } = await ensureLayout(t.nc, testLayout(namespace));
  const store = natsFileStore(
    await new Objm(t.nc).open(names.filesBucket),
    { nc: t.nc, js: jetstream(t.nc), bucket: names.deploymentsBucket },
    silentLogger,
  );
  return { names, store };
}

describe('reading objects', () => {
  it('reads an object of many chunks whole, and only with the digest the job carries', async () => {
    const { names, store } = await setUp('fa1');
    // 128 KiB chunks: this is five of them, the last one short.
    const content = randomBytes(4 * 128 * 1024 + 1000);
    await store.upload('big', content, 'raw', false);
    const reader = natsObjectReader(t.nc, names, 1024 * 1024);
    expect(
      Buffer.compare(Buffer.from(await reader.read('big', sha(content), signal)), content),
    ).toBe(0);

    await expect(reader.read('big', '0'.repeat(64), signal)).rejects.toThrow(
      /changed in the file store since this job was made/,
    );
    await expect(reader.read('absent', sha(content), signal)).rejects.toThrow(
      /no longer holds absent/,
    );
    await expect(
      natsObjectReader(t.nc, names, 1000).read('big', sha(content), signal),
    ).rejects.toThrow(/more than this agent takes/);
  });

  it('reads the latest content of a replaced object, and none of a deleted one', async () => {
    const { names, store } = await setUp('fa2');
    const one = Buffer.from('one');
    const two = Buffer.from('two, longer');
    await store.upload('obj', one, 'raw', false);
    await store.upload('obj', two, 'raw', true);
    const reader = natsObjectReader(t.nc, names, 1024);
    expect(Buffer.from(await reader.read('obj', sha(two), signal)).toString()).toBe('two, longer');
    await store.remove('obj');
    await expect(reader.read('obj', sha(two), signal)).rejects.toThrow(/no longer holds obj/);
  });

  it('keeps one record per path, for its own host only', async () => {
    const { names } = await setUp('fa3');
    const a = natsDeploymentRecords(t.nc, names, 'host-a');
    const b = natsDeploymentRecords(t.nc, names, 'host-b');
    const record = {
      hostname: 'host-a',
      path: '/etc/x.conf',
      object_name: 'x',
      deployed_sha: 'a'.repeat(64),
      written_sha: 'b'.repeat(64),
      content_type: 'raw',
      deployed_at: new Date().toISOString(),
    };
    await a.put(record);
    expect(await a.get('/etc/x.conf')).toEqual(record);
    expect(await b.get('/etc/x.conf')).toBeNull();
    await a.remove('/etc/x.conf');
    expect(await a.get('/etc/x.conf')).toBeNull();
  });
});

describe('templates', () => {
  it('stops a render that would take too long or write too much', () => {
    const list = Array.from({ length: 300 }, (_, i) => i);
    const nested = '{{#vars.l}}{{#vars.l}}{{#vars.l}}x{{/vars.l}}{{/vars.l}}{{/vars.l}}';
    const big = { hostname: 'h', facts: {}, vars: { l: list } };
    expect(() => renderTemplate(nested, big)).toThrow(/more than 1000000 steps/);
    const wide = { hostname: 'h', facts: {}, vars: { l: list, s: 'y'.repeat(100_000) } };
    expect(() => renderTemplate('{{#vars.l}}{{vars.s}}{{/vars.l}}', wide)).toThrow(
      /more than 16777216 characters/,
    );
    // A long list rendered once is fine.
    expect(renderTemplate('{{#vars.l}}.{{/vars.l}}', big)).toHaveLength(300);
  });

  const view = {
    hostname: 'web-1',
    facts: nestedFacts(
      new Map([
        ['os.distribution', 'debian'],
        ['custom.rack', 'r7'],
      ]),
    ),
    vars: { port: 8080, tags: ['a', 'b'], html: '<b>&' },
  };

  it('renders names, nested facts, lists and values as they are', () => {
    expect(
      renderTemplate(
        'listen {{vars.port}} on {{hostname}} ({{facts.os.distribution}}, rack {{facts.custom.rack}}){{#vars.tags}} {{.}}{{/vars.tags}} {{vars.html}}',
        view,
      ),
    ).toBe('listen 8080 on web-1 (debian, rack r7) a b <b>&');
  });

  it('fails on a variable the host lacks, a partial, or a template it cannot read', () => {
    expect(() => renderTemplate('{{vars.missing}}', view)).toThrow(/vars\.missing/);
    expect(() => renderTemplate('{{facts.os.codename}}', view)).toThrow(/facts\.os\.codename/);
    expect(() => renderTemplate('{{> other}}', view)).toThrow(/partials are not supported/);
    expect(() => renderTemplate('{{#vars.tags}}', view)).toThrow(/cannot be read/);
    // A section of a missing name is simply not rendered: that is how a template tests for it.
    expect(renderTemplate('{{#vars.missing}}x{{/vars.missing}}y', view)).toBe('y');
  });

  it('calls nothing: a view is data, and a name of a prototype member finds nothing', () => {
    for (const name of [
      'vars.constructor',
      'facts.constructor',
      'vars.tags.constructor',
      'vars.__proto__',
      'hostname.constructor',
    ]) {
      expect(() => renderTemplate(`{{${name}}}`, view), name).toThrow(
        /which this host does not have/,
      );
      expect(renderTemplate(`{{#${name}}}x{{/${name}}}`, view), name).toBe('');
    }
    for (const name of [
      'hostname.__proto__.__proto__',
      'hostname.constructor.name',
      'vars.port.toString',
      'vars.tags.map',
    ]) {
      expect(() => renderTemplate(`{{${name}}}`, view), name).toThrow(
        /which this host does not have/,
      );
    }
    expect(renderTemplate('{{hostname.length}}', view)).toBe('5');
  });
});
