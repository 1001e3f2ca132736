// Rewrites the generated part of docs/cli-reference.md from the commander
// program.
//   node --import tsx scripts/cli-docs.ts
import { buildProgram } from '../src/cli/main.js';
import { renderCliReference } from '../src/cli/reference.js';
import { rewriteSection } from './generated-section.js';

rewriteSection('cli-reference.md', 'cli-commands', renderCliReference(buildProgram()));
