// Browser tests of the perpx web console: headless Chromium (Debian's `chromium`, driven by
// playwright-core) against a real `perpx serve` started by crates/perpx/tests/console.rs, which
// passes the server's address and keys in the environment:
//
//   PERPX_URL          http://127.0.0.1:PORT
//   PERPX_KEYS         {"admin": {"key", "secret"}, "traders": [{"key", "secret"}, ...]}
//   PERPX_SCREENSHOTS  where the screenshots go
//   PERPX_CHROMIUM     the browser (default /usr/bin/chromium)
//
// Two traders each in their own browser context and an operator in a third: log in, place a
// resting order and see it in the ladder and open orders (on both screens), cross it from the
// second account and see the fill and the positions on both, amend and cancel from the table,
// a dropped book diff resynced, a liquidation and ADL in the risk view after an admin price
// move, the simulator's report, a screenshot of each view, and no console errors anywhere.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.PERPX_URL;
const KEYS = JSON.parse(process.env.PERPX_KEYS || '{}');
const SHOTS = process.env.PERPX_SCREENSHOTS || '/tmp/perpx-console-screenshots';
const CHROMIUM = process.env.PERPX_CHROMIUM || '/usr/bin/chromium';
const T = 15_000; // the longest wait for anything the console should show

assert.ok(BASE, 'PERPX_URL is set');
mkdirSync(SHOTS, { recursive: true });

// ---------- a signed client for the test's own set-up (the same scheme the console uses) ----------

let lastTs = 0;
async function api(k, method, path, body) {
  const text = body === undefined ? '' : JSON.stringify(body);
  lastTs = Math.max(Date.now(), lastTs + 1);
  const headers = { 'content-type': 'application/json' };
  if (k) {
    const sig = createHmac('sha256', Buffer.from(k.secret, 'hex')).update(`${lastTs}\n${method}\n${path}\n${text}`).digest('hex');
    Object.assign(headers, { 'X-PERPX-APIKEY': k.key, 'X-PERPX-TIMESTAMP': String(lastTs), 'X-PERPX-SIGNATURE': sig });
  }
  const r = await fetch(BASE + path, { method, headers, body: method === 'GET' ? undefined : text });
  const json = await r.json();
  assert.equal(r.status, 200, `${method} ${path}: ${JSON.stringify(json)}`);
  return json;
}

/** BTC-PERP prices are on a 0.1 tick: whole numbers of ticks as text. */
const ticks = (p) => Math.round(Number(p) * 10);
const price = (t) => `${Math.floor(t / 10)}.${t % 10}`;

// ---------- the browser ----------

let browser;
const pages = [];

