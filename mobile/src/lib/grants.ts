// Playback sessions this device holds, per event (a ticket's session moves with validation
// and re-entry, so the screens share them instead of opening new ones).
import type { PlaybackGrant } from '../api/types';

const grants = new Map<string, PlaybackGrant>();

export function remember(grant: PlaybackGrant): void {
  grants.set(grant.event_id, grant);
}

export function recall(eventId: string): PlaybackGrant | undefined {
  return grants.get(eventId);
}

export function forgetAll(): void {
  grants.clear();
}
