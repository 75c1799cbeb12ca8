// The perpx web console: trade, risk and simulator views over the public, signed and
// WebSocket APIs of the server that serves it (docs/CONSOLE.md). Plain ES modules, no build
// step; the only third-party code is the vendored lightweight-charts standalone file.

import * as D from './decimal.js';
import { ApiError, Session, Stream, get, recentEvents } from './api.js';

const LC = window.LightweightCharts;
const $ = (id) => document.getElementById(id);

const state = {
  markets: new Map(), // symbol → market parameters (from /markets) plus price/qty decimals
  market: null, // the selected symbol
  session: null,
  book: null, // { market, seq, bids: Map, asks: Map }
  bookResyncs: 0,
  ticker: {},
  account: null,
  orders: [],
  stops: [],
  fills: [],
  leverageSet: new Map(), // market → leverage this page set or read from a position
  view: 'trade',
  liqFeed: [],
  journal: null,
  // Test and debugging hooks (docs/CONSOLE.md): drop the next book diff to exercise the resync.
  dropNextBookDiff: false,
  amending: null, // the order whose amend form is open
};
window.__perpx = state;

// ---------- formatting ----------

function priceDecimals(m) {
  return m ? m.priceDecimals : 2;
}
function qtyDecimals(m) {
  return m ? m.qtyDecimals : 3;
}
const fmtPrice = (text, m = state.markets.get(state.market)) => D.fmt(text, priceDecimals(m), true);
const fmtQty = (text, m = state.markets.get(state.market)) => D.fmt(text, qtyDecimals(m));
const fmtUsd = (text) => D.fmt(text, 2, true);
function fmtRatePct(text, decimals = 4) {
  const d = D.tryParse(text);
  return d === null ? '—' : `${D.format(D.mul(d, D.fromInt(100)), decimals)} %`;
}
function fmtTime(ms) {
  if (ms === null || ms === undefined) return '—';
  return new Date(Number(ms)).toISOString().slice(11, 19);
}
function signClass(text) {
  const d = D.tryParse(text);
  return d === null ? '' : D.sign(d) > 0 ? 'pos' : D.sign(d) < 0 ? 'neg' : '';
}
function td(text, cls) {
  const c = document.createElement('td');
  c.textContent = text;
  if (cls) c.className = cls;
  return c;
}
function row(cells, attrs = {}) {
  const r = document.createElement('tr');
  for (const c of cells) r.appendChild(c instanceof Node ? c : td(String(c)));
  for (const [k, v] of Object.entries(attrs)) r.setAttribute(k, v);
  return r;
}
function setText(id, text) {
  const el = $(id);
  if (el) el.textContent = text;
}
function say(id, text, ok) {
  const el = $(id);
  el.textContent = text;
  el.className = ok === undefined ? '' : ok ? 'okmsg' : 'err';
}
function errorText(e) {
  return e instanceof ApiError ? e.message : String(e && e.message ? e.message : e);
}
function debounce(f, ms) {
  let t = null;
  return (...a) => {
    clearTimeout(t);
    t = setTimeout(() => f(...a), ms);
  };
}

// ---------- charts ----------

function chart(el, height) {
  return LC.createChart(el, {
    height,
    autoSize: true,
    layout: { background: { color: '#161c23' }, textColor: '#c9d3dc', attributionLogo: true },
    grid: { vertLines: { color: '#222b35' }, horzLines: { color: '#222b35' } },
    // Narrow bars: a live chart gets a point a second, and starts with few.
    timeScale: { timeVisible: true, secondsVisible: true, borderColor: '#2b3540', barSpacing: 4, minBarSpacing: 0.2, rightOffset: 4 },
    rightPriceScale: { borderColor: '#2b3540' },
  });
}
function lineSeries(c, color, precision, dashed = false) {
  return c.addSeries(LC.LineSeries, {
    color,
    lineWidth: 2,
    lineStyle: dashed ? 2 : 0,
    priceFormat: { type: 'price', precision, minMove: 1 / 10 ** precision },
  });
}
/** Appends a point, keeping times strictly ascending (lightweight-charts requires it). */
function push(series, last, tsMs, value) {
  const time = Math.floor(Number(tsMs) / 1000);
  if (!Number.isFinite(value) || (last.t !== undefined && time < last.t)) return;
  series.update({ time, value });
  last.t = time;
}

const charts = {};
state.charts = charts; // for the browser test

function priceChart() {
  if (charts.price) return charts.price;
  const c = chart($('price-chart'), 380);
  const m = state.markets.get(state.market);
  const p = priceDecimals(m);
  charts.price = {
    chart: c,
    last: lineSeries(c, '#e8edf2', p),
    mark: lineSeries(c, '#ffd166', p, true), // dashed: it often lies on the index
    index: lineSeries(c, '#8cc4ff', p),
    t: { last: {}, mark: {}, index: {} },
  };
  return charts.price;
}

async function loadPriceHistory(symbol) {
  const pc = priceChart();
  const p = priceDecimals(state.markets.get(symbol));
  let longest = 0;
  for (const s of ['last', 'mark', 'index']) {
    pc[s].applyOptions({ priceFormat: { type: 'price', precision: p, minMove: 1 / 10 ** p } });
    pc.t[s] = {};
    let points = [];
    try {
      const from = Date.now() - 24 * 3600 * 1000; // the last day of 1-minute closes
      const r = await get(`/api/v1/history/candles?market=${encodeURIComponent(symbol)}&source=${s}&interval=1m&from=${from}`);
      points = (r.candles || []).map((c) => ({ time: Math.floor(c.open_time / 1000), value: D.toNumber(D.parse(c.close)) }));
    } catch {
      points = [];
    }
    if (symbol !== state.market) return;
    pc[s].setData(points);
    if (points.length) pc.t[s].t = points[points.length - 1].time;
    longest = Math.max(longest, points.length);
  }
  // Fitting two points would make every later bar as wide as half the chart.
  if (longest > 100) pc.chart.timeScale().fitContent();
}

// ---------- markets and ticker ----------

async function loadMarkets() {
  const r = await get('/api/v1/markets');
  const sel = $('market');
  sel.textContent = '';
  for (const m of r.markets) {
    m.priceDecimals = D.decimalsOf(m.tick_size);
    m.qtyDecimals = D.decimalsOf(m.lot_size);
    state.markets.set(m.market, m);
    const o = document.createElement('option');
    o.value = m.market;
    o.textContent = m.market;
    sel.appendChild(o);
  }
}

