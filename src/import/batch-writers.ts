import type pg from 'pg';
import type { ValidEvent } from '../ingest/validate-event.js';
import type { WriteResult } from '../ingest/write-events.js';
import { StagingWriter } from './staging-writer.js';

interface Running {
  ids: Set<string>;
  done: Promise<void>;
}

function sharesAnId(a: Set<string>, b: Set<string>): boolean {
  for (const id of b) if (a.has(id)) return true;
  return false;
}

/**
 * Up to `size` batches written at once, each on a connection of its own and in a
 * transaction of its own, so the database works on one batch while it commits another
 * (ingest_events() is safe under concurrency: it locks in a fixed order).
 *
 * A batch that shares an event_id with a batch still in flight waits for it, so, as with
 * one batch at a time, the row earlier in the file is the one stored.
 */
export class BatchWriters {
  private readonly free: StagingWriter[];
  private readonly running = new Set<Running>();
  private failure: { error: unknown } | undefined;

  private constructor(private readonly writers: StagingWriter[]) {
    this.free = [...writers];
  }

  static async open(pool: pg.Pool, projectId: number, size: number): Promise<BatchWriters> {
    const writers: StagingWriter[] = [];
    try {
      for (let i = 0; i < size; i++) writers.push(await StagingWriter.open(pool, projectId));
    } catch (error) {
      for (const writer of writers) writer.close();
      throw error;
    }
    return new BatchWriters(writers);
  }

  /** The first write that failed; once set, nothing more is started. */
  get failed(): { error: unknown } | undefined {
    return this.failure;
  }

  /**
   * Starts writing a batch once no batch in flight shares an id with it and a connection
   * is free; resolves when it has started (callers start one batch at a time, so only
   * batches already in flight can hold its ids). `committed` runs when it commits.
   */
  async start(events: ValidEvent[], committed: (result: WriteResult) => void): Promise<void> {
    const ids = new Set(events.map((e) => e.event_id));
    await Promise.all([...this.running].filter((r) => sharesAnId(r.ids, ids)).map((r) => r.done));
    while (this.free.length === 0 && !this.failure) {
      await Promise.race([...this.running].map((r) => r.done));
    }
    if (this.failure) return;
    const writer = this.free.pop() as StagingWriter;
    const entry: Running = {
      ids,
      done: writer.write(events).then(
        (result) => {
          committed(result);
          this.free.push(writer);
          this.running.delete(entry);
        },
        (error: unknown) => {
          this.failure ??= { error };
          this.running.delete(entry);
        },
      ),
    };
    this.running.add(entry);
  }

  /** Waits for every batch in flight to commit or fail. */
  async settle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running].map((r) => r.done));
  }

  close(): void {
    for (const writer of this.writers) writer.close();
  }
}
