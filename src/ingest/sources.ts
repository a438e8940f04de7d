/**
 * The ingest families an event can arrive through. The family is part of an event's
 * identity (events.source; the dedup key is project, source, event_id), so an id sent
 * through one family can never pre-empt another family's event; first write wins within a
 * family, as each SDK expects. The codes are stored: never renumber them. 0 is "legacy":
 * events stored before the family was recorded (migration 0007).
 */
export const SOURCE_CODES = {
  events: 1, // POST /events and the CSV importer
  segment: 2, // Segment and RudderStack
  posthog: 3,
  amplitude: 4,
} as const;

export type IngestSource = keyof typeof SOURCE_CODES;
