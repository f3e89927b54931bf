import type { SessionTarget } from '../engine/ports.js';
import type { SocketSession } from './held-sessions.js';

/**
 * The device session an operation (setPresence, reportActivity) acts on: the socket's own session
 * when it came over a socket and names no other device (or names the socket's, `socket` then);
 * otherwise `deviceId` as a device kept by a deadline (HTTP), or, without one, the engine's choice
 * for a client that names none (the user's 'default' device; every device for OFFLINE).
 */
export function deviceTarget(
  session: SocketSession | null,
  deviceId: string | null | undefined,
): SessionTarget & { socket: SocketSession | null } {
  const socket = session && (deviceId ?? session.sessionId) === session.sessionId ? session : null;
  return { sessionId: deviceId ?? socket?.sessionId ?? null, owner: socket?.owner ?? null, socket };
}
