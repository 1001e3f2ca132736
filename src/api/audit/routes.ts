// GET /audit, /audit/{id} and /audit/export (permission audit:read). Listing
// sorts keys, not entries: ids are time-ordered, so a page reads only its own
// entries; export streams, whatever the size of the log.
import { Readable } from 'node:stream';
import type { KV } from '@nats-io/kv';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ApiError } from '../errors.js';
import { auditIds, readAuditEntry } from './log.js';
import {
  AuditEntry,
  AuditExportQuery,
  AuditIdParams,
  AuditList,
  AuditListQuery,
} from './schemas.js';

export function registerAuditRoutes(app: FastifyInstance, deps: { kv: KV }): void {
  app.get<{ Querystring: { limit: number; offset: number } }>(
    '/audit',
    {
      config: { permission: 'audit:read' },
      schema: { querystring: AuditListQuery, response: { 200: AuditList } },
    },
    async (req) => {
      const ids = await auditIds(deps.kv);
      const page = ids.slice(req.query.offset, req.query.offset + req.query.limit);
      const entries = await Promise.all(page.map((id) => readAuditEntry(deps.kv, id)));
      return { total_items: ids.length, items: entries.filter((e) => e !== null) };
    },
  );

  app.get(
    '/audit/export',
    { config: { permission: 'audit:read' }, schema: { querystring: AuditExportQuery } },
    async (req, reply) => {
      const jsonl = (req.query as { format?: string }).format === 'jsonl';
      const ids = await auditIds(deps.kv);
      const kv = deps.kv;
      // Oldest first, as a log is read; one entry in memory at a time, and
      // the stream waits for a slow reader.
      async function* body() {
        if (!jsonl) yield `{"total_items":${ids.length},"items":[`;
        let first = true;
        for (const id of [...ids].reverse()) {
          const entry = await readAuditEntry(kv, id);
          if (!entry) continue;
          const text = JSON.stringify(entry);
          yield jsonl ? `${text}\n` : `${first ? '' : ','}${text}`;
          first = false;
        }
        if (!jsonl) yield ']}\n';
      }
      return reply
        .type(jsonl ? 'application/x-ndjson' : 'application/json')
        .header('cache-control', 'no-store')
        .send(Readable.from(body()));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/audit/:id',
    {
      config: { permission: 'audit:read' },
      schema: { params: AuditIdParams, response: { 200: Type.Object({ entry: AuditEntry }) } },
    },
    async (req) => {
      const entry = await readAuditEntry(deps.kv, req.params.id);
      if (!entry) throw new ApiError('not_found', `no audit entry ${req.params.id}`);
      return { entry };
    },
  );
}
