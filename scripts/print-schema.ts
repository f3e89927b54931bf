// npm run schema:print — writes the SDL of the Pothos schema to schema/schema.graphql (committed; a test checks drift).
import { writeFileSync } from 'node:fs';
import { printSchemaFile } from '../src/schema/print.js';

writeFileSync(new URL('../schema/schema.graphql', import.meta.url), printSchemaFile());
console.log('wrote schema/schema.graphql');