async function openConsole(name, hash = '') {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    if (!r.url().startsWith(BASE)) problems.push(`a request left the server: ${r.url()}`);
  });
  await page.goto(`${BASE}/console/${hash}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: T });
  const p = { name, page, problems };
  pages.push(p);
  return p;
}

async function login(p, k, role) {
  const { page } = p;
  await page.selectOption('#login-role', role);
  await page.fill('#login-key', k.key);
  await page.fill('#login-secret', k.secret);
  await page.press('#login-secret', 'Enter');
  await page.waitForSelector('#login-panel', { state: 'hidden', timeout: T });
  const url = page.url();
  assert.ok(!url.includes(k.key) && !url.includes(k.secret), `the key is never in the URL: ${url}`);
  const stored = await page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie);
  assert.ok(!stored.includes(k.secret), 'the secret is not stored');
}

/** Fills the order form with the keyboard and sends it with Enter. */
async function order(p, { side, type = 'limit', px, trigger, qty, lev, screenshot }) {
  const { page } = p;
  // The side with the keyboard: arrow keys move through the radio group.
  await page.focus('input[name=side]:checked');
  if ((await page.$eval('input[name=side]:checked', (r) => r.value)) !== side) {
    await page.keyboard.press(side === 'sell' ? 'ArrowRight' : 'ArrowLeft');
  }
  assert.equal(await page.$eval('input[name=side]:checked', (r) => r.value), side);
  assert.match(await page.textContent('#o-submit'), new RegExp(`Place ${side} `));
  await page.selectOption('#o-type', type);
  if (trigger !== undefined) {
    await page.fill('#o-trigger', '');
    await page.type('#o-trigger', trigger);
  }
  if (px !== undefined) {
    await page.fill('#o-price', '');
    await page.type('#o-price', px);
  }
  await page.fill('#o-qty', '');
  await page.type('#o-qty', qty);
  if (lev !== undefined) {
    await page.focus('#o-lev');
    await page.$eval('#o-lev', (el, v) => {
      el.value = String(v);
      el.dispatchEvent(new Event('input', { bubbles: true }));
    }, lev);
  }
  // The preview is there before sending.
  await page.waitForFunction(() => !['—', ''].includes(document.getElementById('p-margin').textContent), null, { timeout: T });
  const preview = {
    notional: await page.textContent('#p-notional'),
    margin: await page.textContent('#p-margin'),
    fee: await page.textContent('#p-fee'),
    liq: await page.textContent('#p-liq'),
  };
  if (screenshot) await shot(p, screenshot);
  await page.focus('#o-qty');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /seq \d+/.test(document.getElementById('order-status').textContent), null, { timeout: T });
  const status = await page.textContent('#order-status');
  await page.evaluate(() => {
    for (const id of ['o-price', 'o-qty', 'o-trigger']) document.getElementById(id).value = '';
    document.getElementById('o-type').value = 'limit';
    document.getElementById('order-form').dispatchEvent(new Event('change'));
  });
  return { preview, status };
}

const ladderRow = (side, px) => `#ladder-${side} tr[data-price="${px}"]`;
const shot = (p, file) => p.page.screenshot({ path: join(SHOTS, file), fullPage: true });

before(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
});

after(async () => {
  if (browser) await browser.close();
});

// ---------- the tests, in order: each builds on the previous one's state ----------

let A, B, R;
let bidPx;
const QTY = '0.010';

test('two traders log in and see the same live ladder', async () => {
  [A, B] = await Promise.all([openConsole('trader-1'), openConsole('trader-2')]);
  await login(A, KEYS.traders[0], 'trader');
  await login(B, KEYS.traders[1], 'trader');
  assert.match(await A.page.textContent('#who'), /account 1/);
  assert.match(await B.page.textContent('#who'), /account 2/);
  await A.page.waitForFunction(() => document.getElementById('t-mark').textContent !== '—', null, { timeout: T });
  await A.page.waitForFunction(() => document.getElementById('conn').textContent === 'live', null, { timeout: T });
});

test('the order form is reachable with Tab alone, in reading order', async () => {
  const { page } = A;
  await page.focus('input[name=side]:checked');
  const seen = [];
  for (let i = 0; i < 15 && seen[seen.length - 1] !== 'o-submit'; i++) {
    await page.keyboard.press('Tab');
    seen.push(await page.evaluate(() => document.activeElement.id));
  }
  assert.deepEqual(seen, ['o-type', 'o-price', 'o-qty', 'o-tif', 'o-post', 'o-reduce', 'o-lev', 'o-submit']);
});

