// Request authentication and permission checks, as one piece every route
// shares. Each route declares `config.permission` beside its definition; a
// route without one cannot be registered, so no endpoint is open by accident.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type CommandPolicy, commandPolicy } from '../auth/command-policy.js';
import {
  type CustomRoles,
  effectivePermissions,
  isPermission,
  type Permission,
  parseBearer,
  TokenError,
  verifyToken,
} from '../auth/index.js';
import { ApiError } from './errors.js';

/**
 * Open routes say so explicitly; `authenticated` routes take any valid token
 * whatever it grants (they only tell a caller about its own token).
 */
export type RoutePermission = Permission | 'public' | 'authenticated';

export interface AuthUser {
  subject: string;
  roles: string[];
  permissions: Permission[];
  /** Which commands the token's roles may run (null: any). */
  commandPolicy: CommandPolicy;
  /** The token's own `permissions` claim, when it had one (it replaces its roles'). */
  permissionsClaim?: string[];
  /** The token's `exp`, in Unix seconds. */
  expiresAt: number;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    permission?: RoutePermission;
  }
  interface FastifyRequest {
    user?: AuthUser;
  }
}

export interface AuthSettings {
  signingKey: string;
  customRoles: CustomRoles;
}

// Verified tokens, so a client sending the same token on every request pays
// for the signature check once. One cache per server (per signing key and
// roles), bounded, and an entry never outlives its exp.
const caches = new WeakMap<AuthSettings, Map<string, { user: AuthUser; expMs: number }>>();
const VERIFIED_MAX = 1000;

export async function authenticate(req: FastifyRequest, s: AuthSettings): Promise<AuthUser> {
  try {
    const token = parseBearer(req.headers.authorization);
    let verified = caches.get(s);
    if (!verified) {
      verified = new Map();
      caches.set(s, verified);
    }
    const hit = verified.get(token);
    if (hit && hit.expMs > Date.now()) return hit.user;
    const user = await verifiedUser(token, s);
    if (verified.size >= VERIFIED_MAX) verified.clear();
    verified.set(token, { user, expMs: user.expiresAt * 1000 });
    return user;
  } catch (err) {
    if (err instanceof TokenError) {
      throw new ApiError(
        'unauthenticated',
        `${err.message} (a token is made with \`osapi token generate\`)`,
      );
    }
    throw err;
  }
}

/** The user a token names, once its signature and expiry are checked; throws TokenError otherwise. */
export async function verifiedUser(token: string, s: AuthSettings): Promise<AuthUser> {
  const claims = await verifyToken(token, s.signingKey);
  return {
    subject: claims.sub,
    roles: claims.roles,
    permissions: effectivePermissions(claims, s.customRoles),
    commandPolicy: commandPolicy(claims.roles, s.customRoles),
    ...(claims.permissions !== undefined ? { permissionsClaim: claims.permissions } : {}),
    expiresAt: claims.exp,
  };
}

export interface AuthHooks {
  /**
   * Runs once a request's token is verified, before its permission is
   * checked, and may refuse it by throwing: the audit log's rate per token
   * subject (audit/hook.ts), which a flood of 403s must meet too.
   */
  authenticated?: (req: FastifyRequest, reply: FastifyReply) => void;
}

export function registerAuth(app: FastifyInstance, s: AuthSettings, hooks: AuthHooks = {}): void {
  app.addHook('onRoute', (route) => {
    const p = route.config?.permission;
    // HEAD routes are added by Fastify itself from GET routes and share their config.
    if (p === undefined || (p !== 'public' && p !== 'authenticated' && !isPermission(p))) {
      throw new Error(`route ${route.method} ${route.url} declares no valid permission`);
    }
  });
  app.addHook('onRequest', async (req, reply) => {
    const permission = req.routeOptions.config.permission;
    if (permission === 'public') return;
    const user = await authenticate(req, s);
    req.user = user;
    hooks.authenticated?.(req, reply);
    // An unknown path has no permission: authenticate first, then 404.
    if (permission && permission !== 'authenticated' && !user.permissions.includes(permission)) {
      throw new ApiError(
        'forbidden',
        `permission ${permission} is required for ${req.method} ${req.routeOptions.url}; the token of ${user.subject} grants: ${user.permissions.join(', ') || 'nothing'}`,
        { missing_permission: permission },
      );
    }
  });
}
