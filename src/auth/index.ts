// Public surface of auth: token issuing/checking, the permission model, and the signing key file.
// The API server and CLI import from here, not from the individual modules.
export {
  BUILTIN_ROLES,
  type BuiltinRole,
  type CustomRoles,
  effectivePermissions,
  isPermission,
  PERMISSIONS,
  type Permission,
  roleNames,
} from '../contract/permissions.js';
export { loadOrCreateSigningKey, SigningKeyError } from './signing-key.js';
export {
  DEFAULT_TOKEN_LIFETIME_SECONDS,
  parseBearer,
  type SignTokenOptions,
  signToken,
  type TokenClaims,
  TokenError,
  type TokenErrorReason,
  TokenRequestError,
  verifyToken,
} from './token.js';