test('a resting order shows in the ladder and the open orders, with a preview before sending', async () => {
  const t = await api(null, 'GET', '/api/v1/ticker?market=BTC-PERP');
  bidPx = price(ticks(t.mark_price) - 500); // 50 USD under the mark: it rests
  const { preview, status } = await order(A, { side: 'buy', px: bidPx, qty: QTY, lev: 20, screenshot: 'trade-preview.png' });
  assert.match(status, /order \d+ accepted/);
  assert.match(preview.notional, /USD/);
  // 0.010 BTC at ~86,000 is ~860 USD: at 20x the margin is ~43 USD.
  const margin = Number(preview.margin.replace(/[^0-9.]/g, ''));
  assert.ok(margin > 30 && margin < 60, `required margin at 20x: ${preview.margin}`);
  assert.match(preview.fee, /maker .* taker/);
  // 0.010 BTC on 100,000 USD of cross collateral can't be liquidated.
  assert.equal(preview.liq, '— (none)');
  for (const p of [A, B]) await p.page.waitForSelector(ladderRow('bids', bidPx), { timeout: T });
  const row = await A.page.textContent(ladderRow('bids', bidPx));
  assert.ok(row.includes(bidPx.replace(/(\d)(?=(\d{3})+\.)/g, '$1,')) && row.includes(QTY), `ladder row: ${row}`);
  await A.page.waitForSelector(`#orders tr[data-price="${bidPx}"]`, { timeout: T });
  assert.match(await A.page.textContent(`#orders tr[data-price="${bidPx}"]`), /buy/);
  assert.equal(await A.page.$eval(ladderRow('bids', bidPx), (r) => r.classList.contains('mine')), true, 'own order marked');
  await shot(A, 'trade-resting-order.png');
});

test('crossing it from the second account fills both and updates both positions', async () => {
  const { status } = await order(B, { side: 'sell', px: bidPx, qty: QTY, lev: 10 });
  assert.match(status, /1 fill/);
  for (const [p, size] of [
    [A, QTY],
    [B, `-${QTY}`],
  ]) {
    await p.page.waitForSelector(`#positions tr[data-market="BTC-PERP"][data-size="${size}"]`, { timeout: T });
    await p.page.waitForSelector('#fills tbody tr', { timeout: T });
    const pos = await p.page.textContent('#positions tbody tr');
    assert.ok(pos.includes(size), `${p.name} position: ${pos}`);
    await p.page.waitForSelector(ladderRow('bids', bidPx), { state: 'detached', timeout: T });
  }
  assert.match(await A.page.textContent('#fills tbody tr'), /buy.*maker/s);
  assert.match(await B.page.textContent('#fills tbody tr'), /sell.*taker/s);
  assert.equal(await A.page.$$eval('#orders tbody tr', (r) => r.length), 0, 'the order left the open orders');
  // The position shows its ADL lights (and no liquidation price: 100,000 USD stand behind it).
  const cells = await A.page.$$eval('#positions tbody tr td', (tds) => tds.map((x) => x.textContent));
  assert.equal(cells[5], '—', 'no liquidation price');
  assert.equal(await A.page.$$eval('#positions .lights i', (i) => i.length), 5);
  await Promise.all([shot(A, 'trade-filled-account-1.png'), shot(B, 'trade-filled-account-2.png')]);
});

test('amend and cancel from the open orders table; a stop armed and cancelled', async () => {
  const t = await api(null, 'GET', '/api/v1/ticker?market=BTC-PERP');
  const px = price(ticks(t.mark_price) - 800);
  const moved = price(ticks(t.mark_price) - 900);
  await order(A, { side: 'buy', px, qty: QTY });
  const row = `#orders tr[data-price="${px}"]`;
  await A.page.waitForSelector(row, { timeout: T });
  await A.page.click(`${row} button.amend`);
  await A.page.fill(`${row} input >> nth=0`, moved);
  await A.page.press(`${row} input >> nth=0`, 'Enter');
  await A.page.waitForSelector(`#orders tr[data-price="${moved}"]`, { timeout: T });
  await A.page.waitForSelector(ladderRow('bids', moved), { timeout: T });
  await A.page.click(`#orders tr[data-price="${moved}"] button.cancel`);
  await A.page.waitForSelector(`#orders tr[data-price="${moved}"]`, { state: 'detached', timeout: T });
  await A.page.waitForSelector(ladderRow('bids', moved), { state: 'detached', timeout: T });
  // A stop-market above the mark: armed, listed, cancelled.
  const trigger = price(ticks(t.mark_price) + 2000);
  const { status } = await order(A, { side: 'buy', type: 'stop_market', trigger, qty: QTY });
  assert.match(status, /stop \d+ accepted/);
  await A.page.waitForSelector(`#stops tr[data-trigger="${trigger}"]`, { timeout: T });
  await A.page.click(`#stops tr[data-trigger="${trigger}"] button.cancel`);
  await A.page.waitForSelector(`#stops tr[data-trigger="${trigger}"]`, { state: 'detached', timeout: T });
});

