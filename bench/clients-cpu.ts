/**
 * Where the 2 cores went during a case: the server process, the PostgreSQL backends serving
 * the scratch database, the load generator (this process), and the whole machine (which
 * also runs other people's work). Read from /proc, so Linux only; elsewhere the figures
 * are left out.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type pg from 'pg';

/** Clock ticks per second of /proc times (USER_HZ, 100 on every Linux platform Node runs on). */
const TICKS = 100;

function processTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return undefined;
  }
}

/** Busy and total ticks of all cores. */
function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] as string;
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const total = values.reduce((a, b) => a + b, 0);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

export interface CpuShares {
  /** Cores used on average (1.0 = one core busy for the whole case). */
  server: number;
  postgres: number;
  generator: number;
  /** Everything on the machine, including other work. */
  machine: number;
}

/**
 * Samples CPU every second while a case runs. PostgreSQL backends come and go with the
 * pools, so each backend of the scratch database is counted from the first sample that
 * sees it to the last.
 */
export class CpuMeter {
  private readonly backends = new Map<number, { first: number; last: number }>();
  private timer: NodeJS.Timeout | undefined;
  private started = 0;
  private serverStart: number | undefined;
  private machineStart: { busy: number; total: number } | undefined;
  private generatorStart = process.cpuUsage();
  private sampling: Promise<void> = Promise.resolve();

  constructor(
    private readonly admin: pg.Pool,
    private readonly database: string,
    private readonly serverPid: number | undefined,
  ) {}

  private async sampleBackends(): Promise<void> {
    const { rows } = await this.admin.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [this.database],
    );
    for (const { pid } of rows) {
      const ticks = processTicks(pid);
      if (ticks === undefined) continue;
      const seen = this.backends.get(pid);
      if (seen) seen.last = ticks;
      else this.backends.set(pid, { first: ticks, last: ticks });
    }
  }

  async start(): Promise<void> {
    this.started = performance.now();
    this.serverStart = this.serverPid ? processTicks(this.serverPid) : undefined;
    this.machineStart = machineTicks();
    this.generatorStart = process.cpuUsage();
    await this.sampleBackends();
    this.timer = setInterval(() => {
      this.sampling = this.sampling.then(() => this.sampleBackends()).catch(() => {});
    }, 1000);
  }

  async stop(): Promise<CpuShares> {
    clearInterval(this.timer);
    await this.sampling;
    await this.sampleBackends();
    const seconds = (performance.now() - this.started) / 1000;
    const generator = process.cpuUsage(this.generatorStart);
    const serverEnd = this.serverPid ? processTicks(this.serverPid) : undefined;
    const machineEnd = machineTicks();
    let postgres = 0;
    for (const { first, last } of this.backends.values()) postgres += last - first;
    const machine =
      this.machineStart && machineEnd
        ? ((machineEnd.busy - this.machineStart.busy) /
            (machineEnd.total - this.machineStart.total)) *
          cpus().length
        : Number.NaN;
    return {
      server:
        serverEnd !== undefined && this.serverStart !== undefined
          ? (serverEnd - this.serverStart) / TICKS / seconds
          : Number.NaN,
      postgres: postgres / TICKS / seconds,
      generator: (generator.user + generator.system) / 1e6 / seconds,
      machine,
    };
  }
}
