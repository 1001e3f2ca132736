// `osapi mcp`: an MCP server on standard input and output, for an assistant
// that starts it as a child process. It reaches the API as `osapi client`
// does (--url, api.client.url and its token, or the local client file that
// `osapi start` writes), and every tool call is a request with that token.
// Standard output carries only the protocol; the log goes to standard error.
import type { Command } from 'commander';
import { clientFor } from '../api-client.js';

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
      await server.connect(new StdioServerTransport());
      ctx.logger.debug({ url }, 'MCP server on stdio');
      // The assistant ends the session by closing our standard input.
      process.stdin.once('end', () => void server.close());
      await closed;
    });
}