test('a lost book diff is noticed by its sequence numbers and the book resynced', async () => {
  const before = await A.page.evaluate(() => window.__perpx.bookResyncs);
  await A.page.evaluate(() => {
    window.__perpx.dropNextBookDiff = true;
  });
  const t = await api(null, 'GET', '/api/v1/ticker?market=BTC-PERP');
  const p1 = price(ticks(t.mark_price) + 700);
  const p2 = price(ticks(t.mark_price) + 710);
  const k = KEYS.traders[1];
  await api(k, 'POST', '/api/v1/order', { market: 'BTC-PERP', side: 'sell', order_type: 'limit', price: p1, qty: '0.001' });
  await A.page.waitForFunction(() => window.__perpx.dropNextBookDiff === false, null, { timeout: T });
  await api(k, 'POST', '/api/v1/order', { market: 'BTC-PERP', side: 'sell', order_type: 'limit', price: p2, qty: '0.001' });
  await A.page.waitForFunction((n) => window.__perpx.bookResyncs > n, before, { timeout: T });
  // Both levels are there after the fresh snapshot, including the one whose diff was dropped.
  await A.page.waitForSelector(ladderRow('asks', p1), { timeout: T });
  await A.page.waitForSelector(ladderRow('asks', p2), { timeout: T });
  const depth = await api(null, 'GET', '/api/v1/depth?market=BTC-PERP&limit=50');
  const shown = await A.page.$$eval('#ladder-asks tr', (r) => r.map((x) => x.getAttribute('data-price')));
  const top = depth.asks.slice(0, shown.length).map((l) => l[0]);
  assert.deepEqual([...shown].reverse(), top, 'the ladder is the REST book');
  await api(k, 'POST', '/api/v1/orders/cancel-all', { market: 'BTC-PERP' });
});

