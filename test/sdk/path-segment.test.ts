// A path field of `.` or `..` never leaves the SDK: a URL would resolve it
// away into another route (a key's removal becoming its user's, DELETE
// /node/h/user/bob), encoded or not. The API refuses it as the field it is.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  OPERATIONS,
  operationPathOf,
  PathSegmentError,
  pathSegment,
} from '../../src/contract/operations.js';
import { OsapiClient } from '../../src/sdk/client.js';
import { startTestSystem, type TestSystem } from '../support/system.js';

describe('pathSegment', () => {
  it('encodes a value as one segment, and refuses what a URL would resolve into another route', () => {
    expect(pathSegment('a/b', 'name')).toBe('a%2Fb');
    expect(pathSegment('...', 'name')).toBe('...');
    for (const bad of ['.', '..', '']) {
      expect(() => pathSegment(bad, 'fingerprint')).toThrow(PathSegmentError);
    }
    expect(() =>
      operationPathOf(OPERATIONS['user.sshkey.remove'], 'h', { name: 'bob', fingerprint: '..' }),
    ).toThrow(/^fingerprint: "\.\." cannot be sent as part of a path/);
  });
});

describe('through the SDK, and over HTTP as it is', () => {
  let sys: TestSystem;
  let token: string;
  beforeAll(async () => {
    sys = await startTestSystem();
    await sys.startAgent('ps-01');
    await sys.waitForAgents(['ps-01']);
    token = await sys.token(['admin']);
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('the SDK refuses a fingerprint of `..` before sending anything', async () => {
    const client = new OsapiClient({ url: sys.url, token });
    await expect(
      client.userSshKeyRemove('ps-01', { name: 'osapitest-nobody', fingerprint: '..' }),
    ).rejects.toThrow(PathSegmentError);
  });

  it('the API, given the encoded `..` as it is, refuses it as a fingerprint', async () => {
    const { port } = new URL(sys.url);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method: 'DELETE',
          path: '/node/ps-01/user/osapitest-nobody/ssh-key/%2E%2E',
          headers: { authorization: `Bearer ${token}` },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            body += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).fields.map((f: { field: string }) => f.field)).toEqual([
      'fingerprint',
    ]);
  });
});
