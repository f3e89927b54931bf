// npm run soak [-- --short] [-- --write]: the long soak profile (about 4 minutes), its figures
// printed and, with --write, kept in bench/SOAK.md with the machine they were measured on.
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { formatReport, LONG, runSoak, SHORT } from './harness.js';

const { values } = parseArgs({ options: { short: { type: 'boolean', default: false }, write: { type: 'boolean', default: false } } });
const report = await runSoak(values.short ? SHORT : LONG, (line) => console.log(`[soak] ${line}`));
const lines = formatReport(report);
console.log(lines.join('\n'));
if (values.write) {
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const md = [
    '# Soak run',
    '',
    `\`npm run soak -- --write\` on ${new Date().toISOString().slice(0, 10)}: ${machine}; Redis and both API instances on the same machine.`,
    '',
    '```',
    ...lines,
    '```',
    '',
  ];
  writeFileSync('bench/SOAK.md', md.join('\n'));
}
const violations = Object.values(report.violations).reduce((a, b) => a + b, 0);
process.exit(violations === 0 ? 0 : 1);