test('the risk view shows a liquidation and ADL after an admin oracle move', async () => {
  R = await openConsole('operator', '#risk');
  await login(R, KEYS.admin, 'admin');
  await R.page.waitForFunction(() => /^\d+$/.test(document.getElementById('j-seq').textContent), null, { timeout: T });
  await R.page.waitForSelector('#risk-markets section[data-market="BTC-PERP"]', { timeout: T });
  const [a, b] = KEYS.traders;
  // Account 1 keeps ~3,000 USD and goes 50x long 1 BTC against account 2's short.
  const acct = await api(a, 'GET', '/api/v1/account');
  const keep = 3000;
  const withdraw = Math.floor(Number(acct.withdrawable)) - keep;
  await api(a, 'POST', '/api/v1/withdraw', { amount: `${withdraw}` });
  await api(a, 'POST', '/api/v1/leverage', { market: 'BTC-PERP', leverage: 50 });
  const t = await api(null, 'GET', '/api/v1/ticker?market=BTC-PERP');
  const mark = t.mark_price;
  await api(b, 'POST', '/api/v1/order', { market: 'BTC-PERP', side: 'sell', order_type: 'limit', price: mark, qty: '1.000' });
  await api(a, 'POST', '/api/v1/order', { market: 'BTC-PERP', side: 'buy', order_type: 'limit', price: mark, qty: '1.000', tif: 'ioc' });
  // The long and the short are in the ADL queues.
  await R.page.waitForFunction(
    () => {
      const c = document.querySelector('#risk-markets section[data-market="BTC-PERP"]');
      return c && c.querySelectorAll('.q-long tr[data-account]').length === 1 && c.querySelectorAll('.q-short tr[data-account]').length === 1;
    },
    null,
    { timeout: T },
  );
  await R.page.waitForFunction(
    () => document.querySelector('#risk-markets [data-oi="long"]').textContent === '1.010 (1 account)',
    null,
    { timeout: T },
  );
  // Account 1's screen now shows a liquidation price under the mark, and its ADL lights.
  await A.page.waitForSelector('#positions tr[data-size="1.010"]', { timeout: T });
  const liq = await A.page.$eval('#positions tr[data-size="1.010"]', (r) => r.cells[5].textContent);
  const liqPx = Number(liq.replace(/,/g, ''));
  assert.ok(liqPx > Number(mark) * 0.95 && liqPx < Number(mark), `liquidation price ${liq} between the move and the mark`);
  // A backstop liquidator (account 3) stands by, and the venue puts 500 USD into the market's
  // insurance fund: it pays the backstop's gap for part of the position, ADL takes the rest.
  await api(KEYS.admin, 'POST', '/api/v1/admin/command', { type: 'deposit', account: 3, amount: '50000' });
  await api(KEYS.admin, 'POST', '/api/v1/admin/command', { type: 'set_liquidator', account: 3, active: true });
  await api(KEYS.admin, 'POST', '/api/v1/admin/command', { type: 'capitalise_fund', fund: 'insurance:BTC-PERP', amount: '500' });
  await R.page.waitForFunction(() => document.getElementById('ins-balance').textContent === '500.00 USD', null, { timeout: T });
  await R.page.waitForTimeout(1100); // the capital and the deficit a second apart on the chart
  await shot(R, 'risk-before.png');
  // The operator's oracle input moves every source 5 % down; once the median moves, the index
  // and the mark follow: account 1 is bankrupt; with no bids, account 2 is deleveraged.
  const low = price(Math.floor((ticks(mark) * 95) / 100));
  let moved = null;
  for (const source of ['binance', 'coinbase', 'kraken']) {
    const ack = await api(KEYS.admin, 'POST', '/api/v1/admin/command', { type: 'oracle_price', market: 'BTC-PERP', source, price: low });
    if (!moved && ack.events.some((e) => e.type === 'mark_price')) moved = ack;
  }
  assert.ok(moved, 'the oracle move moved the mark');
  for (const type of ['liquidation_started', 'backstop_takeover', 'deleveraged']) {
    await R.page.waitForSelector(`#liq-feed tr[data-type="${type}"]`, { timeout: T });
  }
  const started = await R.page.textContent('#liq-feed tr[data-type="liquidation_started"]');
  assert.ok(started.includes(String(moved.seq)), `the liquidation is in the move's step ${moved.seq}: ${started}`);
  const account = await R.page.textContent('#liq-feed tr[data-type="liquidation_started"] td.acct');
  assert.match(account, /^[0-9a-f]{12}$/, `a pseudonym, not an account id: ${account}`);
  // The journal head followed, and the positions left the queues.
  await R.page.waitForFunction((s) => Number(document.getElementById('j-seq').textContent) >= s, moved.seq, { timeout: T });
  await R.page.waitForFunction(
    (who) => !document.querySelector(`#risk-markets section[data-market="BTC-PERP"] .q-long tr[data-account="${who}"]`),
    account,
    { timeout: T },
  );
  // Both traders' screens show it: account 1 is flat, account 2's short shrank by the ADL.
  await A.page.waitForSelector('#positions tr[data-market="BTC-PERP"]', { state: 'detached', timeout: T });
  await B.page.waitForFunction(() => !document.querySelector('#positions tr[data-size="-1.010"]'), null, { timeout: T });
  // The fund paid the backstop's gap; its history, rebuilt from the recorded flows when the view
  // opens again, goes 0 → 500 → what is left.
  await R.page.waitForSelector('#liq-feed tr[data-type="liquidation_finished"]', { timeout: T });
  await R.page.click('#nav-trade');
  await R.page.click('#nav-risk');
  const fund = (await api(null, 'GET', '/api/v1/ticker?market=BTC-PERP')).insurance_fund_balance;
  assert.ok(Number(fund) < 500, `the fund paid the backstop's gap: ${fund}`);
  const shown = `${Number(fund).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} USD`;
  await R.page.waitForFunction((x) => document.getElementById('ins-balance').textContent === x, shown, { timeout: T });
  await R.page.waitForFunction(
    (now) => {
      const v = window.__perpx.charts.insSeries.data().map((p) => p.value);
      return v.length >= 3 && v[0] === 0 && v.includes(500) && Math.abs(v[v.length - 1] - now) < 1e-6;
    },
    Number(fund),
    { timeout: T },
  );
  await R.page.waitForTimeout(500);
  await shot(R, 'risk-after-liquidation.png');
  await shot(A, 'trade-after-liquidation-account-1.png');
});

