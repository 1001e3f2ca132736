// `osapi token generate|validate`: issue and inspect bearer tokens with the
// signing key the API server uses (config, else this user's generated key).
import type { Command } from 'commander';
import { effectivePermissions, PERMISSIONS, signToken, verifyToken } from '../../auth/index.js';
import { parseDuration } from '../../config/index.js';
import { type GlobalOptions, loadContext, printJson, UsageError } from '../context.js';
import { escapeLine } from '../escape.js';
import { resolveSigningKey } from './servers.js';

const list = (v: string, prev: string[] = []) => [
  ...prev,
  ...v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('Bearer tokens for the API.');
  token
    .command('generate')
    .description('Print a new signed token.')
    .requiredOption(
      '-r, --roles <roles>',
      'roles, comma-separated (admin, write, read or a custom role)',
      list,
    )
    .requiredOption('-u, --subject <subject>', 'who the token is for, e.g. user@example.com')
    .option(
      '-p, --permissions <perm...>',
      `permissions replacing the roles' (${PERMISSIONS.join(' ')})`,
      list,
    )
    .option('-e, --expires <duration>', 'lifetime, e.g. 24h or 90d', '90d')
    .action(
      async (
        opts: { roles: string[]; subject: string; permissions?: string[]; expires: string },
        cmd: Command,
      ) => {
        const ctx = loadContext(cmd.optsWithGlobals<GlobalOptions>());
        let lifetimeMs: number;
        try {
          lifetimeMs = parseDuration(opts.expires);
        } catch (err) {
          throw new UsageError(`--expires: ${(err as Error).message}`);
        }
        if (lifetimeMs < 1000) throw new UsageError('--expires: expected at least 1s');
        const signingKey = await resolveSigningKey(ctx.config);
        const jwt = await signToken({
          subject: opts.subject,
          roles: opts.roles,
          ...(opts.permissions ? { permissions: opts.permissions } : {}),
          lifetimeSeconds: Math.floor(lifetimeMs / 1000),
          signingKey,
          customRoles: ctx.config.api.server.security.roles,
        });
        if (ctx.json) {
          printJson({
            token: jwt,
            subject: opts.subject,
            roles: opts.roles,
            ...(opts.permissions ? { permissions: opts.permissions } : {}),
          });
          return;
        }
        process.stdout.write(`Token: ${jwt}\n`);
        process.stdout.write(`Subject: ${opts.subject}  Roles: ${opts.roles.join(', ')}\n`);
        if (opts.permissions) process.stdout.write(`Permissions: ${opts.permissions.join(', ')}\n`);
      },
    );

  token
    .command('validate')
    .description('Check a token and print what it grants.')
    .requiredOption('-t, --token <token>', 'the token to check')
    .action(async (opts: { token: string }, cmd: Command) => {
      const ctx = loadContext(cmd.optsWithGlobals<GlobalOptions>());
      const signingKey = await resolveSigningKey(ctx.config);
      const claims = await verifyToken(opts.token, signingKey);
      const effective = effectivePermissions(claims, ctx.config.api.server.security.roles);
      const out = {
        valid: true,
        subject: claims.sub,
        roles: claims.roles,
        permissions: claims.permissions ?? [],
        effective_permissions: effective,
        audience: claims.aud,
        issued: new Date(claims.iat * 1000).toISOString(),
        expires: new Date(claims.exp * 1000).toISOString(),
      };
      if (ctx.json) {
        printJson(out);
        return;
      }
      const lines = [
        ['Subject', out.subject],
        ['Roles', out.roles.join(', ')],
        ['Permissions', out.permissions.join(', ') || '(from roles)'],
        ['Effective permissions', effective.join(', ')],
        ['Audience', out.audience],
        ['Issued', out.issued],
        ['Expires', out.expires],
      ];
      // A token pasted from elsewhere holds whatever its maker put in it.
      for (const [k, v] of lines) process.stdout.write(`${k}: ${escapeLine(v ?? '')}\n`);
    });
}