function renderTicker() {
  const t = state.ticker[state.market];
  if (!t) return;
  setText('t-mark', fmtPrice(t.mark_price));
  setText('t-index', fmtPrice(t.index_price));
  setText('t-last', fmtPrice(t.last_price));
  setText('t-oi', fmtQty(t.open_interest));
  setText('t-funding', fmtRatePct(t.predicted_rate));
  setText('t-apr', fmtRatePct(t.predicted_apr, 2));
  setText('t-next', t.next_funding_time ? new Date(t.next_funding_time).toISOString().slice(11, 16) + ' UTC' : '—');
  setText('t-status', `${t.status} · oracle ${t.oracle_stage}`);
}

async function refreshTicker(symbol = state.market) {
  try {
    state.ticker[symbol] = await get(`/api/v1/ticker?market=${encodeURIComponent(symbol)}`);
  } catch {
    return;
  }
  if (symbol === state.market) {
    renderTicker();
    updatePreview();
  }
}

const refreshTickerSoon = debounce(() => refreshTicker(), 300);

// ---------- book ----------

function applyLevels(book, msg) {
  for (const side of ['bids', 'asks']) {
    for (const [price, size] of msg[side] || []) {
      if (D.isZero(D.parse(size))) book[side].delete(price);
      else book[side].set(price, size);
    }
  }
}

function onBook(msg) {
  if (msg.market !== state.market) return;
  if (msg.type === 'snapshot') {
    state.book = { market: msg.market, seq: msg.seq, fresh: true, bids: new Map(), asks: new Map() };
    applyLevels(state.book, msg);
    renderBook();
    return;
  }
  const b = state.book;
  if (!b || b.market !== msg.market || msg.seq <= b.seq) return;
  if (state.dropNextBookDiff) {
    state.dropNextBookDiff = false;
    return; // as if lost: the next diff's prev_seq shows the gap
  }
  const inOrder = b.fresh ? msg.prev_seq <= b.seq : msg.prev_seq === b.seq;
  if (!inOrder) {
    // A gap: a fresh snapshot.
    state.bookResyncs += 1;
    state.book = null;
    stream.resubscribe('book', msg.market);
    return;
  }
  applyLevels(b, msg);
  b.seq = msg.seq;
  b.fresh = false;
  renderBook();
}

function sortedLevels(map, descending) {
  const levels = [...map.entries()].map(([p, s]) => ({ p, s, d: D.parse(p) }));
  levels.sort((a, b) => (descending ? D.cmp(b.d, a.d) : D.cmp(a.d, b.d)));
  return levels;
}

const LADDER_ROWS = 12;

function renderBook() {
  const b = state.book;
  const m = state.markets.get(state.market);
  const mine = new Set(state.orders.filter((o) => o.market === state.market).map((o) => o.price));
  const asks = b ? sortedLevels(b.asks, false).slice(0, LADDER_ROWS) : [];
  const bids = b ? sortedLevels(b.bids, true).slice(0, LADDER_ROWS) : [];
  const side = (levels, tbody, reverse) => {
    let total = D.fromInt(0);
    const rows = levels.map((l) => {
      total = D.add(total, D.parse(l.s));
      const r = row([fmtPrice(l.p, m), fmtQty(l.s, m), D.format(total, qtyDecimals(m))], { 'data-price': l.p, tabindex: '0' });
      if (mine.has(l.p)) r.classList.add('mine');
      return r;
    });
    if (reverse) rows.reverse();
    tbody.replaceChildren(...rows);
  };
  side(asks, $('ladder-asks'), true);
  side(bids, $('ladder-bids'), false);
  if (asks.length && bids.length) {
    const spread = D.sub(asks[0].d, bids[0].d);
    setText('spread', `spread ${D.format(spread, priceDecimals(m))}`);
  } else {
    setText('spread', asks.length || bids.length ? 'one-sided book' : 'empty book');
  }
  setText('book-seq', b ? `seq ${b.seq}` : 'resyncing…');
  drawDepth(bids, asks);
}

function drawDepth(bids, asks) {
  const canvas = $('depth');
  const w = canvas.clientWidth || 300;
  const h = canvas.clientHeight || 140;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = w * ratio;
  canvas.height = h * ratio;
  const g = canvas.getContext('2d');
  g.scale(ratio, ratio);
  g.fillStyle = '#161c23';
  g.fillRect(0, 0, w, h);
  if (!bids.length && !asks.length) return;
  const cum = (levels) => {
    let t = 0;
    return levels.map((l) => ({ p: D.toNumber(l.d), t: (t += D.toNumber(D.parse(l.s))) }));
  };
  const cb = cum(bids);
  const ca = cum(asks);
  const prices = [...cb, ...ca].map((x) => x.p);
  const lo = Math.min(...prices);
  const hi = Math.max(...prices);
  const top = Math.max(cb.length ? cb[cb.length - 1].t : 0, ca.length ? ca[ca.length - 1].t : 0) || 1;
  const x = (p) => (hi === lo ? w / 2 : ((p - lo) / (hi - lo)) * (w - 10) + 5);
  const y = (t) => h - 4 - (t / top) * (h - 12);
  const area = (pts, stroke, fill) => {
    if (!pts.length) return;
    g.beginPath();
    g.moveTo(x(pts[0].p), h - 4);
    for (const pt of pts) g.lineTo(x(pt.p), y(pt.t));
    g.lineTo(x(pts[pts.length - 1].p), h - 4);
    g.closePath();
    g.fillStyle = fill;
    g.fill();
    g.strokeStyle = stroke;
    g.stroke();
  };
  area(cb, '#5fd49a', 'rgba(95,212,154,.25)');
  area(ca, '#ff8a8a', 'rgba(255,138,138,.25)');
}

// ---------- trades ----------

const recentTrades = [];
function addTrade(t) {
  recentTrades.unshift(t);
  recentTrades.length = Math.min(recentTrades.length, 30);
}
function renderTrades() {
  const m = state.markets.get(state.market);
  $('trades').tBodies[0].replaceChildren(
    ...recentTrades.map((t) =>
      row([fmtTime(t.ts), td(fmtPrice(t.price, m), t.taker_side === 'buy' ? 'buy-text' : 'sell-text'), fmtQty(t.qty, m)], {
        'data-trade': String(t.trade_id),
      }),
    ),
  );
}
async function loadTrades(symbol) {
  recentTrades.length = 0;
  try {
    for (const t of await recentEvents(get, `/api/v1/history/trades?market=${encodeURIComponent(symbol)}`, 30)) addTrade(t);
  } catch {
    // the read model may be off
  }
  if (symbol === state.market) renderTrades();
}

// ---------- market selection ----------

async function selectMarket(symbol) {
  if (state.market === symbol) return;
  const prev = state.market;
  if (prev) {
    for (const c of ['book', 'trades', 'ticker']) stream.unsubscribe(c, prev);
  }
  state.market = symbol;
  $('market').value = symbol;
  state.book = null;
  renderBook();
  for (const c of ['book', 'trades', 'ticker']) stream.subscribe(c, symbol);
  setupLeverage();
  await Promise.all([refreshTicker(symbol), loadPriceHistory(symbol), loadTrades(symbol)]);
  if (state.view === 'risk') loadRisk();
}

