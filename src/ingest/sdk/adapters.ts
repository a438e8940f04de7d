import type { Adapter } from '../steps/adapt.js';
import { mapAmplitude } from './amplitude.js';
import { mapPosthog } from './posthog.js';
import { mapSegment, type SegmentType } from './segment.js';

/**
 * The pipeline's adapter for each SDK family (src/ingest/pipeline.ts, step 3). Their
 * messages are counted from the body's outline before parsing, so they need no count().
 */
export function segmentAdapter(impliedType?: SegmentType): Adapter {
  return { map: (body, receivedAtMs) => mapSegment(body, { receivedAtMs }, impliedType) };
}

export const posthogAdapter: Adapter = {
  map: (body, receivedAtMs) => mapPosthog(body, { receivedAtMs }),
};

export const amplitudeAdapter: Adapter = {
  map: (body, receivedAtMs) => mapAmplitude(body, { receivedAtMs }),
};
