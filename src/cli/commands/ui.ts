// `osapi ui`: a one-time link that signs the web console in as the CLI's
// user (on the quick start, the local user `osapi start` left a token for),
// as a notebook server prints one. The link carries a code the API trades
// once, within two minutes, for a short-lived token: never the token itself.
import type { Command } from 'commander';
import { clientFor } from '../api-client.js';
import { ExitError, printJson, say } from '../context.js';

/**
 * The console's address for a browser, with the code in the fragment (never
 * sent to a server, so never in a log). A wildcard listen address is not a
 * place a browser can go: this machine's loopback is.
 */
export function loginLink(apiUrl: string, code: string): string {
  const url = new URL('/ui/', apiUrl);
  if (url.hostname === '0.0.0.0') url.hostname = '127.0.0.1';
  else if (url.hostname === '[::]') url.hostname = '[::1]';
  url.hash = `login=${code}`;
  return url.toString();
}

export function registerUiCommand(program: Command): void {
  program
    .command('ui')
    .description(
      'Print a one-time link that signs the web console in as this CLI’s user (valid 2 minutes, once).',
    )
    .option('--url <url>', 'API base URL (overrides api.client.url)')
    .action(async (_opts: unknown, cmd: Command) => {
      const { ctx, client, url } = clientFor(cmd);
      const status = await client.consoleStatus();
      if (status === 503) {
        say(
          `osapi: the API server at ${url} has no console built: run \`node scripts/setup.mjs\` there, then restart it.`,
        );
        throw new ExitError(1);
      }
      if (status !== 200) {
        say(
          `osapi: the API server at ${url} does not serve the web console (HTTP ${status}); it is turned on with api.server.ui.enabled: true.`,
        );
        throw new ExitError(1);
      }
      const { body } = await client.authLoginCode();
      const link = loginLink(url, body.code);
      if (ctx.json) {
        printJson({
          url: link,
          expires_at: body.expires_at,
          session_expires_at: body.session_expires_at,
        });
        return;
      }
      process.stdout.write(`${link}\n`);
      say(
        `Open it within 2 minutes (until ${new Date(body.expires_at).toLocaleTimeString()}); it works once. The console session lasts until ${new Date(body.session_expires_at).toLocaleString()}.`,
      );
    });
}
