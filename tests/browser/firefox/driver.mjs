// Firefox ESR (Debian's package) driven over WebDriver BiDi by puppeteer-core: nothing
// is downloaded, no geckodriver. The Python tests talk to it through
// tests/support/firefox.py:
//
//   node tests/browser/firefox/driver.mjs /usr/bin/firefox-esr
//
// stdin: one JSON command a line, {"op": "...", ...arguments}; stdout: one JSON answer a
// line, {"ok": true, "value": ...} or {"ok": false, "error": "..."}. The first line
// written is {"ready": "<browser version>"}. A closed stdin closes Firefox.
//
// What to act on is a target: {"role": "button", "name": "Log out"} (the accessibility
// tree, as a person using a screen reader finds it), {"label": "Email"} (the field a
// <label> with exactly that text names), {"css": "p.error"}, or {"css": "button",
// "text": "Sam Several"} (the first such element whose text contains that).

import readline from 'node:readline';
import puppeteer from 'puppeteer-core';

const executablePath = process.argv[2];
if (!executablePath) {
  console.error('usage: driver.mjs <path to firefox>');
  process.exit(2);
}

const STEP_TIMEOUT_MS = 10_000;

const browser = await puppeteer.launch({
  browser: 'firefox',
  executablePath,
  headless: true,
  // The local CA of the tests is in no trust store: accepted in this browser only.
  acceptInsecureCerts: true,
});
let context = null;
let page = null;

function ariaSelector(role, name) {
  // JSON.stringify gives a quoted string with CSS-compatible escapes for " and \.
  return `::-p-aria([name=${JSON.stringify(name)}][role=${JSON.stringify(role)}])`;
}

// Poll the page for an element `pick` finds (a function run in the page), up to the
// step timeout when wait is true.
async function poll(pick, argument, wait) {
  const deadline = Date.now() + (wait ? STEP_TIMEOUT_MS : 0);
  for (;;) {
    const handle = await page.evaluateHandle(pick, argument);
    const element = handle.asElement();
    if (element || Date.now() >= deadline) return element;
    await handle.dispose();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function controlOfLabel(text) {
  const found = [...document.querySelectorAll('label')].find((l) => l.textContent.trim() === text);
  return found ? found.control : null;
}

function withText({ css, text }) {
  return [...document.querySelectorAll(css)].find((e) => e.innerText.includes(text)) ?? null;
}

// The element a target names; null when absent (wait=false) or after the timeout.
async function find(target, wait = true) {
  if (target.label !== undefined) return poll(controlOfLabel, target.label, wait);
  if (target.css !== undefined && target.text !== undefined) return poll(withText, target, wait);
  const selector = target.role !== undefined ? ariaSelector(target.role, target.name) : target.css;
  if (selector === undefined) throw new Error(`not a target: ${JSON.stringify(target)}`);
  if (!wait) return page.$(selector);
  return page.waitForSelector(selector, { timeout: STEP_TIMEOUT_MS });
}

async function found(target) {
  const element = await find(target);
  if (!element) throw new Error(`not found: ${JSON.stringify(target)}`);
  return element;
}

function where(response) {
  return { status: response ? response.status() : null, url: page.url() };
}

const ops = {
  // A fresh browser context (no cookies, no storage) with one page; the last one closes.
  async newContext() {
    if (context) await context.close();
    context = await browser.createBrowserContext();
    page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    page.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
    return null;
  },
  async goto({ url }) {
    return where(await page.goto(url, { waitUntil: 'load' }));
  },
  async reload() {
    return where(await page.reload({ waitUntil: 'load' }));
  },
  // Click; with navigates, wait for the page it leads to (redirects followed) and
  // answer that page's status and URL.
  async click({ target, navigates }) {
    const element = await found(target);
    if (!navigates) {
      await element.click();
      return null;
    }
    const [response] = await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }),
      element.click(),
    ]);
    return where(response);
  },
  async fill({ target, value }) {
    const element = await found(target);
    await element.evaluate((e) => {
      e.value = '';
    });
    await element.type(value);
    return null;
  },
  // Visible on the page now (no waiting).
  async visible({ target }) {
    const element = await find(target, false);
    return element ? element.isVisible() : false;
  },
  // The rendered text of the target (now, no waiting), or null when absent.
  async text({ target }) {
    const element = await find(target, false);
    return element ? element.evaluate((e) => e.innerText) : null;
  },
  async url() {
    return page.url();
  },
  // Every cookie this browser context keeps, as the browser stored it.
  async cookies() {
    const cookies = await context.cookies();
    return cookies.map((c) => ({
      name: c.name,
      value: c.value,
      domain: c.domain,
      path: c.path,
      secure: c.secure,
      httpOnly: c.httpOnly,
      sameSite: c.sameSite ?? null,
      session: c.session,
    }));
  },
  async screenshot({ path }) {
    await page.screenshot({ path, fullPage: true });
    return path;
  },
  async version() {
    return browser.version();
  },
};

async function answer(line) {
  let command;
  try {
    command = JSON.parse(line);
    const op = ops[command.op];
    if (!op) throw new Error(`unknown op ${command.op}`);
    if (!page && command.op !== 'newContext' && command.op !== 'version') {
      throw new Error('no page yet: send newContext first');
    }
    return { ok: true, value: await op(command) };
  } catch (error) {
    return { ok: false, error: String(error && error.stack ? error.stack : error) };
  }
}

process.stdout.write(`${JSON.stringify({ ready: await browser.version() })}\n`);
const input = readline.createInterface({ input: process.stdin, terminal: false });
for await (const line of input) {
  if (!line.trim()) continue;
  process.stdout.write(`${JSON.stringify(await answer(line))}\n`);
}
await browser.close();
