#!/usr/bin/env node
// The dashboard in headless Chromium, against a real `weir run`.
//
//   node tests/browser/dashboard.test.mjs --weir build/release/bin/weir --web-dir web/dist \
//        [--artifacts DIR] [--pipeline tests/browser/pipeline.yaml]
//
// (or WEIR_BINARY, WEIR_WEB_DIR, WEIR_ARTIFACTS_DIR; CHROMIUM_PATH overrides /usr/bin/chromium).
// Starts weir on tests/browser/pipeline.yaml, opens the page, checks that the overview lists the
// sources and metrics, posts events to the HTTP source and waits until the page shows them (a
// table cell and the chart's legend), picks another time range (a query API call), waits for
// the top-N table, and keeps a screenshot. Fails on any console error, page error or failed
// request. Exits 77 (skipped) when Chromium is not installed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const SKIP = 77;
const STEP_TIMEOUT = 90_000;  // any one wait; generous for a loaded 2-core machine

function args() {
  const a = {
    weir: process.env.WEIR_BINARY,
    webDir: process.env.WEIR_WEB_DIR,
    artifacts: process.env.WEIR_ARTIFACTS_DIR,
    pipeline: path.join(here, 'pipeline.yaml'),
    chromium: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  };
  const argv = process.argv.slice(2);
  const names = { '--weir': 'weir', '--web-dir': 'webDir', '--artifacts': 'artifacts', '--pipeline': 'pipeline', '--chromium': 'chromium' };
  for (let i = 0; i < argv.length; i++) {
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) throw new Error(`usage: dashboard.test.mjs --weir BIN --web-dir DIR [--artifacts DIR]; bad argument '${argv[i]}'`);
    a[key] = argv[++i];
  }
  if (!a.weir) throw new Error('--weir (or WEIR_BINARY) is required');
  if (!a.webDir) throw new Error('--web-dir (or WEIR_WEB_DIR) is required');
  a.artifacts ||= path.join(os.tmpdir(), 'weir-artifacts');
  return a;
}

const log = (...m) => console.log(`[${new Date().toISOString().slice(11, 23)}]`, ...m);
const sleep = ms => new Promise(r => setTimeout(r, ms));

async function waitFor(what, fn, timeout = STEP_TIMEOUT, every = 100) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    await sleep(every);
  }
}

