import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddFriendsDocument, SetPresenceDocument, SetPrivacyDocument, SetStatusMessageDocument } from '../generated/graphql.js';
import { startApp, TEST_SECRET, type TestServer } from '../helpers/app.js';
import { launchChromium, offlineContext, screenshot } from '../helpers/browser.js';
import { ok } from '../helpers/graphql.js';

// The board as people use it: Chromium with nothing but loopback, one context per person, signed
// in through the development sign-in (the server runs on the development secret), live through
// the client library the page bundles.
describe('the board in Chromium', () => {
  let srv: TestServer;
  let browser: Browser;
  const contexts: { context: BrowserContext; blocked: string[] }[] = [];
  let alice: Page;
  let bob: Page;
  let aliceContext: BrowserContext;

  /** A fresh browser profile (its own storage, its own network switch) signed in as `name`. */
  const signIn = async (name: string, { clock = false } = {}) => {
    const viewport = { width: 1100, height: 760 };
    const offline = await offlineContext(browser);
    contexts.push(offline);
    // A clock the test can move forward (it runs at the normal pace otherwise).
    if (clock) await offline.context.clock.install();
    const page = await offline.context.newPage();
    await page.setViewportSize(viewport);
    await page.goto(`${srv.url}/board`);
    await page.getByLabel('Name').fill(name);
    await page.getByRole('button', { name: `Sign in as ${name}` }).click();
    await page.waitForFunction((n) => document.getElementById('connection')?.textContent === `Live as ${n}`, name, { timeout: 10_000 });
    return { page, context: offline.context };
  };
  const row = (page: Page, userId: string) => page.locator(`li[data-user-id="${userId}"]`);
  const shownStatus = (page: Page, userId: string) => row(page, userId).locator('.status').innerText();
  const pick = (page: Page, label: string) => page.getByRole('radio', { name: label }).check();
  const shownMessage = async (page: Page, userId: string) => {
    const m = row(page, userId).locator('.message');
    return (await m.count()) ? m.innerText() : null;
  };
  const saveMessage = async (page: Page, text: string, emoji = '', expiry = 'never') => {
    await page.getByLabel('Emoji').fill(emoji);
    await page.getByLabel('Message', { exact: true }).fill(text);
    await page.getByLabel('Clear it').selectOption({ label: expiry });
    await page.getByRole('button', { name: 'Save message' }).click();
  };

  beforeAll(async () => {
    // No JWT_SECRET: the development secret, so the development sign-in is on.
    srv = await startApp({ JWT_SECRET: '' });
    browser = await launchChromium();
    await ok(
      srv.url,
      AddFriendsDocument,
      { userId: 'alice', friendIds: ['bob', 'dave', 'erin'] },
      await srv.token('ops', { service: true }),
    );
    ({ page: alice, context: aliceContext } = await signIn('alice', { clock: true }));
    ({ page: bob } = await signIn('bob'));
  });
  afterAll(async () => {
    await browser?.close();
    await srv?.stop();
  });

  it("shows a friend's change of status live, as a word beside the dot, and announces it", async () => {
    await expect.poll(() => shownStatus(alice, 'bob')).toBe('Online');
    await expect.poll(() => row(alice, 'bob').locator('.seen').innerText()).toBe('active now');
    await pick(bob, 'Busy');
    await expect.poll(() => shownStatus(alice, 'bob')).toBe('Busy');
    await expect.poll(() => alice.locator('#announcer').innerText()).toBe('bob is now Busy.');
    expect(await bob.locator('#me-error').innerText()).toBe('');
  });

  it("shows a friend's status message live, with its emoji, and its clearing", async () => {
    await saveMessage(bob, 'Lunch', '🍕', 'in 30 minutes');
    await expect.poll(() => shownMessage(alice, 'bob')).toBe('🍕 Lunch');
    await expect.poll(() => alice.locator('#announcer').innerText()).toBe('bob: 🍕 Lunch');
    expect(await bob.getByLabel('Message', { exact: true }).inputValue()).toBe('Lunch');
    await bob.getByRole('button', { name: 'Clear message' }).click();
    await expect.poll(() => shownMessage(alice, 'bob')).toBeNull();
    // A message the server refuses says why, beside the editor.
    await saveMessage(bob, 'Hi', 'xx');
    await expect.poll(() => bob.locator('#me-error').innerText()).toMatch(/exactly one emoji/);
  });

  it('works the status picker with the keyboard alone', async () => {
    // Tab from the top of the page to the picker's checked radio, then arrow to the next one.
    await bob.locator('body').focus();
    for (let i = 0; i < 10; i++) {
      await bob.keyboard.press('Tab');
      if (await bob.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name === 'status')) break;
    }
    expect(await bob.evaluate(() => (document.activeElement as HTMLInputElement).value)).toBe('BUSY');
    await bob.keyboard.press('ArrowDown');
    expect(await bob.evaluate(() => (document.activeElement as HTMLInputElement).value)).toBe('INVISIBLE');
    await expect.poll(() => shownStatus(alice, 'bob')).toBe('Offline'); // invisible reads as offline to friends
    await bob.keyboard.press('ArrowUp');
    await bob.keyboard.press('ArrowUp');
    await expect.poll(() => shownStatus(alice, 'bob')).toBe('Away');
  });

  it('a page that went offline shows the latest state when it is back, without a reload', async () => {
    await pick(bob, 'Online');
    await expect.poll(() => shownStatus(alice, 'bob')).toBe('Online');
    await alice.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));
    await aliceContext.setOffline(true);
    await expect.poll(() => alice.locator('#connection').innerText()).toMatch(/reconnecting/);
    await pick(bob, 'Busy');
    await saveMessage(bob, 'In a meeting');
    await expect.poll(() => bob.getByLabel('Message', { exact: true }).inputValue()).toBe('In a meeting');
    await new Promise((r) => setTimeout(r, 500));
    expect(await shownStatus(alice, 'bob')).toBe('Online'); // nothing reaches a page that is offline
    expect(await shownMessage(alice, 'bob')).toBeNull();
    await aliceContext.setOffline(false);
    await expect.poll(() => alice.locator('#connection').innerText()).toBe('Live as alice');
    await expect.poll(() => shownStatus(alice, 'bob')).toBe('Busy');
    await expect.poll(() => shownMessage(alice, 'bob')).toBe('In a meeting');
    expect(await alice.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(true); // the same page
  });

  it("a stranger's page shows nothing of alice", async () => {
    const { page: carol } = await signIn('carol');
    await expect.poll(() => carol.locator('#friends-empty').isVisible()).toBe(true);
    await pick(alice, 'Away');
    await new Promise((r) => setTimeout(r, 300));
    expect(await carol.locator('#friends li').count()).toBe(0);
    expect(await carol.locator('body').innerText()).not.toMatch(/alice/i);
  });

  it('a friend who hides from alice turns into a stranger on her open page at once, and comes back when unhidden', async () => {
    await pick(bob, 'Busy');
    await saveMessage(bob, 'Deep work');
    await expect.poll(() => shownMessage(alice, 'bob')).toBe('Deep work');
    const token = await srv.token('bob');
    await ok(srv.url, SetPrivacyDocument, { hide: ['alice'] }, token);
    await expect.poll(() => shownStatus(alice, 'bob')).toBe('Offline');
    expect(await shownMessage(alice, 'bob')).toBeNull();
    expect(await row(alice, 'bob').innerText()).not.toMatch(/active/);
    await ok(srv.url, SetPrivacyDocument, { unhide: ['alice'] }, token);
    await expect.poll(() => shownStatus(alice, 'bob')).toBe('Busy');
    await expect.poll(() => shownMessage(alice, 'bob')).toBe('Deep work');
  });

  it('labels every control and keeps every text at 4.5:1 contrast or more (3:1 when large)', async () => {
    const { problems, checked } = await bob.evaluate(() => {
      const found: string[] = [];
      let texts = 0;
      for (const c of document.querySelectorAll<HTMLInputElement>('input, select, textarea')) {
        if (!c.labels?.length && !c.getAttribute('aria-label')) found.push(`no label: #${c.id || c.name}`);
      }
      const rgb = (s: string) => (s.match(/[\d.]+/g) ?? []).map(Number);
      const luminance = ([r, g, b]: number[]) => {
        const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
        return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
      };
      const background = (el: Element | null): number[] => {
        for (; el; el = el.parentElement) {
          const c = rgb(getComputedStyle(el).backgroundColor);
          if (c.length === 3 || c[3]! > 0) return c.slice(0, 3);
        }
        return [255, 255, 255];
      };
      for (const el of document.querySelectorAll<HTMLElement>('body *')) {
        const text = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent!.trim());
        if (!text || !el.checkVisibility() || el.closest('.visually-hidden')) continue;
        texts++;
        const style = getComputedStyle(el);
        const [l1, l2] = [luminance(rgb(style.color)), luminance(background(el))].sort((x, y) => y - x);
        const ratio = (l1! + 0.05) / (l2! + 0.05);
        const size = parseFloat(style.fontSize);
        const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
        if (ratio < (large ? 3 : 4.5)) found.push(`${ratio.toFixed(2)}:1 "${el.textContent!.trim().slice(0, 30)}"`);
      }
      return { problems: found, checked: texts };
    });
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(15); // the friends' rows, the picker, the editor, the header
  });

  it('reads on a phone and on a desktop, and loads nothing from outside this server', async () => {
    // Two more friends for the picture: erin online with a message, dave gone offline.
    const [erin, dave] = await Promise.all([srv.token('erin'), srv.token('dave')]);
    await ok(srv.url, SetPresenceDocument, { status: 'ONLINE' }, erin);
    await ok(srv.url, SetStatusMessageDocument, { text: 'Working from the library' }, erin);
    await ok(srv.url, SetPresenceDocument, { status: 'ONLINE' }, dave);
    await ok(srv.url, SetPresenceDocument, { status: 'OFFLINE' }, dave);
    await expect.poll(() => shownMessage(alice, 'erin')).toBe('Working from the library');
    await expect.poll(() => row(alice, 'dave').locator('.seen').innerText()).toBe('last active just now');
    // "last active" is kept current: five minutes later the row says so, with no event.
    await alice.clock.fastForward('05:00');
    await expect.poll(() => row(alice, 'dave').locator('.seen').innerText()).toBe('last active 5 minutes ago');
    await alice.waitForFunction(() => document.getElementById('connection')?.textContent === 'Live as alice');
    await alice.setViewportSize({ width: 390, height: 844 });
    await screenshot(alice, 'board-phone');
    // Nothing wider than the phone's screen: no sideways scrolling.
    expect(await alice.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await alice.setViewportSize({ width: 1100, height: 760 });
    await screenshot(alice, 'board-desktop');
    expect(contexts.flatMap((c) => c.blocked)).toEqual([]);
  });
});