// ---------- login ----------

function parseKeyField(keyText, secretText) {
  const t = keyText.trim();
  if (t.startsWith('{') || t.includes('(shown once):')) {
    const j = JSON.parse(t.slice(t.indexOf('{')));
    return { key: j.key, secret: j.secret, role: j.role === 'admin' ? 'admin' : 'trader' };
  }
  return { key: t, secret: secretText.trim(), role: null };
}

async function login(e) {
  e.preventDefault();
  say('login-status', 'checking…');
  try {
    const f = parseKeyField($('login-key').value, $('login-secret').value);
    const role = f.role || $('login-role').value;
    const s = await Session.open(f.key, f.secret, role);
    if (role === 'admin') {
      await s.get('/api/v1/admin/risk?depth=1');
    } else {
      const a = await s.get('/api/v1/account');
      s.account = a.account;
    }
    $('login-secret').value = '';
    $('login-key').value = '';
    state.session = s;
    document.body.classList.add('logged-in');
    document.body.classList.toggle('admin', role === 'admin');
    $('login-panel').hidden = true;
    $('logout').hidden = false;
    setText('who', role === 'admin' ? `operator ${s.key.slice(0, 10)}…` : `account ${s.account}`);
    $('who').classList.add('ok');
    await stream.setSession(s);
    if (role === 'trader') await Promise.all([refreshAccount(), loadFills(s)]);
    if (state.view === 'risk') loadRisk();
    say('login-status', '');
  } catch (err) {
    say('login-status', `login failed: ${errorText(err)}`, false);
  }
}

function logout() {
  state.session = null;
  state.account = null;
  state.orders = [];
  state.stops = [];
  state.fills = [];
  document.body.classList.remove('logged-in', 'admin');
  $('login-panel').hidden = false;
  $('logout').hidden = true;
  setText('who', 'not logged in');
  $('who').classList.remove('ok');
  stream.setSession(null);
  renderAccount();
}

// ---------- account, orders, positions ----------

async function refreshAccount() {
  const s = state.session;
  if (!s || s.role !== 'trader') return;
  try {
    const [a, o] = await Promise.all([s.get('/api/v1/account'), s.get('/api/v1/orders')]);
    if (state.session !== s) return;
    state.account = a;
    state.orders = o.orders;
    state.stops = o.stops;
    for (const p of a.positions || []) state.leverageSet.set(p.market, p.leverage);
  } catch (err) {
    say('order-status', `account: ${errorText(err)}`, false);
  }
  renderAccount();
  renderBook();
  updatePreview();
}
const refreshAccountSoon = debounce(refreshAccount, 120);

function lights(pct) {
  const span = document.createElement('span');
  span.className = 'lights';
  const n = pct === null || pct === undefined ? 0 : Math.ceil(pct / 20);
  span.setAttribute('role', 'img');
  span.setAttribute('aria-label', pct === null || pct === undefined ? 'no ADL rank' : `ADL percentile ${pct}: ${n} of 5`);
  span.title = pct === null || pct === undefined ? 'no rank' : `ADL percentile ${pct}`;
  for (let i = 1; i <= 5; i++) {
    const b = document.createElement('i');
    if (i <= n) b.className = n >= 4 ? 'on hot' : 'on';
    span.appendChild(b);
  }
  return span;
}

function renderAccount() {
  const a = state.account;
  const summary = $('acct-summary');
  summary.textContent = '';
  setText('acct-id', a ? `#${a.account}` : '');
  if (a && a.exists !== false) {
    for (const [k, label] of [
      ['equity', 'Equity'],
      ['collateral', 'Collateral'],
      ['unrealized_pnl', 'Unrealised PnL'],
      ['initial_margin', 'Initial margin'],
      ['maintenance_margin', 'Maintenance margin'],
      ['withdrawable', 'Available'],
    ]) {
      const d = document.createElement('div');
      const dt = document.createElement('dt');
      dt.textContent = label;
      const dd = document.createElement('dd');
      dd.textContent = fmtUsd(a[k]);
      dd.id = `acct-${k}`;
      d.append(dt, dd);
      summary.appendChild(d);
    }
    const d = document.createElement('div');
    d.innerHTML = '<dt>Margin ratio</dt><dd id="acct-ratio"></dd>';
    summary.appendChild(d);
    setText('acct-ratio', a.margin_ratio === 'inf' ? '∞' : fmtRatePct(a.margin_ratio, 2));
  }
  const positions = (a && a.positions) || [];
  $('positions').tBodies[0].replaceChildren(
    ...positions
      .filter((p) => !D.isZero(D.parse(p.size)))
      .map((p) => {
        const m = state.markets.get(p.market);
        return row(
          [
            p.market,
            td(fmtQty(p.size, m), signClass(p.size)),
            p.entry_price === null ? '—' : D.fmt(p.entry_price, priceDecimals(m) + 2, true),
            fmtPrice(p.mark_price, m),
            td(fmtUsd(p.unrealized_pnl), signClass(p.unrealized_pnl)),
            fmtPrice(p.liquidation_price, m),
            (() => {
              const c = document.createElement('td');
              c.appendChild(lights(p.adl_percentile));
              return c;
            })(),
            `${p.leverage}x ${p.margin_mode}`,
            fmtUsd(p.funding_paid),
            fmtUsd(p.funding_received),
            // Positive is a cost (red), negative an income (green).
            td(fmtRatePct(p.funding_apr_on_margin, 2), { pos: 'neg', neg: 'pos' }[signClass(p.funding_apr_on_margin)] || ''),
            closeCell(p),
          ],
          { 'data-market': p.market, 'data-size': p.size },
        );
      }),
  );
  // An amend form being typed in is left alone (the table is redrawn once it is done).
  const amending = state.amending !== null && state.orders.some((o) => o.order_id === state.amending);
  if (!amending) {
    state.amending = null;
    $('orders').tBodies[0].replaceChildren(...state.orders.map(orderRow));
  }
  $('stops').tBodies[0].replaceChildren(
    ...state.stops.map((s) => {
      const m = state.markets.get(s.market);
      const actions = document.createElement('td');
      const cancel = document.createElement('button');
      cancel.type = 'button';
      cancel.textContent = 'Cancel';
      cancel.className = 'cancel';
      cancel.setAttribute('aria-label', `Cancel stop ${s.stop_id}`);
      // A stop is cancelled by its id like an order.
      cancel.onclick = () => cancelOrder({ market: s.market, order_id: s.stop_id });
      actions.appendChild(cancel);
      return row([s.stop_id, s.market, td(s.side, `${s.side}-text`), fmtPrice(s.trigger_price, m), fmtQty(s.qty, m), actions], {
        'data-stop-id': String(s.stop_id),
        'data-trigger': s.trigger_price,
      });
    }),
  );
  $('fills').tBodies[0].replaceChildren(
    ...state.fills.slice(0, 20).map((f) => {
      const m = state.markets.get(f.market);
      return row([f.seq, f.market, td(f.side, `${f.side}-text`), fmtPrice(f.price, m), fmtQty(f.qty, m), f.role, fmtUsd(f.fee)], {
        'data-trade': String(f.trade_id),
      });
    }),
  );
}

