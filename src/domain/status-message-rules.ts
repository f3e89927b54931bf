import { badInput } from './errors.js';
import { hasLoneSurrogate } from './ids.js';
import type { StatusMessage } from './presence.js';

/** Characters (code points, after NFC normalization) a status message may hold. @default 140 */
export const MESSAGE_MAX_LENGTH = 140;
/** How far ahead a message may be set to expire. @default 30 days */
export const MESSAGE_MAX_TTL_MS = 30 * 24 * 60 * 60 * 1000;

// C0 and C1 controls (newlines and tabs included: a status is one line) and the bidirectional
// overrides and isolates, which let a message display as something other than what it holds.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
// One RGI emoji: a single grapheme cluster that Unicode recommends showing as an emoji (flags, skin
// tones and ZWJ sequences included).
// (Built at run time: TypeScript's target predates the `v` flag, which Node 20 supports.)
const ONE_EMOJI = new RegExp('^\\p{RGI_Emoji}$', 'v');

export interface MessageInput {
  text?: string | null | undefined;
  emoji?: string | null | undefined;
  expiresAt?: Date | null | undefined;
}

/**
 * The message to store for setStatusMessage, or null to clear it; BAD_USER_INPUT (and nothing
 * stored) for anything else: text empty, too long or holding control characters, an emoji that is
 * not exactly one emoji, an expiry in the past or more than 30 days ahead.
 */
export function checkMessage({ text, emoji, expiresAt }: MessageInput, nowMs: number): StatusMessage | null {
  if (text === null || text === undefined) {
    if ((emoji ?? null) !== null || (expiresAt ?? null) !== null)
      throw badInput('emoji and expiresAt need a text (text: null clears the message)');
    return null;
  }
  if (hasLoneSurrogate(text)) throw badInput('text is not well-formed Unicode (a lone surrogate)');
  const normalized = text.normalize('NFC');
  if (normalized.trim() === '') throw badInput('text must not be empty (text: null clears the message)');
  const length = [...normalized].length;
  if (length > MESSAGE_MAX_LENGTH) throw badInput(`text is longer than ${MESSAGE_MAX_LENGTH} characters (${length})`);
  if (CONTROL.test(normalized)) throw badInput('text contains control characters');
  if (emoji !== null && emoji !== undefined && (hasLoneSurrogate(emoji) || !ONE_EMOJI.test(emoji)))
    throw badInput('emoji must be exactly one emoji');
  let expires: number | null = null;
  if (expiresAt !== null && expiresAt !== undefined) {
    expires = expiresAt.getTime();
    if (expires <= nowMs) throw badInput('expiresAt must be in the future');
    if (expires > nowMs + MESSAGE_MAX_TTL_MS) throw badInput('expiresAt must be at most 30 days ahead');
  }
  return { text: normalized, emoji: emoji ?? null, expiresAt: expires };
}