describe('the board reports activity for automatic away', () => {
  let srv: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    srv = await startApp({ JWT_SECRET: '', PRESENCE_IDLE_MS: '1000', PRESENCE_SWEEP_INTERVAL_MS: '100' });
    browser = await launchChromium();
    await ok(srv.url, AddFriendsDocument, { userId: 'dan', friendIds: ['fay'] }, await srv.token('ops', { service: true }));
  });
  afterAll(async () => {
    await browser?.close();
    await srv?.stop();
  });

  const open = async (name: string) => {
    const page = await (await offlineContext(browser)).context.newPage();
    await page.goto(`${srv.url}/board`);
    await page.getByLabel('Name').fill(name);
    await page.getByRole('button', { name: `Sign in as ${name}` }).click();
    await page.waitForFunction((n) => document.getElementById('connection')?.textContent === `Live as ${n}`, name, { timeout: 10_000 });
    return page;
  };

  it("a page left alone turns AWAY for its friends; the person's next input brings it back", async () => {
    const [dan, fay] = [await open('dan'), await open('fay')];
    const danAs = () => fay.locator('li[data-user-id="dan"] .status').innerText();
    await expect.poll(danAs).toBe('Online');
    await dan.mouse.move(10, 10); // the first input: reported at once
    await expect.poll(danAs, { timeout: 5_000 }).toBe('Away'); // then a second without any
    await expect.poll(() => dan.locator('input[name=status]:checked').inputValue()).toBe('AWAY'); // dan's own picker follows
    // Input again: reported once the 5 s throttle window of the first report has passed.
    await expect
      .poll(
        async () => {
          await dan.mouse.move(20 + Math.random() * 100, 20);
          return danAs();
        },
        { timeout: 10_000, interval: 250 },
      )
      .toBe('Online');
  });
});

