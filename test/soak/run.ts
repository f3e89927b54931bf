// npm run soak [-- --profile long|cluster|short] [-- --write]: a soak profile (long: one Redis
// with AOF, about 4 minutes; cluster: a 3-primary Cluster with replicas, about 2 minutes), its
// figures printed and, with --write, added to bench/SOAK.md with the machine they were measured on.
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { CLUSTER, formatReport, LONG, runSoak, SHORT } from './harness.js';

const profiles = { short: SHORT, long: LONG, cluster: CLUSTER };
const { values } = parseArgs({ options: { profile: { type: 'string', default: 'long' }, write: { type: 'boolean', default: false } } });
const profile = profiles[values.profile as keyof typeof profiles];
if (!profile) {
  console.error(`--profile must be one of ${Object.keys(profiles).join(', ')}`);
  process.exit(2);
}
const report = await runSoak(profile, (line) => console.log(`[soak] ${line}`));
const lines = formatReport(report);
console.log(lines.join('\n'));
if (values.write) {
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const md = [
    `## ${values.profile} profile`,
    '',
    `\`npm run soak -- --profile ${values.profile} --write\` on ${new Date().toISOString().slice(0, 10)}: ${machine}; Redis and both API instances on the same machine.`,
    '',
    '```',
    ...lines,
    '```',
    '',
  ];
  if (!existsSync('bench/SOAK.md'))
    writeFileSync('bench/SOAK.md', '# Soak runs\n\nFigures of `npm run soak` (test/soak/harness.ts explains what is checked).\n\n');
  appendFileSync('bench/SOAK.md', md.join('\n'));
}
const violations = Object.values(report.violations).reduce((a, b) => a + b, 0);
process.exit(violations === 0 ? 0 : 1);
