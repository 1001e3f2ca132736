// The names of src/names/names.ts, under the path the job code and the API
// have always imported them from. Nothing is spelled here.
export * from '../names/names.js';
