// How a client command reaches the API: URL and token from --url / config /
// env first, then the local client file that `osapi start` writes for this user.
import type { Command } from 'commander';
import { OsapiClient } from '../sdk/client.js';
import { nodeHttpFetch } from '../sdk/node-http.js';
import { readLocalClient } from '../state/local.js';
import { type CommandContext, type GlobalOptions, loadContext } from './context.js';

interface ClientGlobals extends GlobalOptions {
  url?: string;
}

export function clientFor(cmd: Command): {
  ctx: CommandContext;
  client: OsapiClient;
  /** The API's base URL the client calls. */
  url: string;
} {
  const globals = cmd.optsWithGlobals<ClientGlobals>();
  const ctx = loadContext(
    globals,
    globals.url !== undefined ? { 'api.client.url': globals.url } : {},
    {
      'api.client.url': '--url',
    },
  );
  const local = readLocalClient(ctx.config.state_dir);
  const url = ctx.explicit.has('api.client.url') || !local ? ctx.config.api.client.url : local.url;
  const token = ctx.config.api.client.security.bearer_token || local?.token || '';
  return {
    ctx,
    client: new OsapiClient({ url, ...(token ? { token } : {}), fetch: nodeHttpFetch }),
    url,
  };
}
