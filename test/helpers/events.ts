import { randomUUID } from 'node:crypto';

export interface TestEvent {
  event_id: string;
  occurred_at: string;
  user_id: string;
  event_type: string;
  properties?: Record<string, unknown> | null;
}

export function event(overrides: Partial<TestEvent> = {}): TestEvent {
  return {
    event_id: randomUUID(),
    occurred_at: '2025-10-19T10:00:00Z',
    user_id: 'u1',
    event_type: 'login',
    properties: { device: 'mobile' },
    ...overrides,
  };
}
