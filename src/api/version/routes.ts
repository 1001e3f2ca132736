// GET /version: open, so tooling can check compatibility
// before it holds a token.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { VERSION } from '../../version.js';

const Version = Type.Object({ version: Type.String() });

export function registerVersionRoute(app: FastifyInstance): void {
  app.get(
    '/version',
    {
      config: { permission: 'public' },
      schema: { summary: "The server's version", response: { 200: Version } },
    },
    async () => ({ version: VERSION }),
  );
}
