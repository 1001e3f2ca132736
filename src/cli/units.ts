// Moved to src/format so the console can share it without the CLI.
export * from '../format/units.js';