/** A Close button: a reduce-only market order for the whole position. */
function closeCell(p) {
  const c = document.createElement('td');
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = 'Close';
  b.className = 'close';
  b.setAttribute('aria-label', `Close the ${p.market} position at market`);
  b.onclick = async () => {
    const size = D.parse(p.size);
    const body = { market: p.market, side: D.sign(size) > 0 ? 'sell' : 'buy', order_type: 'market', qty: D.format(D.abs(size), size.s), reduce_only: true };
    try {
      const ack = await state.session.post('/api/v1/order', body);
      const fills = ack.events.filter((x) => x.type === 'fill').length;
      const rest = ack.events.find((x) => x.type === 'order_cancelled');
      say('order-status', `close ${p.market}: ${fills} fill${fills === 1 ? '' : 's'}${rest ? `, ${rest.qty} unfilled (${rest.reason})` : ''} (seq ${ack.seq})`, !rest);
    } catch (err) {
      say('order-status', `close: ${errorText(err)}`, false);
    }
    refreshAccount();
  };
  c.appendChild(b);
  return c;
}

function orderRow(o) {
  const m = state.markets.get(o.market);
  const flags = [o.post_only ? 'post-only' : '', o.reduce_only ? 'reduce-only' : '', o.client_id ? `cid ${o.client_id}` : '']
    .filter(Boolean)
    .join(' ');
  const actions = document.createElement('td');
  const cancel = document.createElement('button');
  cancel.type = 'button';
  cancel.textContent = 'Cancel';
  cancel.className = 'cancel';
  cancel.setAttribute('aria-label', `Cancel order ${o.order_id}`);
  cancel.onclick = () => cancelOrder(o);
  const amend = document.createElement('button');
  amend.type = 'button';
  amend.textContent = 'Amend';
  amend.className = 'amend';
  amend.setAttribute('aria-label', `Amend order ${o.order_id}`);
  amend.onclick = () => showAmend(o, actions);
  actions.append(cancel, ' ', amend);
  return row(
    [o.order_id, o.market, td(o.side, `${o.side}-text`), fmtPrice(o.price, m), fmtQty(o.qty, m), fmtQty(o.filled, m), flags, actions],
    { 'data-order-id': String(o.order_id), 'data-price': o.price },
  );
}

async function cancelOrder(o) {
  try {
    await state.session.post('/api/v1/order/cancel', { market: o.market, order_id: o.order_id });
    say('order-status', `order ${o.order_id} cancelled`, true);
  } catch (err) {
    say('order-status', `cancel: ${errorText(err)}`, false);
  }
  refreshAccount();
}

function showAmend(o, cell) {
  const form = document.createElement('form');
  form.className = 'amend-form';
  const price = document.createElement('input');
  price.value = o.price;
  price.setAttribute('aria-label', `New price for order ${o.order_id}`);
  price.inputMode = 'decimal';
  const qty = document.createElement('input');
  qty.value = o.qty;
  qty.setAttribute('aria-label', `New open size for order ${o.order_id}`);
  qty.inputMode = 'decimal';
  const save = document.createElement('button');
  save.type = 'submit';
  save.textContent = 'Save';
  form.append(price, ' ', qty, ' ', save);
  form.onkeydown = (e) => {
    if (e.key === 'Escape') {
      state.amending = null;
      renderAccount();
    }
  };
  form.onsubmit = async (e) => {
    e.preventDefault();
    state.amending = null;
    const body = { market: o.market, order_id: o.order_id };
    if (price.value.trim() !== o.price) body.price = price.value.trim();
    if (qty.value.trim() !== o.qty) body.qty = qty.value.trim();
    try {
      await state.session.post('/api/v1/order/amend', body);
      say('order-status', `order ${o.order_id} amended`, true);
    } catch (err) {
      say('order-status', `amend: ${errorText(err)}`, false);
    }
    refreshAccount();
  };
  state.amending = o.order_id;
  cell.replaceChildren(form);
  price.focus();
}

/** The account's fill as the fills table shows it. */
function fillView(e, me) {
  const maker = e.maker_account === me;
  return {
    seq: e.seq,
    trade_id: e.trade_id,
    market: e.market,
    side: maker ? (e.taker_side === 'buy' ? 'sell' : 'buy') : e.taker_side,
    price: e.price,
    qty: e.qty,
    role: maker ? 'maker' : 'taker',
    fee: maker ? e.maker_fee : e.taker_fee,
  };
}

/** The account's last fills from the history read model (oldest first there, newest first here). */
async function loadFills(s) {
  let events = [];
  try {
    events = await recentEvents((path) => s.get(path), '/api/v1/history/fills', 20);
  } catch {
    return; // the read model may be off
  }
  if (state.session !== s) return;
  const seen = new Set(state.fills.map((f) => `${f.seq}:${f.trade_id}`));
  const old = events.map((e) => fillView(e, s.account)).filter((f) => !seen.has(`${f.seq}:${f.trade_id}`));
  state.fills = [...state.fills, ...old.reverse()];
  renderAccount();
}

function onAccountEvent(e) {
  if (e.type === 'fill') state.fills.unshift(fillView(e, state.session && state.session.account));
  if (e.type === 'leverage_set') state.leverageSet.set(e.market, e.leverage);
  refreshAccountSoon();
}

// ---------- order form ----------

function formValues() {
  const side = document.querySelector('input[name=side]:checked').value;
  return {
    side,
    type: $('o-type').value,
    price: $('o-price').value.trim(),
    trigger: $('o-trigger').value.trim(),
    triggerBy: $('o-trigger-by').value,
    qty: $('o-qty').value.trim(),
    tif: $('o-tif').value,
    post: $('o-post').checked,
    reduce: $('o-reduce').checked,
    leverage: Number($('o-lev').value),
  };
}

