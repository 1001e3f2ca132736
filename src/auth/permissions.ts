// The permission vocabulary and roles are part of the wire contract.
export * from '../contract/permissions.js';
