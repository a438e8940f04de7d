import { busyError } from '../errors.js';

export interface ConcurrencyGateOptions {
  /** Runs at once. */
  concurrency: number;
  /** Runs that may wait for a turn (first come, first served); beyond them: 503 `busy`. */
  queue: number;
  /** Longest wait for a turn; a run still waiting then is answered 503 `busy`. */
  maxWaitMs: number;
  /** What is limited, for the message: "raw-event /stats queries". */
  what: string;
}

/**
 * Admission for one class of expensive work: at most `concurrency` runs at once, a short
 * queue, and an immediate 503 `busy` (with Retry-After) beyond it, before the work takes
 * anything (a database connection above all), so that no amount of such requests can
 * starve the other classes. A waiting run holds nothing but a promise.
 */
export class ConcurrencyGate {
  private running = 0;
  private readonly waiting: { admit: () => void; timer: NodeJS.Timeout }[] = [];

  constructor(private readonly options: ConcurrencyGateOptions) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    await this.enter();
    try {
      return await work();
    } finally {
      this.leave();
    }
  }

  private enter(): Promise<void> {
    const { concurrency, queue, maxWaitMs, what } = this.options;
    if (this.running < concurrency) {
      this.running++;
      return Promise.resolve();
    }
    // A turn comes within about a query's time: ask for a retry after a second.
    const retryAfterS = 1;
    if (this.waiting.length >= queue) {
      return Promise.reject(
        busyError(
          `${concurrency} ${what} are running and ${queue} waiting, the most allowed; retry later`,
          retryAfterS,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const entry = {
        admit: () => {
          clearTimeout(entry.timer);
          this.running++;
          resolve();
        },
        timer: setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(entry), 1);
          reject(busyError(`no turn for ${what} within ${maxWaitMs} ms; retry later`, retryAfterS));
        }, maxWaitMs),
      };
      this.waiting.push(entry);
    });
  }

  private leave(): void {
    this.running--;
    this.waiting.shift()?.admit();
  }
}