function syncFormFields() {
  const v = formValues();
  const limit = v.type === 'limit' || v.type.endsWith('_limit');
  const stop = v.type.startsWith('stop') || v.type.startsWith('take_profit');
  $('l-price').hidden = !limit;
  $('l-tif').hidden = !limit;
  $('l-post').hidden = v.type !== 'limit';
  $('l-trigger').hidden = !stop;
  $('l-trigger-by').hidden = !stop;
  const b = $('o-submit');
  b.textContent = `Place ${v.side} ${v.type.replace(/_/g, ' ')} order`;
  b.className = v.side;
  updatePreview();
}

function currentPosition(symbol) {
  const p = state.account && (state.account.positions || []).find((x) => x.market === symbol);
  return p ? D.parse(p.size) : D.fromInt(0);
}

/** The tier a notional falls in (the last tier beyond the table). */
function tierFor(m, notional) {
  for (const t of m.tiers) if (D.cmp(notional, D.parse(t.max_notional)) <= 0) return t;
  return m.tiers[m.tiers.length - 1];
}

/** The price the preview assumes: the limit price, the trigger's limit, or the mark. */
function referencePrice(v) {
  const t = state.ticker[state.market] || {};
  const limit = v.type === 'limit' || v.type.endsWith('_limit');
  return D.tryParse(limit ? v.price : v.type === 'market' ? t.mark_price : v.trigger) || D.tryParse(t.mark_price);
}

function setupLeverage() {
  const m = state.markets.get(state.market);
  if (!m) return;
  const set = state.leverageSet.get(state.market);
  const lev = $('o-lev');
  lev.max = String(m.max_leverage);
  lev.value = String(Math.min(set || 10, m.max_leverage));
  updatePreview();
}

/** Required margin, fee and an estimated liquidation price, exactly (decimal strings in, text out). */
function updatePreview() {
  const m = state.markets.get(state.market);
  const out = (id, text) => setText(id, text);
  if (!m) return;
  const v = formValues();
  const price = referencePrice(v);
  const qty = D.tryParse(v.qty);
  const lev = $('o-lev');
  const old = currentPosition(state.market);
  const signed = qty ? (v.side === 'buy' ? qty : D.neg(qty)) : D.fromInt(0);
  const after = v.reduce ? old : D.add(old, signed);
  // The slider is bounded by the tier the resulting position's notional falls in.
  const tierNotional = price ? D.abs(D.mul(after, price)) : D.fromInt(0);
  const tier = tierFor(m, tierNotional);
  const maxLev = Math.min(tier.max_leverage, m.max_leverage);
  lev.max = String(maxLev);
  if (Number(lev.value) > maxLev) lev.value = String(maxLev);
  setText('o-lev-max', String(maxLev));
  setText('o-lev-out', `${lev.value}x`);
  lev.setAttribute('aria-valuetext', `${lev.value} times`);
  if (!price || !qty || D.isZero(qty)) {
    for (const id of ['p-notional', 'p-margin', 'p-fee', 'p-liq']) out(id, '—');
    return;
  }
  const notional = D.mul(price, qty);
  out('p-notional', `${D.format(notional, 2, true)} USD`);
  const leverage = D.fromInt(Number(lev.value));
  // Margin for the exposure this order adds (a reduce-only order needs none).
  const adds = v.reduce ? D.fromInt(0) : D.sub(D.abs(D.add(old, signed)), D.abs(old));
  const addedNotional = D.sign(adds) > 0 ? D.mul(adds, price) : D.fromInt(0);
  out('p-margin', `${D.format(D.div(addedNotional, leverage, 6), 2, true)} USD`);
  const taker = D.mul(notional, D.parse(m.taker_fee));
  const maker = D.mul(notional, D.parse(m.maker_fee));
  if (v.type === 'limit' && v.post) out('p-fee', `${D.format(maker, 4, true)} USD (maker)`);
  else if (v.type === 'limit') out('p-fee', `${D.format(maker, 4, true)} maker / ${D.format(taker, 4, true)} taker`);
  else out('p-fee', `${D.format(taker, 4, true)} USD (taker)`);
  out('p-liq', liquidationEstimate(m, old, signed, after, price, taker));
}

/**
 * The mark at which the account would meet maintenance after this order fills at `price`,
 * cross margin, other positions and marks unchanged (docs/CONSOLE.md):
 * equity(P) = C + S·P with C = equity − fee − S_old·mark − ΔS·price, and
 * MM(P) = |S|·P·rate − amount, so P = (−amount − C) / (S − |S|·rate).
 */
function liquidationEstimate(m, old, delta, after, price, fee) {
  const a = state.account;
  const t = state.ticker[state.market] || {};
  const mark = D.tryParse(t.mark_price) || price;
  if (!a || a.exists === false) return 'log in for an estimate';
  if (D.isZero(after)) return '— (flat)';
  const equity = D.parse(a.equity);
  const c = D.sub(D.sub(D.sub(equity, fee), D.mul(old, mark)), D.mul(delta, price));
  const tier = tierFor(m, D.abs(D.mul(after, price)));
  const rate = D.parse(tier.maintenance_rate);
  const amount = D.parse(tier.maintenance_amount);
  const den = D.sub(after, D.mul(D.abs(after), rate));
  const p = D.div(D.sub(D.neg(amount), c), den, priceDecimals(m) + 2);
  if (p === null || D.sign(p) <= 0) return '— (none)';
  return `${D.format(p, priceDecimals(m), true)} (est.)`;
}

async function placeOrder(e) {
  e.preventDefault();
  const s = state.session;
  if (!s || s.role !== 'trader') {
    say('order-status', 'log in with a trader key to trade', false);
    return;
  }
  const v = formValues();
  const market = state.market;
  try {
    if (state.leverageSet.get(market) !== v.leverage) {
      await s.post('/api/v1/leverage', { market, leverage: v.leverage });
      state.leverageSet.set(market, v.leverage);
    }
    let ack;
    if (v.type === 'limit' || v.type === 'market') {
      const body = { market, side: v.side, order_type: v.type, qty: v.qty };
      if (v.type === 'limit') {
        body.price = v.price;
        body.tif = v.post ? 'post_only' : v.tif;
      }
      if (v.reduce) body.reduce_only = true;
      ack = await s.post('/api/v1/order', body);
    } else {
      const body = { market, side: v.side, stop_type: v.type, trigger_price: v.trigger, trigger_by: v.triggerBy, qty: v.qty };
      if (v.type.endsWith('_limit')) {
        body.price = v.price;
        body.tif = v.tif;
      }
      if (v.reduce) body.reduce_only = true;
      ack = await s.post('/api/v1/stop', body);
    }
    const kinds = ack.events.map((x) => x.type);
    const accepted = ack.events.find((x) => x.type === 'order_accepted' || x.type === 'stop_accepted');
    const fills = ack.events.filter((x) => x.type === 'fill').length;
    const cancelled = ack.events.find((x) => x.type === 'order_cancelled');
    let text = accepted ? `${accepted.type === 'stop_accepted' ? 'stop' : 'order'} ${accepted.order_id ?? accepted.stop_id} accepted (seq ${ack.seq})` : `seq ${ack.seq}: ${kinds.join(', ')}`;
    if (fills) text += `, ${fills} fill${fills > 1 ? 's' : ''}`;
    if (cancelled) text += `, ${cancelled.qty} cancelled (${cancelled.reason})`;
    say('order-status', text, true);
  } catch (err) {
    say('order-status', errorText(err), false);
  }
  refreshAccount();
}

