// run_browser.mjs — drives Debian's headless Chromium with playwright-core for the dashboard
// test.
//
// Usage: node run_browser.mjs            (commands on stdin, answers on stdout)
//
// One JSON object per line on stdin, one answer per line on stdout:
//   {"id": 1, "cmd": "goto", "url": "...", "width": 1600, "height": 1000}
//   {"id": 2, "cmd": "eval", "expr": "document.title"}  -> {"id": 2, "ok": true, "value": ...}
//   {"id": 3, "cmd": "wait", "expr": "...", "ms": 5000}          waits until expr is truthy
//   {"id": 4, "cmd": "screenshot", "path": "/tmp/x.png"}
//   {"id": 5, "cmd": "console"}       -> every console message and page error seen so far
//   {"id": 6, "cmd": "close"}
// Failures answer {"id": N, "ok": false, "error": "..."}. Playwright never downloads a browser:
// only playwright-core is installed and the executable is /usr/bin/chromium (or $CHROMIUM).
import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
// a fresh profile each run: WEIR_CHROMIUM_PROFILE (the test names one, to find strays by it)
const userDataDir = process.env.WEIR_CHROMIUM_PROFILE ||
  mkdtempSync(join(tmpdir(), 'weir-dash-chromium-'));
mkdirSync(userDataDir, { recursive: true });
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
              '--disable-background-networking', '--disable-component-update', '--disable-sync',
              `--user-data-dir=${userDataDir}`];

const logs = [];        // {type, text, location}
let context = null, page = null, browser = null;

function answer(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }

async function launch() {
  // launchPersistentContext is how playwright takes a user data dir; it passes it itself
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath, headless: true, timeout: 30000,
    args: args.filter(a => !a.startsWith('--user-data-dir')),
    viewport: { width: 1600, height: 1000 }, deviceScaleFactor: 1,
  });
  browser = context.browser();
  page = context.pages()[0] || await context.newPage();
  page.on('console', m => logs.push({ type: m.type(), text: m.text(), location: m.location() }));
  page.on('pageerror', e => logs.push({ type: 'pageerror', text: String(e && e.stack || e) }));
  page.on('requestfailed', r => {
    const f = r.failure();
    // an EventSource torn down by navigation or close is not a page problem
    if (f && /ERR_ABORTED/.test(f.errorText)) return;
    const why = f ? f.errorText : '?';
    logs.push({ type: 'requestfailed', text: `${r.method()} ${r.url()}: ${why}` });
  });
  page.on('response', r => {
    if (r.status() >= 400) logs.push({ type: 'httperror', text: `${r.status()} ${r.url()}` });
  });
}

async function handle(msg) {
  switch (msg.cmd) {
    case 'goto':
      if (msg.width) await page.setViewportSize({ width: msg.width, height: msg.height || 1000 });
      await page.goto(msg.url, { waitUntil: 'load', timeout: msg.timeout || 15000 });
      return null;
    case 'eval':
      return await page.evaluate(msg.expr);
    case 'wait':
      await page.waitForFunction(msg.expr, null, { timeout: msg.ms || 5000, polling: 100 });
      return await page.evaluate(msg.expr);
    case 'screenshot':
      await page.screenshot({ path: msg.path, fullPage: !!msg.fullPage, timeout: 15000 });
      return msg.path;
    case 'console':
      return logs;
    case 'version':
      return browser ? browser.version() : null;
    case 'close':
      return null;
    default:
      throw new Error(`unknown command ${msg.cmd}`);
  }
}

async function shutdown(code) {
  try { if (context) await context.close(); } catch { /* already gone */ }
  try { rmSync(userDataDir, { recursive: true, force: true }); } catch { /* best effort */ }
  process.exit(code);
}

process.on('SIGTERM', () => { shutdown(143); });
process.on('SIGINT', () => { shutdown(130); });

try {
  await launch();
  answer({ id: 0, ok: true, value: 'ready', version: browser ? browser.version() : null });
} catch (e) {
  answer({ id: 0, ok: false, error: String(e && e.stack || e) });
  await shutdown(1);
}

const rl = createInterface({ input: process.stdin });
let queue = Promise.resolve();
rl.on('line', line => {
  queue = queue.then(async () => {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      answer({ id: null, ok: false, error: 'bad json' });
      return;
    }
    try {
      const value = await handle(msg);
      answer({ id: msg.id, ok: true, value });
    } catch (e) {
      answer({ id: msg.id, ok: false, error: String(e && e.message || e) });
    }
    if (msg.cmd === 'close') await shutdown(0);
  });
});
rl.on('close', () => { queue.then(() => shutdown(0)); });
