// Operation names and command schemas are the wire contract's.
export * from '../contract/operations.js';
