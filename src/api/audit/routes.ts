// GET /audit, /audit/{id} and /audit/export (permission audit:read). Listing
// sorts keys, not entries: ids are time-ordered, so a page reads only its own
// entries; export streams, whatever the size of the log. Both audit buckets
// (with and without a valid token) are read as one log, merged by id.
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import {
  AuditEntry,
  AuditExportQuery,
  AuditIdParams,
  AuditList,
  AuditListQuery,
} from '../../contract/audit.js';
import { ApiError } from '../errors.js';
import { type AuditBuckets, auditIds, readAuditEntry } from './log.js';

export function registerAuditRoutes(app: FastifyInstance, deps: { buckets: AuditBuckets }): void {
  app.get<{ Querystring: { limit: number; offset: number } }>(
    '/audit',
    {
      config: { permission: 'audit:read' },
      schema: {
        summary: 'Audit entries, newest first',
        querystring: AuditListQuery,
        response: { 200: AuditList },
      },
    },
    async (req) => {
      const ids = await auditIds(deps.buckets);
      const page = ids.slice(req.query.offset, req.query.offset + req.query.limit);
      const entries = await Promise.all(
        page.map((ref) => readAuditEntry(deps.buckets, ref.id, ref.kind)),
      );
      return { total_items: ids.length, items: entries.filter((e) => e !== null) };
    },
  );

  app.get(
    '/audit/export',
    {
      config: { permission: 'audit:read' },
      schema: {
        summary: 'Every audit entry, streamed (`?format=jsonl` for JSON lines)',
        querystring: AuditExportQuery,
      },
    },
    async (req, reply) => {
      const jsonl = (req.query as { format?: string }).format === 'jsonl';
      const ids = await auditIds(deps.buckets);
      const buckets = deps.buckets;
      // Oldest first, as a log is read; one entry in memory at a time, and
      // the stream waits for a slow reader.
      async function* body() {
        if (!jsonl) yield `{"total_items":${ids.length},"items":[`;
        let first = true;
        for (const ref of [...ids].reverse()) {
          const entry = await readAuditEntry(buckets, ref.id, ref.kind);
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
      schema: {
        summary: 'One audit entry',
        params: AuditIdParams,
        response: { 200: Type.Object({ entry: AuditEntry }) },
      },
    },
    async (req) => {
      const entry = await readAuditEntry(deps.buckets, req.params.id);
      if (!entry) throw new ApiError('not_found', `no audit entry ${req.params.id}`);
      return { entry };
    },
  );
}