// ---------- risk view ----------

const risk = { insurance: [], insLast: {}, fundingLoaded: null, timer: null };

function riskCharts() {
  if (charts.ins) return;
  charts.ins = chart($('ins-chart'), 220);
  charts.insSeries = charts.ins.addSeries(LC.LineSeries, { color: '#5fd49a', lineWidth: 2, lineType: 1 });
  charts.funding = chart($('funding-chart'), 220);
  charts.fundingSeries = charts.funding.addSeries(LC.LineSeries, {
    color: '#ffd166',
    lineWidth: 2,
    priceFormat: { type: 'price', precision: 4, minMove: 0.0001 },
  });
}

/** Fund flows that change a balance, as (signed amount) from a history/insurance event. */
function fundDelta(e, fund) {
  switch (e.type) {
    case 'liquidation_fee':
      return e.fund === fund ? D.parse(e.amount) : null;
    case 'deficit_covered':
      return e.fund === fund ? D.neg(D.parse(e.amount)) : null;
    case 'fund_capitalised':
      return e.fund === fund ? D.parse(e.amount) : null;
    case 'funding_settled':
      return e.to_insurance_fund && e.market && fund.endsWith(e.market) ? D.parse(e.to_insurance_fund) : null;
    default:
      return null;
  }
}

/** The fund's balance over time: walked back from today's balance through its recorded flows
 * (the last 2,000: the chart starts where they do). */
async function loadInsurance(symbol) {
  // Today's balance, fresh: the walk back starts from it.
  const t = await get(`/api/v1/ticker?market=${encodeURIComponent(symbol)}`);
  state.ticker[symbol] = t;
  const fund = t.insurance_fund;
  setText('ins-name', fund);
  setText('ins-balance', `${fmtUsd(t.insurance_fund_balance)} USD`);
  let events = [];
  try {
    // Every fund's flows, filtered here by the fund's name (capital names no market).
    events = await recentEvents(get, '/api/v1/history/insurance', 2000);
  } catch {
    events = [];
  }
  let balance = D.parse(t.insurance_fund_balance);
  const points = [{ time: Math.floor(Date.now() / 1000), value: D.toNumber(balance) }];
  for (let i = events.length - 1; i >= 0; i--) {
    const d = fundDelta(events[i], fund);
    if (d === null) continue;
    const time = Math.floor(events[i].ts / 1000);
    points.push({ time, value: D.toNumber(balance) });
    balance = D.sub(balance, d);
    points.push({ time: time - 1, value: D.toNumber(balance) });
  }
  points.reverse();
  const dedup = [];
  for (const p of points) {
    if (dedup.length && dedup[dedup.length - 1].time >= p.time) dedup[dedup.length - 1] = { time: dedup[dedup.length - 1].time, value: p.value };
    else dedup.push(p);
  }
  charts.insSeries.setData(dedup);
  risk.insLast = { t: dedup.length ? dedup[dedup.length - 1].time : undefined };
  charts.ins.timeScale().fitContent();
}

async function loadFunding(symbol) {
  let events = [];
  try {
    events = await recentEvents(get, `/api/v1/history/funding?market=${encodeURIComponent(symbol)}`, 500);
  } catch {
    events = [];
  }
  const m = state.markets.get(symbol);
  const pts = [];
  for (const e of events) {
    const time = Math.floor(Number(e.funding_time || e.ts) / 1000);
    if (pts.length && pts[pts.length - 1].time >= time) continue;
    pts.push({ time, value: D.toNumber(D.parse(e.rate)) * 100 });
  }
  const t = state.ticker[symbol];
  setText(
    'funding-now',
    `${events.length ? `${events.length} settlement${events.length > 1 ? 's' : ''}` : 'no settlement yet'}; predicted ${t ? fmtRatePct(t.predicted_rate) : '—'} per interval (APR ${t ? fmtRatePct(t.predicted_apr, 2) : '—'})`,
  );
  charts.fundingSeries.setData(pts);
  charts.funding.timeScale().fitContent();
  $('funding-table').tBodies[0].replaceChildren(
    ...events
      .slice(-10)
      .reverse()
      .map((e) => row([fmtTime(e.funding_time || e.ts), fmtRatePct(e.rate), fmtRatePct(e.rate_8h), fmtPrice(e.mark_price, m), fmtUsd(e.to_insurance_fund)])),
  );
}

async function loadLiquidations() {
  let events = [];
  try {
    events = await recentEvents(get, '/api/v1/history/liquidations', 100);
  } catch {
    events = [];
  }
  state.liqFeed = events.slice(-100).reverse();
  renderLiqFeed();
}

function liqRow(e, fresh) {
  const m = state.markets.get(e.market);
  const counter = e.type === 'deleveraged' ? e.bankrupt : e.type === 'backstop_takeover' ? e.liquidator : '';
  const detail =
    e.type === 'deleveraged'
      ? `${e.policy}, rank ${e.rank}, gave up ${fmtUsd(e.profit_given_up)}`
      : e.type === 'liquidation_finished'
        ? `${e.outcome}`
        : e.type === 'liquidation_started'
          ? `${e.scope}, equity ${fmtUsd(e.equity)}, MM ${fmtUsd(e.maintenance_margin)}`
          : e.type === 'backstop_takeover'
            ? `gap paid ${fmtUsd(e.gap_paid)}`
            : '';
  const r = row(
    [
      e.seq,
      fmtTime(e.ts),
      e.type.replace(/_/g, ' '),
      e.market || (e.scope && e.scope.startsWith('isolated:') ? e.scope.slice(9) : 'cross'),
      td(String(e.account), 'acct'),
      counter || '',
      e.qty ? fmtQty(e.qty, m) : '',
      e.price ? fmtPrice(e.price, m) : '',
      td(detail),
    ],
    { 'data-type': e.type, 'data-seq': String(e.seq) },
  );
  if (fresh) r.classList.add('fresh');
  return r;
}

function renderLiqFeed() {
  $('liq-feed').tBodies[0].replaceChildren(...state.liqFeed.slice(0, 100).map((e) => liqRow(e, e.fresh)));
}

