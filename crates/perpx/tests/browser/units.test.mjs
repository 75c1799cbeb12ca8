// Unit tests of the console's pure modules (no browser): exact decimals and the newest-events
// pager. Run with the browser test by crates/perpx/tests/console.rs, or `node --test units.test.mjs`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as D from '../../../perpx-server/console/decimal.js';
import { recentEvents } from '../../../perpx-server/console/api.js';

test('decimals are exact and rounded half away from zero', () => {
  assert.equal(D.format(D.mul(D.parse('86000.5'), D.parse('0.010')), 6), '860.005000');
  assert.equal(D.format(D.add(D.parse('0.1'), D.parse('0.2')), 1), '0.3', 'not 0.30000000000000004');
  assert.equal(D.format(D.div(D.parse('1'), D.parse('3'), 4), 4), '0.3333');
  assert.equal(D.format(D.div(D.parse('-2'), D.parse('3'), 2), 2), '-0.67');
  assert.equal(D.fmt('0.005', 2), '0.01');
  assert.equal(D.fmt('-0.005', 2), '-0.01');
  assert.equal(D.fmt('-0.004', 2), '0.00', 'no negative zero');
  assert.equal(D.fmt('1234567.5', 2, true), '1,234,567.50');
  assert.equal(D.fmt(null, 2), '—');
  assert.equal(D.format(D.floorTo(D.parse('-1.25'), D.parse('0.1')), 1), '-1.3');
  assert.equal(D.decimalsOf('0.001'), 3);
  assert.equal(D.div(D.parse('1'), D.parse('0'), 2), null);
  assert.equal(D.cmp(D.parse('2.50'), D.parse('2.5')), 0);
  assert.throws(() => D.parse('1e5'));
  // Beyond 2^53: still exact.
  assert.equal(D.format(D.mul(D.parse('123456789012.345678'), D.parse('1000')), 6), '123456789012345.678000');
});

/** A fake history list: events at seq 1..n (one each), paged like the API (after-cursor, oldest first). */
function fakeList(n) {
  const calls = [];
  const fetchJson = async (path) => {
    calls.push(path);
    const q = new URL(path, 'http://x').searchParams;
    const limit = Number(q.get('limit') || 100);
    const after = q.get('cursor') ? Number(q.get('cursor').split(':')[0]) : 0;
    const events = [];
    for (let s = after + 1; s <= n && events.length < limit; s++) events.push({ seq: s });
    const full = events.length === limit;
    return { complete_to: n, events, next_cursor: full ? `${events[events.length - 1].seq}:0` : null };
  };
  return { fetchJson, calls };
}

test('the newest events come from a window at the head, not from the start', async () => {
  const { fetchJson, calls } = fakeList(1_000_000);
  const got = await recentEvents(fetchJson, '/api/v1/history/trades?market=BTC-PERP', 30);
  assert.deepEqual(
    got.map((e) => e.seq),
    Array.from({ length: 30 }, (_, i) => 1_000_000 - 29 + i),
  );
  assert.ok(calls.length <= 4, `a few pages, not a thousand: ${calls.length}`);
  assert.ok(calls.every((c) => c.startsWith('/api/v1/history/trades?market=BTC-PERP&limit=')));
});

test('a sparse list widens the window until it has enough, and a short one returns all', async () => {
  const { fetchJson } = fakeList(25);
  assert.deepEqual((await recentEvents(fetchJson, '/api/v1/history/liquidations', 100)).map((e) => e.seq), Array.from({ length: 25 }, (_, i) => i + 1));
  // Sparse: only every 1000th sequence number has an event.
  const sparse = async (path) => {
    const q = new URL(path, 'http://x').searchParams;
    const after = q.get('cursor') ? Number(q.get('cursor').split(':')[0]) : 0;
    const limit = Number(q.get('limit'));
    const events = [];
    for (let s = Math.ceil((after + 1) / 1000) * 1000; s <= 3_000_000 && events.length < limit; s += 1000) events.push({ seq: s });
    return { complete_to: 3_000_000, events, next_cursor: events.length === limit ? `${events[events.length - 1].seq}:0` : null };
  };
  const got = (await recentEvents(sparse, '/api/v1/history/funding', 20)).map((e) => e.seq);
  assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => 3_000_000 - 19_000 + i * 1000));
});
