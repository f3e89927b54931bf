import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddFriendsDocument, SetPresenceDocument, type PresenceStatus } from '../generated/graphql.js';
import { startApp, type TestServer } from '../helpers/app.js';
import { launchChromium, offlineContext, screenshot } from '../helpers/browser.js';
import { ok } from '../helpers/graphql.js';
import { waitFor } from '../helpers/ws.js';

// GraphiQL as a person uses it, in Chromium on a network with nothing but loopback: the page
// loads from this server alone, the docs come from introspection under the default limits, the
// token goes in the Headers tab, and a subscription shows a friend's change made elsewhere.
describe('GraphiQL in a browser with no internet', () => {
  let srv: TestServer;
  let browser: Browser;
  let page: Page;
  let blocked: string[];
  let graphqlStatuses: number[];

  beforeAll(async () => {
    srv = await startApp();
    browser = await launchChromium();
    const offline = await offlineContext(browser);
    blocked = offline.blocked;
    page = await offline.context.newPage();
    graphqlStatuses = [];
    page.on('response', (r) => {
      if (new URL(r.url()).pathname === '/graphql') graphqlStatuses.push(r.status());
    });
    await ok(srv.url, AddFriendsDocument, { userId: 'alice', friendIds: ['bob'] }, await srv.token('ops', { service: true }));
  });
  afterAll(async () => {
    await browser?.close();
    await srv?.stop();
  });

  /** Replaces the text of a Monaco editor the way a person pastes it. */
  const paste = async (editor: string, text: string) => {
    await page.locator(`${editor} .monaco-editor:visible`).click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(text);
  };
  const run = async (query: string) => {
    await paste('.graphiql-query-editor', query);
    // GraphiQL derives the operation from the text a moment after it changes.
    await page.waitForTimeout(300);
    await page.getByRole('button', { name: /execute query/i }).click();
  };
  /** The response pane's text; Monaco renders spaces as no-break spaces, so they are folded. */
  const result = async () => (await page.locator('.graphiql-response').innerText()).replace(/\s+/g, ' ');

  it('loads from this server alone, with a title and a first query that explains the token', async () => {
    await page.goto(`${srv.url}/graphql`);
    await expect.poll(() => page.title()).toBe('Presence GraphiQL');
    await expect.poll(() => page.locator('.graphiql-query-editor').innerText()).toMatch(/Authorization/);
    expect(blocked).toEqual([]);
  });

  it('loads the schema: the docs list Query.presence', async () => {
    await page.getByRole('button', { name: /documentation explorer/i }).click();
    await page.locator('.graphiql-doc-explorer').getByText('Query', { exact: true }).first().click();
    await expect.poll(() => page.locator('.graphiql-doc-explorer').innerText()).toMatch(/presence\(ids: \[ID!\]!\): \[Presence!\]!/);
    await screenshot(page, 'graphiql-docs');
  });

  it('runs a mutation with the Authorization header set in the Headers tab', async () => {
    await page.getByText('Headers', { exact: true }).click();
    await paste('.graphiql-editor-tool', JSON.stringify({ Authorization: `Bearer ${await srv.token('alice')}` }));
    await run('mutation { setPresence(status: BUSY) { userId status } }');
    await expect.poll(result).toContain('"userId": "alice", "status": "BUSY"');
  });

  it("shows a friend's change, made by another client, on a subscription", async () => {
    await run('subscription { friendPresenceChanged { userId status } }');
    // The stream is live a moment after it opens: bob flips until the first event shows, then
    // makes one last change, which must be what GraphiQL shows.
    const bob = await srv.token('bob');
    const set = (status: PresenceStatus) => ok(srv.url, SetPresenceDocument, { status }, bob);
    let flip = 0;
    await waitFor(
      async () => {
        if ((await result()).includes('"bob"')) return true;
        await set(flip++ % 2 ? 'ONLINE' : 'AWAY');
        // Slow enough to stay under the setPresence rate limit.
        await new Promise((r) => setTimeout(r, 600));
        return false;
      },
      10_000,
      () => 'no event reached GraphiQL',
    );
    const last: PresenceStatus = (await result()).includes('BUSY') ? 'ONLINE' : 'BUSY';
    await set(last);
    await expect.poll(result).toContain(`"userId": "bob", "status": "${last}"`);
    await screenshot(page, 'graphiql-subscription');
    expect(graphqlStatuses.filter((s) => s >= 400)).toEqual([]);
    expect(blocked).toEqual([]);
  });
});
