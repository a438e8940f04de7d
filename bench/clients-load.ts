/**
 * One load case: autocannon's programmatic API with a fresh body per request (its
 * `setupRequest` hook), and a record of which event ids were sent and which were
 * acknowledged with a 2xx, so the stored rows can be checked one by one afterwards.
 */
import autocannon from 'autocannon';
import type { IdSpace, RequestFactory } from './clients-bodies.js';

const UNSENT = 0;
const SENT = 1;
const ACKNOWLEDGED = 2;
const REFUSED = 3;
type Answer = typeof ACKNOWLEDGED | typeof REFUSED;

/** Per event id counter: unsent, sent (no answer read), acknowledged (2xx) or refused. */
export class Ledger {
  private states = new Uint8Array(1 << 16);

  private ensure(size: number): void {
    if (size <= this.states.length) return;
    let length = this.states.length;
    while (length < size) length *= 2;
    const grown = new Uint8Array(length);
    grown.set(this.states);
    this.states = grown;
  }

  sent(first: number, count: number): void {
    this.ensure(first + count);
    for (let i = first; i < first + count; i++)
      if (this.states[i] === UNSENT) this.states[i] = SENT;
  }

  answered(first: number, count: number, answer: Answer): void {
    this.states.fill(answer, first, first + count);
  }

  state(counter: number): number {
    return counter < this.states.length ? (this.states[counter] as number) : UNSENT;
  }

  count(state: number, upTo: number): number {
    let n = 0;
    for (let i = 0; i < upTo; i++) if (this.states[i] === state) n++;
    return n;
  }
}

export interface LoadResult {
  seconds: number;
  /** Responses with a 2xx status. */
  ok: number;
  okEvents: number;
  /** Non-2xx responses, by status. */
  statuses: Record<string, number>;
  /** Connection errors and timeouts. */
  errors: number;
  timeouts: number;
  p50: number;
  p99: number;
  /** Requests sent whose answer was never read (in flight when the case stopped). */
  unanswered: number;
}

interface Context {
  first?: number;
  events?: number;
}

export async function runLoad(options: {
  url: string;
  connections: number;
  seconds: number;
  next: RequestFactory;
  ledger: Ledger;
  /** Requests per second offered by all connections together; unset: as fast as answered. */
  rate?: number;
}): Promise<LoadResult> {
  const { ledger, next } = options;
  let sent = 0;
  let answered = 0;
  let okEvents = 0;
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.seconds,
    timeout: 30,
    ...(options.rate ? { overallRate: options.rate } : {}),
    requests: [
      {
        method: 'POST',
        setupRequest: (request, context: Context) => {
          const built = next();
          context.first = built.first;
          context.events = built.events;
          ledger.sent(built.first, built.events);
          sent++;
          return {
            ...request,
            method: 'POST',
            path: built.path,
            headers: { ...request.headers, ...built.headers },
            body: built.body,
          };
        },
        onResponse: (status, _body, context: Context) => {
          answered++;
          if (context.first === undefined || context.events === undefined) return;
          const ok = status >= 200 && status < 300;
          ledger.answered(context.first, context.events, ok ? ACKNOWLEDGED : REFUSED);
          if (ok) okEvents += context.events;
        },
      },
    ],
  });
  const statuses: Record<string, number> = {};
  for (const [status, { count }] of Object.entries(result.statusCodeStats ?? {})) {
    if (!status.startsWith('2')) statuses[status] = count ?? 0;
  }
  return {
    seconds: result.duration,
    ok: result['2xx'],
    okEvents,
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
    // autocannon closes the connections at the deadline without reading their answers.
    unanswered: sent - answered,
  };
}

export interface StoredCheck {
  stored: number;
  acknowledged: number;
  /** Acknowledged with a 2xx but not stored: must be 0. */
  lost: number;
  /** Stored although no answer was read: requests in flight when the case stopped. */
  storedUnacknowledged: number;
  /** Stored although the server answered with an error: must be 0. */
  storedRefused: number;
  /** Stored ids that were never built: must be 0. */
  unknown: number;
  /** The same id read twice: must be 0. */
  duplicated: number;
}

/** Matches the stored ids of a case with the ledger. */
export function checkStored(ids: IdSpace, ledger: Ledger, storedIds: string[]): StoredCheck {
  let storedAcknowledged = 0;
  let storedUnacknowledged = 0;
  let storedRefused = 0;
  let unknown = 0;
  for (const id of storedIds) {
    const state = ledger.state(ids.counterOf(id));
    if (state === ACKNOWLEDGED) storedAcknowledged++;
    else if (state === SENT) storedUnacknowledged++;
    else if (state === REFUSED) storedRefused++;
    else unknown++;
  }
  const acknowledged = ledger.count(ACKNOWLEDGED, ids.allocated);
  return {
    duplicated: storedIds.length - new Set(storedIds).size,
    stored: storedIds.length,
    acknowledged,
    lost: acknowledged - storedAcknowledged,
    storedUnacknowledged,
    storedRefused,
    unknown,
  };
}
