// `osapi mcp`: an MCP server on standard input and output, for an assistant
// that starts it as a child process. It reaches the API as `osapi client`
// does (--url, api.client.url and its token, or the local client file that
// `osapi start` writes), and every tool call is a request with that token.
// Standard output carries only the protocol; the log goes to standard error.
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Command } from 'commander';
import { clientFor } from '../api-client.js';

/**
 * Counts the requests read and the answers sent on `transport`, so that
 * `close` runs once the input has ended and every request has its answer.
 */
export function answeredBeforeClosing(
  transport: Transport,
  close: () => void,
): { inputEnded: () => void } {
  const open = new Set<string | number>();
  let ended = false;
  const closeWhenDone = () => {
    if (ended && open.size === 0) close();
  };
  const receive = transport.onmessage;
  transport.onmessage = (message: JSONRPCMessage, extra) => {
    if ('method' in message && 'id' in message) open.add(message.id);
    receive?.(message, extra);
  };
  const send = transport.send.bind(transport);
  transport.send = async (message, options) => {
    await send(message, options);
    if (!('method' in message) && 'id' in message && message.id !== undefined) {
      open.delete(message.id);
      closeWhenDone();
    }
  };
  return {
    inputEnded: () => {
      ended = true;
      closeWhenDone();
    },
  };
}

export function registerMcpCommand(program: Command): void {
  program
    .command('mcp')
    .description(
      'Serve MCP (Model Context Protocol) on stdin/stdout: every operation the token may run as a tool, agents and jobs as resources (docs/mcp.md).',
    )
    .option('--url <url>', 'API base URL (overrides api.client.url)')
    .action(async (_opts: unknown, cmd: Command) => {
      const { ctx, client, url } = clientFor(cmd);
      // Loaded here, not with the CLI: every other command starts without the MCP SDK.
      const [{ createMcpServer }, { StdioServerTransport }] = await Promise.all([
        import('../../mcp/server.js'),
        import('@modelcontextprotocol/sdk/server/stdio.js'),
      ]);
      const server = createMcpServer(client);
      const closed = new Promise<void>((resolve) => {
        server.onclose = resolve;
      });
      server.onerror = (err) => ctx.logger.warn({ err: err.message }, 'MCP protocol error');
      const transport = new StdioServerTransport();
      await server.connect(transport);
      ctx.logger.debug({ url }, 'MCP server on stdio');
      // The assistant ends the session by closing our standard input; what
      // it asked before is answered first.
      const pending = answeredBeforeClosing(transport, () => void server.close());
      process.stdin.once('end', pending.inputEnded);
      await closed;
    });
}
