// The file store's routes: POST /file (upload, file:write), GET /file and
// GET /file/{name} (file:read), DELETE /file/{name} (file:write), and
// GET /file/stale (file:read): deployments whose object changed since.
// Objects are what POST /node/{target}/file/deploy writes to hosts.
import type { FastifyInstance } from 'fastify';
import {
  FileDeleteResponse,
  FileInfoResponse,
  FileListResponse,
  FileNameParams,
  FileUploadQuery,
  FileUploadRequest,
  FileUploadResponse,
  objectNameProblem,
  StaleDeploymentsResponse,
} from '../../contract/file.js';
import { ApiError, invalidField } from '../errors.js';
import { formToUpload, MultipartError } from './multipart.js';
import type { FileStore } from './store.js';

export interface FileRouteDeps {
  store: FileStore;
  /** The largest object taken, in bytes (api.server.files.max_bytes). */
  maxBytes: number;
}

// One character class, no groups: a pattern with a repeated group recurses per
// repetition and overflows the stack on a few MiB.
const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;

/** Padded base64 (RFC 4648): its alphabet, `=` only at the end, a multiple of 4 long. */
export function isBase64(text: string): boolean {
  return text.length % 4 === 0 && BASE64_CHARS.test(text);
}

function nameParam(name: string): string {
  const problem = objectNameProblem(name);
  if (problem) throw invalidField('params', 'name', problem);
  return name;
}

/** An error Fastify answers with its status: 415 for a form sent to any other route, 400 for a bad one. */
function statusError(statusCode: number, message: string): Error & { statusCode: number } {
  return Object.assign(new Error(message), { statusCode });
}

export function registerFileRoutes(app: FastifyInstance, deps: FileRouteDeps): void {
  const { store, maxBytes } = deps;
  app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (req, body, done) => {
    if (req.method !== 'POST' || req.routeOptions.url !== '/file') {
      done(statusError(415, 'multipart/form-data is taken by POST /file only'));
      return;
    }
    try {
      done(null, formToUpload(body as Buffer, String(req.headers['content-type'])));
    } catch (err) {
      if (err instanceof MultipartError) done(statusError(400, `invalid form: ${err.message}`));
      else done(err as Error);
    }
  });
  app.post<{ Body: FileUploadRequest; Querystring: { force?: boolean } }>(
    '/file',
    {
      config: { permission: 'file:write' },
      // Base64 takes 4 bytes per 3, plus room for the name and the JSON around it.
      bodyLimit: Math.ceil(maxBytes / 3) * 4 + 4096,
      schema: {
        summary:
          'Upload an object to the file store (JSON with the content base64-encoded, or multipart/form-data with a file part)',
        querystring: FileUploadQuery,
        body: FileUploadRequest,
        response: { 201: FileUploadResponse },
      },
    },
    async (req, reply) => {
      const { name, content, content_type = 'raw' } = req.body;
      const problem = objectNameProblem(name);
      if (problem) throw invalidField('body', 'name', problem);
      if (!isBase64(content))
        throw invalidField('body', 'content', 'must be base64 (RFC 4648, padded)');
      const bytes = Buffer.from(content, 'base64');
      if (bytes.length > maxBytes) {
        throw new ApiError(
          'payload_too_large',
          `the object is ${bytes.length} bytes, over the file store's limit of ${maxBytes} (api.server.files.max_bytes)`,
        );
      }
      const out = await store.upload(name, bytes, content_type, req.query.force === true);
      if (out.kind === 'exists') {
        throw new ApiError(
          'object_exists',
          `the file store holds ${name} with other content (sha256 ${out.info.sha256}); upload with force to replace it (?force=true; the CLI's --force)`,
        );
      }
      const { info } = out;
      reply.code(201);
      return {
        name: info.name,
        sha256: info.sha256,
        size: info.size,
        changed: out.changed,
        content_type: info.content_type,
      };
    },
  );

  app.get(
    '/file',
    {
      config: { permission: 'file:read' },
      schema: { summary: 'Objects of the file store', response: { 200: FileListResponse } },
    },
    async () => {
      const files = await store.list();
      return { files, total: files.length };
    },
  );

  // Before /file/:name: a static segment wins in the router, but the order reads so too.
  app.get(
    '/file/stale',
    {
      config: { permission: 'file:read' },
      schema: {
        summary: 'Deployments whose object changed (or was deleted) since they were deployed',
        response: { 200: StaleDeploymentsResponse },
      },
    },
    async () => {
      const stale = await store.stale();
      return { stale, total: stale.length };
    },
  );

  app.get<{ Params: { name: string } }>(
    '/file/:name',
    {
      config: { permission: 'file:read' },
      schema: {
        summary: "An object's name, digest, size and content type",
        params: FileNameParams,
        response: { 200: FileInfoResponse },
      },
    },
    async (req) => {
      const info = await store.info(nameParam(req.params.name));
      if (!info) throw new ApiError('not_found', `the file store has no object ${req.params.name}`);
      return {
        name: info.name,
        sha256: info.sha256,
        size: info.size,
        content_type: info.content_type,
      };
    },
  );

  app.delete<{ Params: { name: string } }>(
    '/file/:name',
    {
      config: { permission: 'file:write' },
      schema: {
        summary: 'Delete an object (files deployed from it stay on the hosts)',
        params: FileNameParams,
        response: { 200: FileDeleteResponse },
      },
    },
    async (req) => {
      const name = nameParam(req.params.name);
      if (!(await store.remove(name))) {
        throw new ApiError('not_found', `the file store has no object ${name}`);
      }
      return { name, deleted: true };
    },
  );
}