function onLiquidation(e) {
  e.fresh = true;
  state.liqFeed.unshift(e);
  state.liqFeed.length = Math.min(state.liqFeed.length, 200);
  if (state.view === 'risk') {
    renderLiqFeed();
    loadRiskFiguresSoon();
  }
}

const accounts = (n) => `${n} account${n === 1 ? '' : 's'}`;

function sideTable(side) {
  const t = document.createElement('table');
  t.className = 'nums adl';
  t.innerHTML =
    '<thead><tr><th scope="col">#</th><th scope="col">Account</th><th scope="col">ADL</th><th scope="col">Size</th><th scope="col">Unrealised PnL</th><th scope="col">Leverage</th></tr></thead>';
  const body = document.createElement('tbody');
  side.adl_queue.forEach((p, i) => {
    const c = document.createElement('td');
    c.appendChild(lights(p.percentile));
    body.appendChild(row([i + 1, p.account, c, p.size, td(fmtUsd(p.unrealized_pnl), signClass(p.unrealized_pnl)), `${p.leverage}x`], { 'data-account': p.account }));
  });
  if (!side.adl_queue.length) body.appendChild(row([td('no positions')]));
  t.appendChild(body);
  return t;
}

async function loadRiskFigures() {
  const s = state.session;
  if (!s || s.role !== 'admin') {
    $('risk-markets').textContent = '';
    return;
  }
  let r;
  try {
    r = await s.get('/api/v1/admin/risk');
  } catch (err) {
    $('risk-markets').textContent = `risk figures: ${errorText(err)}`;
    return;
  }
  const cards = r.markets.map((m) => {
    const card = document.createElement('section');
    card.className = 'panel';
    card.setAttribute('data-market', m.market);
    const mk = state.markets.get(m.market);
    card.innerHTML = `<h2></h2><div class="oi"></div><h3>ADL queue: longs</h3><div class="q-long"></div><h3>ADL queue: shorts</h3><div class="q-short"></div>`;
    card.querySelector('h2').textContent = `${m.market} · mark ${fmtPrice(m.mark_price, mk)} · ADL policy: ${m.adl_policy.replace(/_/g, ' ')}`;
    const oi = card.querySelector('.oi');
    for (const [label, value, id] of [
      ['Open interest, long', `${fmtQty(m.long.open_interest, mk)} (${accounts(m.long.holders)})`, 'long'],
      ['short', `${fmtQty(m.short.open_interest, mk)} (${accounts(m.short.holders)})`, 'short'],
      ['Insurance fund', `${fmtUsd(m.insurance_fund_balance)} USD`, 'fund'],
    ]) {
      const d = document.createElement('div');
      d.innerHTML = '<span class="k"></span> <span class="num"></span>';
      d.firstChild.textContent = label;
      d.lastChild.textContent = value;
      d.lastChild.setAttribute('data-oi', id);
      oi.appendChild(d);
    }
    card.querySelector('.q-long').appendChild(sideTable(m.long));
    card.querySelector('.q-short').appendChild(sideTable(m.short));
    return card;
  });
  $('risk-markets').replaceChildren(...cards);
}
const loadRiskFiguresSoon = debounce(loadRiskFigures, 200);

async function loadJournalHead() {
  try {
    const h = await get('/api/v1/journal/head');
    showJournal(h.seq, h.hash);
  } catch {
    // shown when the channel delivers
  }
}
function showJournal(seq, hash) {
  state.journal = { seq, hash };
  setText('j-seq', String(seq));
  setText('j-hash', hash || 'volatile (no journal)');
}

async function loadRisk() {
  riskCharts();
  const symbol = state.market;
  await Promise.all([loadJournalHead(), loadInsurance(symbol), loadFunding(symbol), loadLiquidations(), loadRiskFigures()]);
}

async function riskTick() {
  if (state.view !== 'risk') return;
  const symbol = state.market;
  try {
    const t = await get(`/api/v1/ticker?market=${encodeURIComponent(symbol)}`);
    state.ticker[symbol] = t;
    setText('ins-balance', `${fmtUsd(t.insurance_fund_balance)} USD`);
    if (charts.insSeries) push(charts.insSeries, risk.insLast, Date.now(), D.toNumber(D.parse(t.insurance_fund_balance)));
  } catch {
    // next time
  }
  loadRiskFigures();
}

// ---------- simulator view ----------

async function loadSims() {
  let runs;
  try {
    runs = (await get('/console/sims.json')).runs;
  } catch (err) {
    say('sim-status', `No reports: ${errorText(err)}`, false);
    return;
  }
  const sel = $('sim-run');
  const prev = sel.value;
  sel.textContent = '';
  for (const r of runs) {
    const o = document.createElement('option');
    o.value = r.run;
    o.textContent = `${r.run} (${r.kind})`;
    o.dataset.files = JSON.stringify(r.files);
    sel.appendChild(o);
  }
  say('sim-status', runs.length ? `${runs.length} finished run${runs.length > 1 ? 's' : ''}` : 'no finished runs in the reports directory');
  if (runs.length) {
    sel.value = runs.some((r) => r.run === prev) ? prev : runs[0].run;
    await openSim(sel.value);
  }
}

function dlOf(obj, target) {
  for (const [k, v] of Object.entries(obj)) {
    if (v === null || typeof v === 'object') continue;
    const d = document.createElement('div');
    const dt = document.createElement('dt');
    dt.textContent = k.replace(/_/g, ' ');
    const dd = document.createElement('dd');
    dd.textContent = String(v);
    d.append(dt, dd);
    target.appendChild(d);
  }
}

