/**
 * One maintenance pass (docs/lifecycle.md), what the service runs every
 * MAINTENANCE_INTERVAL_S: partitions made ahead, weeks older than a project's horizon
 * expired (their summaries stay exact) and dropped, dictionaries pruned.
 *
 *   npm run maintain
 *
 * Safe while the service runs: one pass at a time across every instance (an advisory
 * lock); when another holds it, says so and exits 0. Exit 1 when the database failed (the
 * next pass finishes what this one left).
 */
import { maintainOnce } from '../lifecycle/maintenance.js';
import { runCli, UsageError } from './run-cli.js';

runCli(
  'maintain',
  (argv) => {
    if (argv.length > 0) throw new UsageError('usage: maintain (no arguments)');
    return {};
  },
  async (_db, _command, out, pool) => {
    const started = performance.now();
    const report = await maintainOnce(pool);
    if (!report) {
      out('Another maintenance pass is running (another instance); nothing done\n');
      return;
    }
    for (const name of report.created) out(`created partition ${name}\n`);
    for (const week of report.expired) {
      out(`expired ${week.events} raw events of project ${week.project} in ${week.partition}\n`);
    }
    for (const name of report.dropped) out(`dropped partition ${name}\n`);
    if (report.prunedEventTypes > 0) {
      out(`removed ${report.prunedEventTypes} event types no event has any more\n`);
    }
    out(
      `Maintenance done in ${Math.round(performance.now() - started)} ms: ${report.created.length} partitions created, ${report.expiredEvents} raw events expired, ${report.dropped.length} partitions dropped; ${report.partitions} partitions\n`,
    );
  },
);
