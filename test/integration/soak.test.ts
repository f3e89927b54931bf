import { expect, it } from 'vitest';
import { formatReport, runSoak, SHORT } from '../soak/harness.js';

// The soak suite's short profile: churn under every kind of fault, checked against the model.
// `npm run soak` runs the long one; bench/SOAK.md keeps its figures.
it('holds every promise under churn and faults: no ghosts, no false OFFLINE, streams converge, nothing leaks', async () => {
  const report = await runSoak(SHORT);
  const summary = formatReport(report).join('\n');
  expect(report.checkpoints, summary).toBe(SHORT.faults.length + 2);
  expect(report.checks, summary).toBeGreaterThan(100);
  expect(report.faults, summary).toEqual(SHORT.faults);
  expect(report.violations, summary).toEqual({});
}, 180_000);
