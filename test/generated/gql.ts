/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "mutation ReportActivity($deviceId: String) {\n  reportActivity(deviceId: $deviceId) {\n    ...PresenceFields\n  }\n}\n\nquery MyDevices {\n  me {\n    ...PresenceFields\n    devices {\n      deviceId\n      status\n      lastActiveAt\n      transport\n    }\n  }\n}\n\nquery PresencesWithDevices($ids: [ID!]!) {\n  presence(ids: $ids) {\n    userId\n    status\n    devices {\n      deviceId\n    }\n  }\n}": typeof types.ReportActivityDocument,
    "mutation AddFriends($userId: ID!, $friendIds: [ID!]!) {\n  addFriends(userId: $userId, friendIds: $friendIds)\n}\n\nmutation RemoveFriends($userId: ID!, $friendIds: [ID!]!) {\n  removeFriends(userId: $userId, friendIds: $friendIds)\n}": typeof types.AddFriendsDocument,
    "mutation Heartbeat($deviceId: String!) {\n  heartbeat(deviceId: $deviceId) {\n    ...PresenceFields\n  }\n}\n\nquery OnlineCount {\n  onlineCount\n}": typeof types.HeartbeatDocument,
    "fragment PresenceFields on Presence {\n  userId\n  status\n  lastActiveAt\n  version\n}\n\nquery Me {\n  me {\n    ...PresenceFields\n  }\n}\n\nquery Presences($ids: [ID!]!) {\n  presence(ids: $ids) {\n    ...PresenceFields\n  }\n}\n\nquery Friends {\n  friends {\n    ...PresenceFields\n  }\n}\n\nmutation SetPresence($status: PresenceStatus!, $deviceId: String) {\n  setPresence(status: $status, deviceId: $deviceId) {\n    ...PresenceFields\n  }\n}": typeof types.PresenceFieldsFragmentDoc,
    "fragment RichPresenceFields on Presence {\n  userId\n  status\n  lastActiveAt\n  version\n  statusMessage {\n    text\n    emoji\n    expiresAt\n  }\n}\n\nmutation SetStatusMessage($text: String, $emoji: String, $expiresAt: DateTime) {\n  setStatusMessage(text: $text, emoji: $emoji, expiresAt: $expiresAt) {\n    ...RichPresenceFields\n  }\n}\n\nquery RichPresences($ids: [ID!]!) {\n  presence(ids: $ids) {\n    ...RichPresenceFields\n  }\n}\n\nquery RichFriends {\n  friends {\n    ...RichPresenceFields\n  }\n}\n\nquery Privacy {\n  privacy {\n    lastActive\n    hiddenFrom\n  }\n}\n\nmutation SetPrivacy($lastActive: LastActiveVisibility, $hide: [ID!], $unhide: [ID!]) {\n  setPrivacy(lastActive: $lastActive, hide: $hide, unhide: $unhide) {\n    lastActive\n    hiddenFrom\n  }\n}\n\nsubscription RichFriendPresenceChanged($since: Float) {\n  friendPresenceChanged(since: $since) {\n    ...RichPresenceFields\n  }\n}": typeof types.RichPresenceFieldsFragmentDoc,
    "subscription FriendPresenceChanged($since: Float) {\n  friendPresenceChanged(since: $since) {\n    ...PresenceFields\n  }\n}\n\nsubscription PresenceChanged($ids: [ID!]!, $since: Float) {\n  presenceChanged(ids: $ids, since: $since) {\n    ...PresenceFields\n  }\n}": typeof types.FriendPresenceChangedDocument,
};
const documents: Documents = {
    "mutation ReportActivity($deviceId: String) {\n  reportActivity(deviceId: $deviceId) {\n    ...PresenceFields\n  }\n}\n\nquery MyDevices {\n  me {\n    ...PresenceFields\n    devices {\n      deviceId\n      status\n      lastActiveAt\n      transport\n    }\n  }\n}\n\nquery PresencesWithDevices($ids: [ID!]!) {\n  presence(ids: $ids) {\n    userId\n    status\n    devices {\n      deviceId\n    }\n  }\n}": types.ReportActivityDocument,
    "mutation AddFriends($userId: ID!, $friendIds: [ID!]!) {\n  addFriends(userId: $userId, friendIds: $friendIds)\n}\n\nmutation RemoveFriends($userId: ID!, $friendIds: [ID!]!) {\n  removeFriends(userId: $userId, friendIds: $friendIds)\n}": types.AddFriendsDocument,
    "mutation Heartbeat($deviceId: String!) {\n  heartbeat(deviceId: $deviceId) {\n    ...PresenceFields\n  }\n}\n\nquery OnlineCount {\n  onlineCount\n}": types.HeartbeatDocument,
    "fragment PresenceFields on Presence {\n  userId\n  status\n  lastActiveAt\n  version\n}\n\nquery Me {\n  me {\n    ...PresenceFields\n  }\n}\n\nquery Presences($ids: [ID!]!) {\n  presence(ids: $ids) {\n    ...PresenceFields\n  }\n}\n\nquery Friends {\n  friends {\n    ...PresenceFields\n  }\n}\n\nmutation SetPresence($status: PresenceStatus!, $deviceId: String) {\n  setPresence(status: $status, deviceId: $deviceId) {\n    ...PresenceFields\n  }\n}": types.PresenceFieldsFragmentDoc,
    "fragment RichPresenceFields on Presence {\n  userId\n  status\n  lastActiveAt\n  version\n  statusMessage {\n    text\n    emoji\n    expiresAt\n  }\n}\n\nmutation SetStatusMessage($text: String, $emoji: String, $expiresAt: DateTime) {\n  setStatusMessage(text: $text, emoji: $emoji, expiresAt: $expiresAt) {\n    ...RichPresenceFields\n  }\n}\n\nquery RichPresences($ids: [ID!]!) {\n  presence(ids: $ids) {\n    ...RichPresenceFields\n  }\n}\n\nquery RichFriends {\n  friends {\n    ...RichPresenceFields\n  }\n}\n\nquery Privacy {\n  privacy {\n    lastActive\n    hiddenFrom\n  }\n}\n\nmutation SetPrivacy($lastActive: LastActiveVisibility, $hide: [ID!], $unhide: [ID!]) {\n  setPrivacy(lastActive: $lastActive, hide: $hide, unhide: $unhide) {\n    lastActive\n    hiddenFrom\n  }\n}\n\nsubscription RichFriendPresenceChanged($since: Float) {\n  friendPresenceChanged(since: $since) {\n    ...RichPresenceFields\n  }\n}": types.RichPresenceFieldsFragmentDoc,
    "subscription FriendPresenceChanged($since: Float) {\n  friendPresenceChanged(since: $since) {\n    ...PresenceFields\n  }\n}\n\nsubscription PresenceChanged($ids: [ID!]!, $since: Float) {\n  presenceChanged(ids: $ids, since: $since) {\n    ...PresenceFields\n  }\n}": types.FriendPresenceChangedDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation ReportActivity($deviceId: String) {\n  reportActivity(deviceId: $deviceId) {\n    ...PresenceFields\n  }\n}\n\nquery MyDevices {\n  me {\n    ...PresenceFields\n    devices {\n      deviceId\n      status\n      lastActiveAt\n      transport\n    }\n  }\n}\n\nquery PresencesWithDevices($ids: [ID!]!) {\n  presence(ids: $ids) {\n    userId\n    status\n    devices {\n      deviceId\n    }\n  }\n}"): (typeof documents)["mutation ReportActivity($deviceId: String) {\n  reportActivity(deviceId: $deviceId) {\n    ...PresenceFields\n  }\n}\n\nquery MyDevices {\n  me {\n    ...PresenceFields\n    devices {\n      deviceId\n      status\n      lastActiveAt\n      transport\n    }\n  }\n}\n\nquery PresencesWithDevices($ids: [ID!]!) {\n  presence(ids: $ids) {\n    userId\n    status\n    devices {\n      deviceId\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AddFriends($userId: ID!, $friendIds: [ID!]!) {\n  addFriends(userId: $userId, friendIds: $friendIds)\n}\n\nmutation RemoveFriends($userId: ID!, $friendIds: [ID!]!) {\n  removeFriends(userId: $userId, friendIds: $friendIds)\n}"): (typeof documents)["mutation AddFriends($userId: ID!, $friendIds: [ID!]!) {\n  addFriends(userId: $userId, friendIds: $friendIds)\n}\n\nmutation RemoveFriends($userId: ID!, $friendIds: [ID!]!) {\n  removeFriends(userId: $userId, friendIds: $friendIds)\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation Heartbeat($deviceId: String!) {\n  heartbeat(deviceId: $deviceId) {\n    ...PresenceFields\n  }\n}\n\nquery OnlineCount {\n  onlineCount\n}"): (typeof documents)["mutation Heartbeat($deviceId: String!) {\n  heartbeat(deviceId: $deviceId) {\n    ...PresenceFields\n  }\n}\n\nquery OnlineCount {\n  onlineCount\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment PresenceFields on Presence {\n  userId\n  status\n  lastActiveAt\n  version\n}\n\nquery Me {\n  me {\n    ...PresenceFields\n  }\n}\n\nquery Presences($ids: [ID!]!) {\n  presence(ids: $ids) {\n    ...PresenceFields\n  }\n}\n\nquery Friends {\n  friends {\n    ...PresenceFields\n  }\n}\n\nmutation SetPresence($status: PresenceStatus!, $deviceId: String) {\n  setPresence(status: $status, deviceId: $deviceId) {\n    ...PresenceFields\n  }\n}"): (typeof documents)["fragment PresenceFields on Presence {\n  userId\n  status\n  lastActiveAt\n  version\n}\n\nquery Me {\n  me {\n    ...PresenceFields\n  }\n}\n\nquery Presences($ids: [ID!]!) {\n  presence(ids: $ids) {\n    ...PresenceFields\n  }\n}\n\nquery Friends {\n  friends {\n    ...PresenceFields\n  }\n}\n\nmutation SetPresence($status: PresenceStatus!, $deviceId: String) {\n  setPresence(status: $status, deviceId: $deviceId) {\n    ...PresenceFields\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment RichPresenceFields on Presence {\n  userId\n  status\n  lastActiveAt\n  version\n  statusMessage {\n    text\n    emoji\n    expiresAt\n  }\n}\n\nmutation SetStatusMessage($text: String, $emoji: String, $expiresAt: DateTime) {\n  setStatusMessage(text: $text, emoji: $emoji, expiresAt: $expiresAt) {\n    ...RichPresenceFields\n  }\n}\n\nquery RichPresences($ids: [ID!]!) {\n  presence(ids: $ids) {\n    ...RichPresenceFields\n  }\n}\n\nquery RichFriends {\n  friends {\n    ...RichPresenceFields\n  }\n}\n\nquery Privacy {\n  privacy {\n    lastActive\n    hiddenFrom\n  }\n}\n\nmutation SetPrivacy($lastActive: LastActiveVisibility, $hide: [ID!], $unhide: [ID!]) {\n  setPrivacy(lastActive: $lastActive, hide: $hide, unhide: $unhide) {\n    lastActive\n    hiddenFrom\n  }\n}\n\nsubscription RichFriendPresenceChanged($since: Float) {\n  friendPresenceChanged(since: $since) {\n    ...RichPresenceFields\n  }\n}"): (typeof documents)["fragment RichPresenceFields on Presence {\n  userId\n  status\n  lastActiveAt\n  version\n  statusMessage {\n    text\n    emoji\n    expiresAt\n  }\n}\n\nmutation SetStatusMessage($text: String, $emoji: String, $expiresAt: DateTime) {\n  setStatusMessage(text: $text, emoji: $emoji, expiresAt: $expiresAt) {\n    ...RichPresenceFields\n  }\n}\n\nquery RichPresences($ids: [ID!]!) {\n  presence(ids: $ids) {\n    ...RichPresenceFields\n  }\n}\n\nquery RichFriends {\n  friends {\n    ...RichPresenceFields\n  }\n}\n\nquery Privacy {\n  privacy {\n    lastActive\n    hiddenFrom\n  }\n}\n\nmutation SetPrivacy($lastActive: LastActiveVisibility, $hide: [ID!], $unhide: [ID!]) {\n  setPrivacy(lastActive: $lastActive, hide: $hide, unhide: $unhide) {\n    lastActive\n    hiddenFrom\n  }\n}\n\nsubscription RichFriendPresenceChanged($since: Float) {\n  friendPresenceChanged(since: $since) {\n    ...RichPresenceFields\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription FriendPresenceChanged($since: Float) {\n  friendPresenceChanged(since: $since) {\n    ...PresenceFields\n  }\n}\n\nsubscription PresenceChanged($ids: [ID!]!, $since: Float) {\n  presenceChanged(ids: $ids, since: $since) {\n    ...PresenceFields\n  }\n}"): (typeof documents)["subscription FriendPresenceChanged($since: Float) {\n  friendPresenceChanged(since: $since) {\n    ...PresenceFields\n  }\n}\n\nsubscription PresenceChanged($ids: [ID!]!, $since: Float) {\n  presenceChanged(ids: $ids, since: $since) {\n    ...PresenceFields\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;