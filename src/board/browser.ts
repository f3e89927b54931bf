/// <reference lib="dom" />
/**
 * The board's browser code (served bundled as /board/board.js, with the client library): sign in,
 * then a live friends list, the viewer's status picker and status message editor. Everything live
 * comes from createPresenceClient; this file only renders its state.
 */
import { createPresenceClient, decodeJwtPayload, type Presence, type PresenceClient, type PresenceStatus } from '../../client/index.js';

const LABELS: Record<PresenceStatus, string> = { ONLINE: 'Online', AWAY: 'Away', BUSY: 'Busy', INVISIBLE: 'Invisible', OFFLINE: 'Offline' };
/** Friends are listed by how reachable they are, then by name. */
const ORDER: Record<PresenceStatus, number> = { ONLINE: 0, BUSY: 1, AWAY: 2, INVISIBLE: 3, OFFLINE: 3 };
/** How often "last active 5 minutes ago" is recomputed. */
const REFRESH_RELATIVE_MS = 15_000;
/** The signed-in session survives a reload of this tab, and only of this tab. */
const STORAGE_KEY = 'presence-board-session';

type Session = { kind: 'dev'; userId: string } | { kind: 'token'; token: string };

const byId = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  connection: byId('connection'),
  signIn: byId('sign-in'),
  signInError: byId('sign-in-error'),
  devForm: byId<HTMLFormElement>('dev-form') as HTMLFormElement | null,
  devName: byId<HTMLInputElement>('dev-name') as HTMLInputElement | null,
  devEcho: byId('dev-name-echo') as HTMLElement | null,
  tokenForm: byId<HTMLFormElement>('token-form'),
  tokenInput: byId<HTMLTextAreaElement>('token-input'),
  board: byId('board'),
  meName: byId('me-name'),
  meError: byId('me-error'),
  picker: byId<HTMLFieldSetElement>('status-picker'),
  messageForm: byId<HTMLFormElement>('message-form'),
  messageText: byId<HTMLInputElement>('message-text'),
  messageEmoji: byId<HTMLInputElement>('message-emoji'),
  messageExpiry: byId<HTMLSelectElement>('message-expiry'),
  messageClear: byId<HTMLButtonElement>('message-clear'),
  signOut: byId<HTMLButtonElement>('sign-out'),
  friends: byId<HTMLUListElement>('friends'),
  friendsEmpty: byId('friends-empty'),
  announcer: byId('announcer'),
};

/** "5 minutes ago", "yesterday": the coarsest unit that is at least 1. */
const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
function ago(iso: string, now = Date.now()): string {
  const s = (Date.parse(iso) - now) / 1000;
  const abs = Math.abs(s);
  if (abs < 45) return 'just now';
  if (abs < 45 * 60) return relative.format(Math.round(s / 60), 'minute');
  if (abs < 22 * 3600) return relative.format(Math.round(s / 3600), 'hour');
  return relative.format(Math.round(s / 86_400), 'day');
}

/** What the row says under the name: the status's moment, in words. */
function seen(p: Presence): string {
  if (p.status === 'ONLINE' || p.status === 'BUSY') return 'active now';
  return p.lastActiveAt ? `last active ${ago(p.lastActiveAt)}` : 'not seen yet';
}

async function devToken(userId: string): Promise<string> {
  const res = await fetch('/board/dev-token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId }),
  });
  const body = (await res.json().catch(() => null)) as { token?: string; errors?: { message: string }[] } | null;
  if (!res.ok || !body?.token) throw new Error(body?.errors?.[0]?.message ?? `sign-in failed (HTTP ${res.status})`);
  return body.token;
}

let client: PresenceClient | null = null;
let shown = new Map<string, Presence>();
let timer: ReturnType<typeof setInterval> | undefined;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function friendRow(p: Presence): HTMLLIElement {
  const li = el('li', 'friend');
  li.dataset['userId'] = p.userId;
  li.dataset['status'] = p.status;
  li.append(el('span', `dot dot-${p.status.toLowerCase()}`));
  (li.lastChild as HTMLElement).setAttribute('aria-hidden', 'true');
  const body = el('div', 'body');
  const head = el('div', 'head');
  head.append(el('span', 'name', p.userId), document.createTextNode(' · '), el('span', 'status', LABELS[p.status]));
  body.append(head);
  const message = statusMessageOf(p);
  if (message) body.append(el('div', 'message', message));
  const when = el('div', 'seen');
  if (p.lastActiveAt) {
    const t = el('time', '', seen(p));
    t.dateTime = p.lastActiveAt;
    when.append(t);
  } else when.textContent = seen(p);
  body.append(when);
  li.append(body);
  return li;
}

function renderFriends() {
  if (!client) return;
  const list = [...client.friends.values()].sort((a, b) => ORDER[a.status] - ORDER[b.status] || a.userId.localeCompare(b.userId));
  ui.friends.replaceChildren(...list.map(friendRow));
  ui.friendsEmpty.hidden = list.length > 0;
}

/** Tells a screen reader what changed, politely: a friend's status or message. */
function announce(updated: readonly Presence[]) {
  const lines: string[] = [];
  for (const p of updated) {
    const before = shown.get(p.userId);
    if (before && before.status !== p.status) lines.push(`${p.userId} is now ${LABELS[p.status]}.`);
    const message = statusMessageOf(p);
    if (before && message && message !== statusMessageOf(before)) lines.push(`${p.userId}: ${message}`);
  }
  if (lines.length) ui.announcer.textContent = lines.join(' ');
}