async function main() {
  const opt = args();
  if (!fs.existsSync(opt.chromium)) {
    console.log(`SKIP: Chromium is not installed at ${opt.chromium} (apt-get install chromium, or set CHROMIUM_PATH)`);
    return SKIP;
  }
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    throw new Error(`cannot load playwright-core (${e.message}); run 'npm install' in the repository (scripts/install-deps does)`);
  }
  for (const f of ['index.html', 'app.js', 'style.css', 'uPlot.iife.min.js', 'uPlot.min.css'])
    if (!fs.existsSync(path.join(opt.webDir, f))) throw new Error(`${opt.webDir}/${f} is missing; build the dashboard with scripts/build-web`);
  // A dashboard built from older sources than the repository's would test the wrong code.
  const sources = path.join(here, '..', '..', 'web');
  for (const f of ['index.html', 'app.js', 'style.css']) {
    const src = path.join(sources, f), built = path.join(opt.webDir, f);
    if (fs.existsSync(src) && path.resolve(sources) !== path.resolve(opt.webDir) && fs.statSync(src).mtimeMs > fs.statSync(built).mtimeMs)
      throw new Error(`${built} is older than ${src}; rebuild the dashboard with scripts/build-web (make web)`);
  }
  fs.mkdirSync(opt.artifacts, { recursive: true });

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-dashboard-'));
  const portFile = path.join(dir, 'port');
  const weirLog = path.join(dir, 'weir.log');
  const out = fs.openSync(weirLog, 'w');
  const weir = spawn(opt.weir, ['run', opt.pipeline, '--web-dir', opt.webDir, '--listen', '127.0.0.1:0', '--port-file', portFile,
    '--data-dir', path.join(dir, 'data')], { stdio: ['ignore', out, out] });
  let weirExit = null;
  weir.on('exit', (code, signal) => { weirExit = { code, signal }; });
  const killWeir = () => { if (weirExit === null) weir.kill('SIGKILL'); };
  process.on('exit', killWeir);
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { killWeir(); process.exit(1); });

  let browser;
  const problems = [];
  let ok = false;
  try {
    const port = await waitFor('weir to write its port file', () => {
      if (weirExit) throw new Error(`weir exited early (${JSON.stringify(weirExit)})`);
      const text = fs.existsSync(portFile) ? fs.readFileSync(portFile, 'utf8').trim() : '';
      return /^\d+$/.test(text) && Number(text) > 0 ? Number(text) : null;
    });
    const base = `http://127.0.0.1:${port}`;
    log(`weir listens on ${base}`);

    browser = await chromium.launch({
      executablePath: opt.chromium,
      headless: true,
      timeout: 120_000,
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--disable-quic', '--no-first-run',
             '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, timezoneId: 'UTC', locale: 'en-GB' });
    page.setDefaultTimeout(STEP_TIMEOUT);
    page.on('console', m => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
      else if (m.type() === 'warning') log(`console warning: ${m.text()}`);
    });
    page.on('pageerror', e => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', r => {
      // The SSE stream is cut when the page closes; anything else failing is a problem.
      if (!r.url().includes('/api/v1/stream')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`);
    });
    page.on('response', r => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`); });

    await page.goto(base + '/', { waitUntil: 'load', timeout: STEP_TIMEOUT });
    log('page loaded');

    // Overview: every source and metric, the live stream connected, a chart per windowed metric.
    await page.waitForFunction(() => {
      const t = document.querySelector('[data-testid="sources"]')?.textContent ?? '';
      return t.includes('shop') && t.includes('ingest') && t.includes('simulator') && t.includes('http');
    });
    await page.waitForFunction(ids => ids.every(id => document.querySelector(`[data-testid="metrics"] tr[data-metric="${id}"]`)),
      ['clicks_per_minute', 'revenue_per_minute', 'top_products']);
    await page.waitForFunction(() => document.querySelector('[data-testid="connection"]')?.classList.contains('live'));
    await page.waitForSelector('[data-testid="chart-revenue_per_minute"] canvas', { state: 'attached' });
    await page.waitForSelector('[data-testid="chart-clicks_per_minute"] canvas', { state: 'attached' });
    // The simulator's results arrive live.
    await page.waitForFunction(() => Number((document.querySelector('[data-testid="live-updates"]')?.textContent ?? '0').replace(/,/g, '')) > 0);
    log('overview, live connection and charts are there');

    // Post events to the HTTP source; the page must show them as they are counted.
    const ts = new Date().toISOString();
    const post = async n => {
      const events = Array.from({ length: n }, () => ({ event_type: 'button_click', timestamp: ts, properties: { button: 'buy', value: 10 } }));
      const r = await fetch(base + '/api/v1/events', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ events }) });
      const body = await r.text();
      if (r.status !== 202) throw new Error(`POST /api/v1/events: ${r.status} ${body}`);
    };
    const clicks = '[data-testid="value-clicks_per_minute-button=buy-clicks"]';
    const value = '[data-testid="value-clicks_per_minute-button=buy-value"]';
    const cellIs = (sel, text) => page.waitForFunction(([s, t]) => document.querySelector(s)?.textContent.trim() === t, [sel, text]);
    const legendShows = (label, text) => page.waitForFunction(([l, t]) =>
      [...document.querySelectorAll('[data-testid="chart-clicks_per_minute"] .u-legend .u-series')]
        .some(tr => tr.querySelector('.u-label')?.textContent === l && tr.querySelector('.u-value')?.textContent === t), [label, text]);

    if (await page.$(clicks)) throw new Error('the clicks cell is shown before any event was posted');
    await post(3);
    await cellIs(clicks, '3');
    await cellIs(value, '30');
    await legendShows('buy', '3');
    log('posted 3 events: the page shows 3 clicks, value 30, and the chart has them');
    const updatesBefore = await page.textContent('[data-testid="live-updates"]');
    await post(2);
    await cellIs(clicks, '5');
    await cellIs(value, '50');
    await legendShows('buy', '5');
    log(`posted 2 more: the page shows 5 clicks, value 50 (live updates ${updatesBefore} -> ${await page.textContent('[data-testid="live-updates"]')})`);
    await page.waitForFunction(() => document.querySelector('[data-testid="accepted-ingest"]')?.textContent.trim() === '5');
    log('the overview counts 5 events accepted by the HTTP source');

    // Another time range: the charts are read back through the query API.
    const query = page.waitForResponse(r => r.url().includes('/api/v1/metrics/clicks_per_minute?') && r.url().includes('start=-1h'));
    await page.click('#range button[data-range="1h"]');
    const resp = await query;
    if (resp.status() !== 200) throw new Error(`range query: HTTP ${resp.status()}`);
    const rows = (await resp.json()).rows;
    if (!rows.some(r => r.button === 'buy' && r.clicks === 5)) throw new Error(`range query did not return the 5 clicks: ${JSON.stringify(rows)}`);
    await page.waitForFunction(() => document.querySelector('#range button[data-range="1h"]')?.classList.contains('active'));
    await cellIs(clicks, '5');
    await legendShows('buy', '5');
    log('1h range: queried and still showing 5 clicks');

    // The top-N table fills once a 5 s window fires.
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="table-top_products"] tbody tr').length > 0);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="chart-revenue_per_minute"] .u-legend .u-series').length > 1);
    log('top-N table and revenue chart have rows');

    const shot = path.join(opt.artifacts, 'dashboard.png');
    await sleep(1200);  // let the last flash of changed numbers fade (cosmetic, not an assertion)
    await page.screenshot({ path: shot, fullPage: true });
    log(`dashboard screenshot: ${shot}`);

    await page.close();
    if (problems.length) throw new Error(`the page reported problems:\n  ${problems.join('\n  ')}`);
    ok = true;
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (weirExit === null) {
      weir.kill('SIGTERM');
      const deadline = Date.now() + 30_000;
      while (weirExit === null && Date.now() < deadline) await sleep(50);
      killWeir();
    }
    fs.closeSync(out);
    if (!ok) {
      const saved = path.join(opt.artifacts, 'dashboard-weir.log');
      fs.copyFileSync(weirLog, saved);
      const text = fs.readFileSync(weirLog, 'utf8');
      console.log(`--- weir log (${saved}), last 40 lines ---\n${text.split('\n').slice(-40).join('\n')}`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return 0;
}

main().then(code => process.exit(code), e => {
  console.error(`FAIL: ${e.message}`);
  process.exit(1);
});