describe('the board is off in production, and its development sign-in needs the development secret', () => {
  const get = (url: string) => fetch(`${url}/board`);
  const devToken = (url: string) =>
    fetch(`${url}/board/dev-token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"userId":"alice"}' });
  const code = async (res: Response) => ((await res.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code;

  it('production: 404 NOT_FOUND unless BOARD=on; with it, the page but no development sign-in', async () => {
    const env = { NODE_ENV: 'production', JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent' };
    const off = await startApp(env);
    const on = await startApp({ ...env, BOARD: 'on' });
    try {
      const res = await get(off.url);
      expect(res.status).toBe(404);
      expect(await code(res)).toBe('NOT_FOUND');
      expect((await fetch(`${off.url}/board/board.js`)).status).toBe(404);
      expect((await devToken(off.url)).status).toBe(404);

      const page = await get(on.url);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('<meta name="viewport"');
      expect(html).not.toContain('dev-form');
      const refused = await devToken(on.url);
      expect(refused.status).toBe(403);
      expect(await code(refused)).toBe('DEV_SIGN_IN_DISABLED');
    } finally {
      await Promise.all([off.stop(), on.stop()]);
    }
  });

  it('outside production with a real secret: the page, but the development sign-in is refused', async () => {
    const real = await startApp(); // JWT_SECRET is the test secret
    try {
      expect(await (await get(real.url)).text()).not.toContain('dev-form');
      const refused = await devToken(real.url);
      expect(refused.status).toBe(403);
      expect(await code(refused)).toBe('DEV_SIGN_IN_DISABLED');
    } finally {
      await real.stop();
    }
  });
});