function renderMe() {
  const me = client?.me;
  if (!me) return;
  ui.meName.textContent = me.userId;
  for (const input of ui.picker.querySelectorAll<HTMLInputElement>('input[name=status]')) input.checked = input.value === me.status;
  // The editor shows the message the server holds (set here or on another device), unless it is
  // being edited.
  if (!ui.messageForm.contains(document.activeElement)) {
    ui.messageText.value = me.statusMessage?.text ?? '';
    ui.messageEmoji.value = me.statusMessage?.emoji ?? '';
  }
}

function renderConnection() {
  if (!client) return void (ui.connection.textContent = 'Signed out');
  const who = client.me ? ` as ${client.me.userId}` : '';
  ui.connection.textContent = {
    connecting: 'Connecting…',
    connected: `Live${who}`,
    reconnecting: 'Connection lost: reconnecting…',
    closed: 'Signed out',
    failed: `Stopped: ${client.error?.message ?? 'unknown error'}`,
  }[client.connection];
}

function start(session: Session, firstToken?: string) {
  let first = firstToken;
  client = createPresenceClient({
    url: new URL('/graphql', location.href).href,
    ...(session.kind === 'dev'
      ? {
          getToken: () => {
            const t = first;
            first = undefined;
            return t ?? devToken(session.userId);
          },
        }
      : { token: session.token }),
  });
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  shown = new Map();
  ui.signIn.hidden = true;
  ui.board.hidden = false;
  ui.meName.textContent = session.kind === 'dev' ? session.userId : String(decodeJwtPayload(session.token)?.['sub'] ?? '');
  client.onChange((change) => {
    if (change.updated.length || change.removed.length) {
      announce(change.updated);
      renderFriends();
      shown = new Map(client?.friends ?? []);
    }
    if (change.me) renderMe();
    renderConnection();
  });
  renderFriends();
  renderConnection();
  timer = setInterval(renderFriends, REFRESH_RELATIVE_MS);
}

async function signOut() {
  clearInterval(timer);
  const c = client;
  client = null;
  sessionStorage.removeItem(STORAGE_KEY);
  ui.board.hidden = true;
  ui.signIn.hidden = false;
  ui.friends.replaceChildren();
  renderConnection();
  await c?.close();
}

/** The picker: arrow keys move between the radios and each move sets the status. */
ui.picker.addEventListener('change', async (event) => {
  const input = event.target as HTMLInputElement;
  if (!client || input.name !== 'status') return;
  ui.meError.textContent = '';
  try {
    await client.setStatus(input.value as PresenceStatus);
  } catch (err) {
    ui.meError.textContent = `Could not set your status: ${(err as Error).message}`;
    renderMe(); // back to what the server holds
  }
});

ui.messageForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!client) return;
  ui.meError.textContent = '';
  const text = ui.messageText.value.trim();
  const emoji = ui.messageEmoji.value.trim();
  const ms = Number(ui.messageExpiry.value);
  try {
    // An empty text clears the message (the server takes no emoji or expiry without a text).
    await client.setStatusMessage(
      text ? { text, emoji: emoji || null, expiresAt: ms > 0 ? new Date(Date.now() + ms) : null } : { text: null },
    );
  } catch (err) {
    ui.meError.textContent = `Could not save your message: ${(err as Error).message}`;
  }
});

ui.messageClear.addEventListener('click', async () => {
  if (!client) return;
  ui.meError.textContent = '';
  try {
    await client.setStatusMessage({ text: null });
    ui.messageText.value = '';
    ui.messageEmoji.value = '';
    ui.messageExpiry.value = '';
  } catch (err) {
    ui.meError.textContent = `Could not clear your message: ${(err as Error).message}`;
  }
});

ui.signOut.addEventListener('click', () => void signOut());

ui.devName?.addEventListener('input', () => {
  if (ui.devEcho) ui.devEcho.textContent = ui.devName!.value.trim() || '…';
});

ui.devForm?.addEventListener('submit', async (event) => {
  event.preventDefault();
  const userId = ui.devName!.value.trim();
  ui.signInError.textContent = '';
  try {
    start({ kind: 'dev', userId }, await devToken(userId));
  } catch (err) {
    ui.signInError.textContent = (err as Error).message;
  }
});

ui.tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = ui.tokenInput.value.trim().replace(/^Bearer\s+/i, '');
  ui.signInError.textContent = '';
  if (!decodeJwtPayload(token)) return void (ui.signInError.textContent = 'That is not a JWT (three base64url parts separated by dots).');
  ui.tokenInput.value = '';
  start({ kind: 'token', token });
});

// A reload keeps the tab signed in.
try {
  const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as Session | null;
  if (saved?.kind === 'dev' || saved?.kind === 'token') start(saved);
} catch {
  sessionStorage.removeItem(STORAGE_KEY);
}

/**
 * The status message as a row shows it, emoji first, or null. One past its expiry is hidden here
 * too: the server sends no event when a message expires, and rows are redrawn every 15 s.
 */
function statusMessageOf(p: Presence): string | null {
  const m = p.statusMessage;
  if (!m || (m.expiresAt && Date.parse(m.expiresAt) <= Date.now())) return null;
  return m.emoji ? `${m.emoji} ${m.text}` : m.text;
}
