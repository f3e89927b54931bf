/**
 * The board's HTML: a static shell the script (browser.ts) fills in. No framework, no CDN; the
 * one stylesheet is inline. Readable on a phone (one column under 44rem), every control labelled
 * and reachable by keyboard, status shown as a word beside its dot (never colour alone), text at
 * 4.5:1 contrast or more, and changes announced through a polite live region.
 */
export function boardPage(opts: { devSignIn: boolean }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Presence board</title>
<style>${STYLE}</style>
</head>
<body>
<header class="bar">
  <h1>Presence</h1>
  <p id="connection" role="status">Signed out</p>
</header>
<main>
  <section id="sign-in" aria-labelledby="sign-in-title" class="card">
    <h2 id="sign-in-title">Sign in</h2>
    ${opts.devSignIn ? DEV_SIGN_IN : ''}
    <form id="token-form">
      <label for="token-input">Paste a token</label>
      <textarea id="token-input" name="token" rows="3" spellcheck="false" autocomplete="off" required></textarea>
      <p class="hint" id="token-hint">A JWT from your backend${opts.devSignIn ? ', or from <code>npm run token -- alice</code>' : ''}.</p>
      <button type="submit">Use this token</button>
    </form>
    <p id="sign-in-error" class="error" role="alert"></p>
  </section>

  <div id="board" hidden>
    <section aria-labelledby="friends-title" class="card">
      <h2 id="friends-title">Friends</h2>
      <p id="friends-empty" class="hint">No friends yet. Friendships are made by your backend (<code>addFriends</code>).</p>
      <ul id="friends" class="friends"></ul>
    </section>
    <section aria-labelledby="me-title" class="card">
      <h2 id="me-title">You: <span id="me-name"></span></h2>
      <fieldset id="status-picker" class="statuses">
        <legend>Your status</legend>
        ${STATUSES.map(
          ([value, label]) => `<label class="status-option"><input type="radio" name="status" value="${value}">
          <span class="dot dot-${value.toLowerCase()}" aria-hidden="true"></span>${label}</label>`,
        ).join('\n        ')}
      </fieldset>
      <form id="message-form">
        <fieldset>
          <legend>Status message</legend>
          <div class="row">
            <label class="emoji">Emoji <input id="message-emoji" name="emoji" maxlength="16" autocomplete="off"></label>
            <label class="grow">Message <input id="message-text" name="text" maxlength="140" autocomplete="off" placeholder="On holiday"></label>
          </div>
          <label>Clear it
            <select id="message-expiry" name="expiry">
              <option value="">never</option>
              <option value="1800000">in 30 minutes</option>
              <option value="3600000">in 1 hour</option>
              <option value="14400000">in 4 hours</option>
              <option value="86400000">in 24 hours</option>
            </select>
          </label>
          <div class="row">
            <button type="submit">Save message</button>
            <button type="button" id="message-clear" class="secondary">Clear message</button>
          </div>
        </fieldset>
      </form>
      <p id="me-error" class="error" role="alert"></p>
      <button type="button" id="sign-out" class="secondary">Sign out</button>
    </section>
  </div>
  <div id="announcer" class="visually-hidden" aria-live="polite" aria-atomic="true"></div>
</main>
<script type="module" src="/board/board.js"></script>
</body>
</html>
`;
}

const STATUSES = [
  ['ONLINE', 'Online'],
  ['AWAY', 'Away'],
  ['BUSY', 'Busy'],
  ['INVISIBLE', 'Invisible'],
] as const;

const DEV_SIGN_IN = `<form id="dev-form" class="dev">
      <label for="dev-name">Name</label>
      <input id="dev-name" name="userId" maxlength="128" autocomplete="username" required placeholder="alice">
      <button type="submit" id="dev-submit">Sign in as <span id="dev-name-echo">…</span></button>
      <p class="hint">Development only: a 15-minute token signed with the public development secret.</p>
    </form>`;

// Text colours are 4.5:1 or better on their backgrounds; dots are decoration beside a word.
const STYLE = `
:root { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1b1b; background: #f3f4f6; line-height: 1.45; }
* { box-sizing: border-box; }
body { margin: 0; }
.bar { display: flex; flex-wrap: wrap; align-items: baseline; justify-content: space-between; gap: .25rem 1rem; padding: .75rem 1rem; background: #1f2937; color: #fff; }
.bar h1 { margin: 0; font-size: 1.25rem; }
.bar p { margin: 0; font-size: .95rem; }
main { display: grid; gap: 1rem; padding: 1rem; max-width: 64rem; margin: 0 auto; }
#board:not([hidden]) { display: grid; gap: 1rem; grid-template-columns: minmax(0, 1fr); }
@media (min-width: 44rem) { #board:not([hidden]) { grid-template-columns: minmax(0, 1fr) minmax(0, 21rem); align-items: start; } }
.card { background: #fff; border: 1px solid #d1d5db; border-radius: .5rem; padding: 1rem; }
h2 { margin: 0 0 .75rem; font-size: 1.1rem; }
fieldset { border: 1px solid #d1d5db; border-radius: .375rem; margin: 0 0 .75rem; padding: .5rem .75rem .75rem; }
legend { font-weight: 600; padding: 0 .25rem; }
label { display: block; font-weight: 500; margin: .25rem 0; }
input, textarea, select, button { font: inherit; }
input, textarea, select { display: block; width: 100%; padding: .45rem .5rem; border: 1px solid #6b7280; border-radius: .375rem; background: #fff; color: #1b1b1b; }
textarea { font-family: ui-monospace, monospace; font-size: .85rem; }
button { margin-top: .5rem; padding: .5rem .9rem; border: 1px solid #1d4ed8; border-radius: .375rem; background: #1d4ed8; color: #fff; cursor: pointer; min-height: 2.5rem; }
button.secondary { background: #fff; color: #1d4ed8; }
:focus-visible { outline: 3px solid #b45309; outline-offset: 2px; }
.row { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; }
.row .grow { flex: 1 1 10rem; }
.row .emoji { flex: 0 0 5.5rem; }
.hint { color: #4b5563; font-size: .9rem; margin: .25rem 0 .5rem; }
.error { color: #b91c1c; margin: .5rem 0 0; }
.error:empty { display: none; }
.dev { border-bottom: 1px solid #e5e7eb; padding-bottom: .75rem; margin-bottom: .75rem; }
.statuses { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: .25rem .5rem; }
.status-option { display: flex; align-items: center; gap: .5rem; padding: .35rem .5rem; border-radius: .375rem; border: 1px solid transparent; margin: 0; cursor: pointer; min-height: 2.5rem; }
.status-option input { width: auto; margin: 0; }
.status-option:has(input:checked) { border-color: #1d4ed8; background: #eff6ff; }
.dot { display: inline-block; width: .8rem; height: .8rem; border-radius: 50%; flex: none; border: 2px solid transparent; }
.dot-online { background: #15803d; }
.dot-away { background: #d97706; }
.dot-busy { background: #b91c1c; }
.dot-invisible, .dot-offline { background: #fff; border-color: #6b7280; }
.friends { list-style: none; margin: 0; padding: 0; }
.friend { display: grid; grid-template-columns: auto minmax(0, 1fr); gap: 0 .6rem; padding: .6rem 0; border-top: 1px solid #e5e7eb; }
.friend:first-child { border-top: 0; }
.friend .dot { margin-top: .35rem; }
.friend .name { font-weight: 600; overflow-wrap: anywhere; }
.friend .status { color: #374151; }
.friend .message { overflow-wrap: anywhere; }
.friend .seen { color: #4b5563; font-size: .9rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;
