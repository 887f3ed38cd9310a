import type { NormalizedEvent } from '@herald/events';
import { canonicalUuid } from './dedup-keys.js';
import type { SeatableNotificationData } from './types.js';

/** A `new-notification` payload (already JSON-parsed) → `seatable.notification`. */
export function normalizeNotification(
  notification: Record<string, unknown>,
  raw: Uint8Array,
): NormalizedEvent {
  const field = (name: string): string | null => {
    const value = notification[name];
    return typeof value === 'string' && value !== '' ? value : null;
  };
  const id = notification.id;
  const uuid = field('dtable_uuid');
  const data: SeatableNotificationData = {
    id: typeof id === 'number' || typeof id === 'string' ? id : null,
    username: field('username'),
    dtableUuid: uuid === null ? null : canonicalUuid(uuid),
    msgType: field('msg_type'),
    createdAt: field('created_at'),
    detail: notification.detail ?? null,
  };
  const created = data.createdAt === null ? Number.NaN : Date.parse(data.createdAt);
  return {
    type: 'seatable.notification',
    subject: data.id === null ? undefined : `notifications/${data.id}`,
    time: Number.isNaN(created) ? undefined : new Date(created),
    data: { ...data },
    raw: { body: raw, contentType: 'application/json' },
    dedupKey: data.id === null ? undefined : `notification:${data.id}`,
  };
}
