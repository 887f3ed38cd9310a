import type { EventsNamespace } from './cluster-bus.js';

/** Every socket joins the room of the API key it authenticated with, so a revocation finds them. */
export const apiKeyRoom = (keyId: string): string => `api-key:${keyId}`;

/** A namespace reaches every instance its adapter spans; `namespace.local` only this one. */
type SocketReach = Pick<EventsNamespace['local'], 'to' | 'in'>;

/** Tells each socket of a revoked key why, then disconnects it (the client must not just reconnect). */
export function cutOffApiKey(sockets: SocketReach, keyId: string): void {
  const room = apiKeyRoom(keyId);
  sockets.to(room).emit('closing', { code: 'unauthorized', message: 'the API key was revoked' });
  sockets.in(room).disconnectSockets(true);
}
