import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { printSchemaFile } from '../../src/schema/print.js';

describe('the printed contract', () => {
  it('schema/schema.graphql matches the Pothos schema (run `npm run schema:print` after a schema change)', () => {
    expect(readFileSync('schema/schema.graphql', 'utf8')).toBe(printSchemaFile());
  });

  it('test/generated matches codegen output for schema/operations (run `npm run codegen`)', () => {
    const out = mkdtempSync(join(tmpdir(), 'presence-codegen-'));
    const config = readFileSync('codegen.yml', 'utf8').replace('test/generated/:', `${out}/:`);
    writeFileSync(join(out, 'codegen.yml'), config);
    execFileSync(process.execPath, ['node_modules/@graphql-codegen/cli/cjs/bin.js', '--config', join(out, 'codegen.yml')], {
      stdio: 'ignore',
    });
    for (const file of readdirSync('test/generated')) {
      expect(readFileSync(join(out, file), 'utf8'), file).toBe(readFileSync(join('test/generated', file), 'utf8'));
    }
  });
});
