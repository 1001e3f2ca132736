// PUT /node/{target}/network/dns (network:write): sets DNS servers and/or
// search domains on each host the target reaches, as a `network.dns.update`
// job (a modify job, like commands). Each item says `ok` or `failed` and
// whether the host's configuration changed.
import type { FastifyInstance } from 'fastify';
import { DnsUpdateResponse } from '../../contract/node.js';
import { DnsUpdateData } from '../../job/node-operations.js';
import type { NodeRun } from './routes.js';
import { type NodeAnswer, NodeParams } from './schemas.js';
import { nodeOperationData } from './validate.js';

export { DnsUpdateRequest, DnsUpdateResponse } from '../../contract/node.js';

/** The node routes' answer with its per-item status: `completed` reads `ok`. */
export function dnsUpdateAnswer(answer: NodeAnswer): DnsUpdateResponse {
  return {
    job_id: answer.job_id,
    results: answer.results.map((r) => ({
      hostname: r.hostname,
      status: r.status === 'completed' ? 'ok' : r.status,
      // A failed or silent host answers no result: nothing is known to have changed.
      changed: typeof r.changed === 'boolean' ? r.changed : false,
      ...(typeof r.source === 'string' ? { source: r.source } : {}),
      ...(r.error !== undefined ? { error: r.error } : {}),
    })),
  };
}

/** `run` dispatches the job and builds the node answer, as for the other node routes. */
export function registerDnsUpdateRoute(app: FastifyInstance, run: NodeRun): void {
  app.put<{ Params: { hostname: string }; Body: DnsUpdateData }>(
    '/node/:hostname/network/dns',
    {
      config: { permission: 'network:write' },
      schema: {
        summary: 'Set DNS servers and/or search domains of an interface on each host',
        params: NodeParams,
        body: DnsUpdateData,
        response: { 200: DnsUpdateResponse },
      },
    },
    async (req) => {
      const data = nodeOperationData('network.dns.update', req.body);
      return dnsUpdateAnswer(await run('network.dns.update', req.params.hostname, data, req.user));
    },
  );
}
