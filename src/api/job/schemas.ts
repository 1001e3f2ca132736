// The wire schemas of these routes are the contract's.
export * from '../../contract/job.js';
