// Rewrites the generated key table in docs/configuration.md from the schema.
//   node --import tsx scripts/config-docs.ts
import { renderConfigReference } from '../src/config/reference.js';
import { rewriteSection } from './generated-section.js';

rewriteSection('configuration.md', 'config-keys', renderConfigReference());