async function openSim(run) {
  const opt = [...$('sim-run').options].find((o) => o.value === run);
  const files = opt ? JSON.parse(opt.dataset.files) : [];
  const base = `/console/sims/${run.split('/').map(encodeURIComponent).join('/')}`;
  const report = files.find((f) => f.endsWith('.html'));
  $('sim-open').href = report ? `${base}/${report}` : '#sim';
  $('sim-open').hidden = !report;
  const summary = $('sim-summary');
  summary.textContent = '';
  const tables = $('sim-tables');
  tables.textContent = '';
  const json = files.find((f) => ['summary.json', 'montecarlo.json', 'compare.json'].includes(f));
  if (json) {
    const s = await get(`${base}/${json}`);
    dlOf(s, summary);
    const plain = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
    const heading = (text) => {
      const h = document.createElement('h3');
      h.textContent = text.replace(/_/g, ' ');
      return h;
    };
    for (const m of s.markets || []) {
      const dl = document.createElement('dl');
      dl.className = 'summary';
      dlOf(m, dl);
      tables.append(heading(`market ${m.symbol}`), dl);
    }
    for (const [k, v] of Object.entries(s)) {
      if (plain(v) && Object.values(v).some((x) => x === null || typeof x !== 'object')) {
        const dl = document.createElement('dl');
        dl.className = 'summary';
        dlOf(v, dl);
        tables.append(heading(k), dl);
      } else if (k !== 'markets' && k !== 'per_event' && Array.isArray(v) && v.length && plain(v[0])) {
        // A table of scalar columns: a comparison's variants, a Monte Carlo's runs.
        const cols = Object.keys(v[0]).filter((c) => v[0][c] === null || typeof v[0][c] !== 'object').filter((c) => !c.endsWith('hash'));
        const t = document.createElement('table');
        t.className = 'nums';
        t.appendChild(row(cols.map((c) => {
          const th = document.createElement('th');
          th.scope = 'col';
          th.textContent = c.replace(/_/g, ' ');
          return th;
        })));
        for (const r of v.slice(0, 50)) t.appendChild(row(cols.map((c) => String(r[c] ?? '—'))));
        const wrap = document.createElement('div');
        wrap.className = 'scroll';
        wrap.appendChild(t);
        tables.append(heading(k), wrap);
      }
    }
  }
  // Monte Carlo and comparison outputs have no time series of their own.
  const ts = files.includes('timeseries.csv');
  $('sim-ts-panel').hidden = !ts;
  const figs = files
    .filter((f) => f.endsWith('.svg'))
    .map((f) => {
      const fig = document.createElement('figure');
      const img = document.createElement('img');
      img.src = `${base}/${f}`;
      img.alt = f.replace(/\.svg$/, '').replace(/-/g, ' ');
      const cap = document.createElement('figcaption');
      cap.textContent = f;
      fig.append(img, cap);
      return fig;
    });
  $('sim-charts').replaceChildren(...figs);
  if (ts) await simTimeseries(`${base}/timeseries.csv`);
}

async function simTimeseries(url) {
  const text = await (await fetch(url)).text();
  const lines = text.trim().split('\n');
  const head = lines[0].split(',');
  const col = (n) => head.indexOf(n);
  const rows = lines.slice(1).map((l) => l.split(','));
  const market = rows.length ? rows[0][col('market')] : '';
  setText('sim-ts-market', market);
  if (!charts.sim) {
    charts.sim = chart($('sim-chart'), 380);
    charts.simSeries = {
      spot: lineSeries(charts.sim, '#c792ea', 2),
      index: lineSeries(charts.sim, '#8cc4ff', 2),
      mark: lineSeries(charts.sim, '#ffd166', 2),
      last: lineSeries(charts.sim, '#e8edf2', 2),
    };
  }
  for (const [name, series] of Object.entries(charts.simSeries)) {
    const pts = [];
    for (const r of rows) {
      if (r[col('market')] !== market || r[col(name)] === '') continue;
      const time = Math.floor(Number(r[col('ts_ms')]) / 1000);
      if (pts.length && pts[pts.length - 1].time >= time) continue;
      pts.push({ time, value: D.toNumber(D.parse(r[col(name)])) });
    }
    series.setData(pts);
  }
  charts.sim.timeScale().fitContent();
}

// ---------- views ----------

function route() {
  const h = location.hash.replace(/^#/, '') || 'trade';
  const view = ['trade', 'risk', 'sim'].includes(h) ? h : 'trade';
  state.view = view;
  for (const v of ['trade', 'risk', 'sim']) {
    $(`view-${v}`).hidden = v !== view;
    const nav = $(`nav-${v}`);
    if (v === view) nav.setAttribute('aria-current', 'page');
    else nav.removeAttribute('aria-current');
  }
  if (view === 'risk') loadRisk();
  if (view === 'sim') loadSims();
}

// ---------- the stream ----------

function onMessage(m) {
  if (m.op === 'error') {
    say('order-status', `stream: ${m.message}`, false);
    return;
  }
  if (m.op) return; // acknowledgements
  switch (m.channel) {
    case 'book':
      onBook(m);
      break;
    case 'trades':
      if (m.market === state.market) {
        addTrade(m);
        renderTrades();
        if (charts.price) push(charts.price.last, charts.price.t.last, m.ts, D.toNumber(D.parse(m.price)));
        const t = state.ticker[m.market];
        if (t) {
          t.last_price = m.price;
          renderTicker();
        }
        refreshTickerSoon(); // open interest moved
      }
      break;
    case 'ticker': {
      const t = state.ticker[m.market];
      if (m.market !== state.market || !t) break;
      if (m.type === 'mark_price') {
        t.mark_price = m.price;
        if (charts.price) push(charts.price.mark, charts.price.t.mark, m.ts, D.toNumber(D.parse(m.price)));
        refreshAccountSoon();
      } else if (m.type === 'index_price') {
        t.index_price = m.price;
        if (charts.price) push(charts.price.index, charts.price.t.index, m.ts, D.toNumber(D.parse(m.price)));
      } else if (m.type === 'funding_settled') {
        refreshTicker(m.market);
      }
      renderTicker();
      updatePreview();
      break;
    }
    case 'liquidations':
      onLiquidation(m);
      break;
    case 'journal':
      showJournal(m.seq, m.hash);
      break;
    case 'account':
      onAccountEvent(m);
      break;
    default:
      break;
  }
}

const stream = new Stream(onMessage, (s) => {
  const c = $('conn');
  c.textContent = s === 'open' ? 'live' : 'reconnecting';
  c.classList.toggle('ok', s === 'open');
  if (s === 'open' && state.market) refreshAccountSoon();
});

async function main() {
  $('login').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  $('order-form').addEventListener('submit', placeOrder);
  $('order-form').addEventListener('input', syncFormFields);
  $('order-form').addEventListener('change', syncFormFields);
  $('market').addEventListener('change', (e) => selectMarket(e.target.value));
  $('sim-run').addEventListener('change', (e) => openSim(e.target.value));
  const pick = (e) => {
    const tr = e.target.closest('tr[data-price]');
    if (!tr) return;
    if (e.type === 'keydown' && e.key !== 'Enter') return;
    $('o-price').value = tr.getAttribute('data-price');
    updatePreview();
  };
  $('ladder').addEventListener('click', pick);
  $('ladder').addEventListener('keydown', pick);
  window.addEventListener('hashchange', route);
  window.addEventListener('resize', debounce(renderBook, 100));
  stream.subscribe('liquidations');
  stream.subscribe('journal');
  await loadMarkets();
  const first = [...state.markets.keys()][0];
  if (first) await selectMarket(first);
  syncFormFields();
  route();
  setInterval(() => refreshTicker(), 5000);
  setInterval(riskTick, 2000);
  document.body.dataset.ready = 'true';
}

main().catch((e) => say('login-status', `console failed to start: ${errorText(e)}`, false));
