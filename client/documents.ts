/**
 * The client's own operations, as typed documents (the shape codegen's `TypedDocumentString`
 * gives: the text plus phantom result and variable types), written against schema/schema.graphql.
 * They are kept here, not imported from test/generated, so the client stands alone;
 * test/unit/client.test.ts validates every one against the printed schema, so drift fails a test.
 * Operation names are those of schema/operations, so the server's metrics label them.
 */

export type PresenceStatus = 'ONLINE' | 'AWAY' | 'BUSY' | 'INVISIBLE' | 'OFFLINE';

/** A line of text a user shows beside their status (the schema's `StatusMessage`). */
export interface StatusMessage {
  readonly text: string;
  /** Exactly one emoji, or null. */
  readonly emoji: string | null;
  /** ISO-8601 UTC; the message disappears for everyone then (no event is sent); null: until cleared. */
  readonly expiresAt: string | null;
}

/** A user as the viewer is allowed to see them (the schema's `Presence`). */
export interface Presence {
  readonly userId: string;
  readonly status: PresenceStatus;
  /** ISO-8601 UTC; now while online, when they went offline afterwards; null if unknown or hidden. */
  readonly lastActiveAt: string | null;
  /** Null when none, expired, or not visible (others see it only while the user is present). */
  readonly statusMessage: StatusMessage | null;
  /** Grows with every change of this user; 0 when nothing may be shown. */
  readonly version: number;
}

/** What setStatusMessage takes: `text: null` clears the message (then emoji and expiresAt must be null too). */
export interface StatusMessageInput {
  text: string | null;
  emoji?: string | null;
  /** When it disappears; at most 30 days ahead. */
  expiresAt?: Date | string | null;
}

/** A GraphQL document with its result and variables types attached (types only, nothing at run time). */
export interface TypedDocument<TResult, TVariables extends Record<string, unknown>> {
  readonly query: string;
  readonly operationName: string;
  /** Never set: carries the types. */
  readonly __types?: { result: TResult; variables: TVariables };
}

export type ResultOf<D> = D extends TypedDocument<infer R, Record<string, unknown>> ? R : never;
export type VariablesOf<D> = D extends TypedDocument<unknown, infer V> ? V : never;

const fields = 'userId status lastActiveAt version statusMessage { text emoji expiresAt }';

const doc = <R, V extends Record<string, unknown> = Record<string, never>>(operationName: string, query: string): TypedDocument<R, V> =>
  Object.freeze({ query, operationName });

export const ClientFriendsDocument = doc<{ friends: Presence[] }>('Friends', `query Friends { friends { ${fields} } }`);

export const ClientMeDocument = doc<{ me: Presence }>('Me', `query Me { me { ${fields} } }`);

export const ClientSetPresenceDocument = doc<{ setPresence: Presence }, { status: PresenceStatus; deviceId?: string | null }>(
  'SetPresence',
  `mutation SetPresence($status: PresenceStatus!, $deviceId: String) { setPresence(status: $status, deviceId: $deviceId) { ${fields} } }`,
);

export const ClientSetStatusMessageDocument = doc<
  { setStatusMessage: Presence },
  { text: string | null; emoji?: string | null; expiresAt?: string | null }
>(
  'SetStatusMessage',
  `mutation SetStatusMessage($text: String, $emoji: String, $expiresAt: DateTime) { setStatusMessage(text: $text, emoji: $emoji, expiresAt: $expiresAt) { ${fields} } }`,
);

/**
 * The person is using this device (input events, throttled): the server's automatic away counts
 * from the last one. Over a socket the socket's device is meant; over HTTP the client's deviceId.
 */
export const ClientReportActivityDocument = doc<{ reportActivity: Presence }, { deviceId?: string | null }>(
  'ReportActivity',
  `mutation ReportActivity($deviceId: String) { reportActivity(deviceId: $deviceId) { ${fields} } }`,
);

export const ClientHeartbeatDocument = doc<{ heartbeat: Presence }, { deviceId: string }>(
  'Heartbeat',
  `mutation Heartbeat($deviceId: String!) { heartbeat(deviceId: $deviceId) { ${fields} } }`,
);

/**
 * Friends' changes. With `since`, the stream first sends the current state of every friend whose
 * version is above it (0: everyone visible), then live changes, with no gap at the seam.
 */
export const ClientFriendPresenceChangedDocument = doc<{ friendPresenceChanged: Presence }, { since?: number | null }>(
  'FriendPresenceChanged',
  `subscription FriendPresenceChanged($since: Float) { friendPresenceChanged(since: $since) { ${fields} } }`,
);

/** The viewer's own changes (from this or another device): self is always visible to self. */
export const ClientPresenceChangedDocument = doc<{ presenceChanged: Presence }, { ids: string[]; since?: number | null }>(
  'PresenceChanged',
  `subscription PresenceChanged($ids: [ID!]!, $since: Float) { presenceChanged(ids: $ids, since: $since) { ${fields} } }`,
);

/** Every document above, for the drift test. */
export const clientDocuments: readonly TypedDocument<unknown, Record<string, unknown>>[] = [
  ClientFriendsDocument,
  ClientMeDocument,
  ClientSetPresenceDocument,
  ClientSetStatusMessageDocument,
  ClientReportActivityDocument,
  ClientHeartbeatDocument,
  ClientFriendPresenceChangedDocument,
  ClientPresenceChangedDocument,
] as never;
