import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { type EnvelopeKind, outlineEnvelope } from '../../../src/ingest/sdk/envelope.js';
import type { MappedEvent, SdkBatch } from '../../../src/ingest/sdk/types.js';

/** One request a real SDK sent, as captured in test/fixtures/sdk/<sdk>.json. */
export interface CapturedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** The parsed JSON body (after gunzip). */
  body: unknown;
}

export interface Capture {
  sdk: string;
  version: string;
  requests: CapturedRequest[];
  [extra: string]: unknown;
}

export function loadCapture(name: 'segment' | 'rudderstack' | 'posthog' | 'amplitude'): Capture {
  const url = new URL(`../../fixtures/sdk/${name}.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as Capture;
}

/** The envelope's send time, in ms: the receive time that makes the skew correction zero. */
export function sentAtMs(body: unknown, field: string): number {
  const value = (body as Record<string, unknown>)[field];
  if (typeof value !== 'string') throw new Error(`captured body has no ${field}`);
  return Date.parse(value);
}

/** The mapped events, failing the test if any message was refused. */
export function mappedEvents(batch: SdkBatch): MappedEvent[] {
  const refused = batch.messages.filter((m) => !m.ok);
  expect(refused).toEqual([]);
  return batch.messages.flatMap((m) => (m.ok ? [m.event] : []));
}

/** The key the service reads from this body (as JSON text) before parsing it. */
export function bodyKey(body: unknown, kind: EnvelopeKind): string | undefined {
  return outlineEnvelope(Buffer.from(JSON.stringify(body)), kind).key;
}
