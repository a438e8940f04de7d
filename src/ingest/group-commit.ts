import { isDatabaseUnavailable } from '../errors.js';
import { type EventToStore, identity, type WriteResult } from './write-events.js';

/**
 * Stores events whose identities are all different; returns the identities that were
 * already stored.
 */
export type StoreUnique = (events: EventToStore[]) => Promise<Set<string>>;

export interface GroupCommitOptions {
  /** Most events in one transaction (a larger single request still goes alone). */
  maxEvents: number;
  /** How long a request may wait for others to join its transaction when the writer is idle. */
  maxWaitMs: number;
  /** Transactions in flight at once (each on its own connection). */
  concurrency: number;
}

interface Pending {
  events: EventToStore[];
  resolve: (result: WriteResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: concurrent ingest requests (any endpoint) share database transactions.
 * Requests that arrive while `concurrency` transactions are in flight queue up and go
 * together in the next one, up to `maxEvents`, so many small requests cost about as much
 * as one big batch. Each request is answered after its own transaction commits, with its
 * own counts, exactly as if the requests had been written one after another in arrival
 * order (the first copy of an event id wins). If a transaction fails because the database
 * is unavailable, its requests fail; any other failure is retried request by request, so
 * one bad request cannot fail its neighbours.
 */
export class GroupCommitter {
  private readonly queue: Pending[] = [];
  private queuedEvents = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: StoreUnique,
    private readonly options: GroupCommitOptions,
  ) {}

  write(events: EventToStore[]): Promise<WriteResult> {
    if (events.length === 0) return Promise.resolve({ accepted: 0, skipped: 0 });
    return new Promise((resolve, reject) => {
      this.queue.push({ events, resolve, reject });
      this.queuedEvents += events.length;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.inFlight >= this.options.concurrency || this.queue.length === 0) return;
    if (this.queuedEvents >= this.options.maxEvents || this.options.maxWaitMs <= 0) {
      this.startNext();
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.startNext();
      }, this.options.maxWaitMs);
    }
  }

  private startNext(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.inFlight >= this.options.concurrency || this.queue.length === 0) return;
    const group: Pending[] = [];
    let size = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0] as Pending;
      if (group.length > 0 && size + next.events.length > this.options.maxEvents) break;
      group.push(next);
      size += next.events.length;
      this.queue.shift();
    }
    this.queuedEvents -= size;
    this.inFlight++;
    void this.commit(group).finally(() => {
      this.inFlight--;
      this.schedule();
    });
    this.schedule(); // a second connection may start on what is left
  }

  private async commit(group: Pending[]): Promise<void> {
    // Each identity goes to the database once, credited to the first request that carries
    // it. Requests of different projects share a transaction as well.
    const batch: EventToStore[] = [];
    const firstIds: string[][] = group.map(() => []);
    const seen = new Set<string>();
    group.forEach((request, i) => {
      for (const event of request.events) {
        const key = identity(event);
        if (seen.has(key)) continue;
        seen.add(key);
        batch.push(event);
        firstIds[i]?.push(key);
      }
    });
    let existing: Set<string>;
    try {
      existing = await this.store(batch);
    } catch (error) {
      if (group.length === 1 || isDatabaseUnavailable(error)) {
        for (const request of group) request.reject(error);
        return;
      }
      // Not an outage: find the request at fault by writing each on its own.
      for (const request of group) await this.commit([request]);
      return;
    }
    group.forEach((request, i) => {
      const ids = firstIds[i] ?? [];
      const accepted = ids.filter((id) => !existing.has(id)).length;
      request.resolve({ accepted, skipped: request.events.length - accepted });
    });
  }
}