test('a position is closed from its row', async () => {
  // Account 3 (the backstop liquidator, long what it took over) gets a key and offers its long;
  // trader 2 closes the short that ADL left with the row's Close button: a reduce-only market buy.
  const k3 = await api(KEYS.admin, 'POST', '/api/v1/admin/keys', { account: 3, scopes: ['read', 'trade'] });
  const a3 = await api(k3, 'GET', '/api/v1/account');
  const long = a3.positions.find((p) => p.market === 'BTC-PERP').size;
  const short = (await api(KEYS.traders[1], 'GET', '/api/v1/account')).positions.find((p) => p.market === 'BTC-PERP').size;
  assert.equal(short, `-${long}`, 'what account 2 has left short is what account 3 took over');
  const t = await api(null, 'GET', '/api/v1/ticker?market=BTC-PERP');
  await api(k3, 'POST', '/api/v1/order', { market: 'BTC-PERP', side: 'sell', order_type: 'limit', price: t.mark_price, qty: long });
  const row = `#positions tr[data-market="BTC-PERP"][data-size="${short}"]`;
  await B.page.waitForSelector(row, { timeout: T });
  await B.page.click(`${row} button.close`);
  await B.page.waitForSelector('#positions tr[data-market="BTC-PERP"]', { state: 'detached', timeout: T });
  assert.match(await B.page.textContent('#order-status'), /close BTC-PERP: 1 fill/);
  await shot(B, 'trade-closed-account-2.png');
});

test('each market has its own fixed decimals', async () => {
  const { page } = A;
  await page.selectOption('#market', 'ETH-PERP');
  // ETH-PERP: tick 0.01, lot 0.01; BTC-PERP: tick 0.1, lot 0.001.
  await page.waitForFunction(() => /^\d{1,3}(,\d{3})*\.\d{2}$/.test(document.getElementById('t-mark').textContent), null, { timeout: T });
  await page.fill('#o-price', '3000');
  await page.fill('#o-qty', '1');
  await page.waitForFunction(() => document.getElementById('p-notional').textContent === '3,000.00 USD', null, { timeout: T });
  assert.equal(await page.textContent('#o-lev-max'), '50', 'ETH-PERP goes to 50x');
  await page.fill('#o-price', '');
  await page.fill('#o-qty', '');
  await page.selectOption('#market', 'BTC-PERP');
  await page.waitForFunction(() => /^\d{1,3}(,\d{3})*\.\d$/.test(document.getElementById('t-mark').textContent), null, { timeout: T });
});

test('the simulator view opens a finished run', async () => {
  await R.page.click('#nav-sim');
  await R.page.waitForFunction(() => document.getElementById('sim-summary').textContent.includes('seed'), null, { timeout: T });
  assert.match(await R.page.textContent('#sim-summary'), /final state hash/);
  await R.page.waitForSelector('#sim-charts img', { timeout: T });
  await R.page.waitForFunction(() => [...document.querySelectorAll('#sim-charts img')].every((i) => i.complete && i.naturalWidth > 0), null, {
    timeout: T,
  });
  assert.ok((await R.page.$$('#sim-charts img')).length >= 5, 'the run’s charts');
  const href = await R.page.getAttribute('#sim-open', 'href');
  assert.match(href, /report\.html$/);
  const report = await fetch(new URL(href, BASE));
  assert.equal(report.status, 200);
  assert.match(await report.text(), /What happened/);
  await shot(R, 'sim.png');
});

test('no console errors, failed requests or requests off the server on any page', async () => {
  for (const p of pages) assert.deepEqual(p.problems, [], `${p.name}`);
});
