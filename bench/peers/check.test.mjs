// Tests of the result checker (check.mjs): it must pass equal results in the shapes the engines
// write and fail every kind of difference its rules forbid.
//
// Usage: node --test bench/peers/check.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CHECK = join(dirname(fileURLToPath(import.meta.url)), 'check.mjs');
const dir = mkdtempSync(join(tmpdir(), 'weir-check-test-'));
let n = 0;

function file(rows) {
  const path = join(dir, `${n++}.ndjson`);
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return path;
}

function check(metric, ref, cand, ...extra) {
  const r = spawnSync(process.execPath, [CHECK, metric, file(ref), file(cand), ...extra], { encoding: 'utf8' });
  return { ok: r.status === 0, out: r.stdout + r.stderr };
}

const T0 = Date.parse('2026-02-16T10:30:00.000Z');
const iso = (ms) => new Date(ms).toISOString();

// Weir's rows: ISO bounds, metric, revision and final.
const q1Ref = [
  { metric: 'revenue_per_minute', window_start: iso(T0), window_end: iso(T0 + 60000), currency: 'EUR', count: 3, total_revenue: 30.3, avg_order_value: 10.1, revision: 1, final: true },
  { metric: 'revenue_per_minute', window_start: iso(T0), window_end: iso(T0 + 60000), currency: 'USD', count: 1, total_revenue: 2.99, avg_order_value: 2.99, revision: 1, final: true },
];
// A peer's rows: epoch-ms bounds, no metric.
const q1Peer = () => q1Ref.map(({ metric, revision, final, ...r }) => ({ ...r, window_start: T0, window_end: T0 + 60000 }));

test('revenue_per_minute: equal rows in another shape pass', () => {
  assert.ok(check('revenue_per_minute', q1Ref, q1Peer()).ok);
});

test('revenue_per_minute: every kind of difference fails', () => {
  const cases = {
    count: (rows) => { rows[0].count = 4; },
    sum: (rows) => { rows[0].total_revenue = 30.3 * (1 + 1e-6); },
    avg: (rows) => { rows[1].avg_order_value = 3; },
    missingRow: (rows) => { rows.pop(); },
    extraRow: (rows) => { rows.push({ ...rows[0], currency: 'GBP' }); },
    duplicateRow: (rows) => { rows.push({ ...rows[0] }); },
    window: (rows) => { rows[0].window_start += 60000; rows[0].window_end += 60000; },
    missingField: (rows) => { delete rows[0].count; },
    missingKey: (rows) => { delete rows[0].currency; },
  };
  for (const [name, change] of Object.entries(cases)) {
    const rows = q1Peer();
    change(rows);
    assert.ok(!check('revenue_per_minute', q1Ref, rows).ok, name);
  }
});

test('revenue_per_minute: a field missing on both sides fails', () => {
  const ref = q1Ref.map(({ count, ...r }) => r);
  assert.ok(!check('revenue_per_minute', ref, ref).ok);
});

test('revenue_per_minute: summation-order differences within 1e-9 pass', () => {
  const rows = q1Peer();
  rows[0].total_revenue = 30.300000000000004;
  assert.ok(check('revenue_per_minute', q1Ref, rows).ok);
});

test('an empty reference fails', () => {
  assert.ok(!check('revenue_per_minute', [{ metric: 'top_products', window_start: T0, window_end: T0 + 1 }], q1Peer()).ok);
});

// Top 10 of one window: views 20, 19, …, 12, then three products tied at 11 (two of them shown).
const W = { window_start: iso(T0), window_end: iso(T0 + 300000) };
const top = (ids) => ids.map(([p, v]) => ({ metric: 'top_products', ...W, product_id: p, views: v }));
const ranked = Array.from({ length: 9 }, (_, i) => [`p${i}`, 20 - i]);
const q2Ref = top([...ranked, ['tieA', 11]]);

test('top_products: the same rows pass; a swap among ties at the cut passes and is counted', () => {
  assert.ok(check('top_products', q2Ref, q2Ref).ok);
  const r = check('top_products', q2Ref, top([...ranked, ['tieB', 11]]));
  assert.ok(r.ok, r.out);
  assert.match(r.out, /1 product\(s\) swapped/);
});

test('top_products: differences above the cut fail', () => {
  const cases = {
    views: top([...ranked.slice(0, 8), ['p8', 13], ['tieA', 11]]),
    product: top([['other', 20], ...ranked.slice(1), ['tieA', 11]]),
    order: top([...ranked.slice(0, 8), ['tieA', 12], ['p8', 11]]),
    fewer: top(ranked),
    duplicate: top([...ranked, ['p0', 11]]),
    window: q2Ref.map((r) => ({ ...r, window_start: iso(T0 + 60000), window_end: iso(T0 + 360000) })),
  };
  for (const [name, rows] of Object.entries(cases)) assert.ok(!check('top_products', q2Ref, rows).ok, name);
});

test('top_products: with fewer rows than the limit nothing may differ', () => {
  const ref = top([['a', 2], ['b', 1]]);
  assert.ok(!check('top_products', ref, top([['a', 2], ['c', 1]])).ok);
});

const q3Ref = [{ metric: 'unique_users_per_hour', window_start: iso(T0), window_end: iso(T0 + 3600000), users: 1000, users_approx: 1010 }];

test('unique_users_per_hour: exact must match, approximate within 5% of the exact count', () => {
  const peer = (users, approx) => [{ window_start: T0, window_end: T0 + 3600000, users, users_approx: approx }];
  assert.ok(check('unique_users_per_hour', q3Ref, peer(1000, 960)).ok);
  assert.ok(!check('unique_users_per_hour', q3Ref, peer(1001, 1000)).ok);
  assert.ok(!check('unique_users_per_hour', q3Ref, peer(1000, 1051)).ok);
  assert.ok(!check('unique_users_per_hour', q3Ref, peer(1000, undefined)).ok);
});

test('unique_users_per_hour: --approx-tol loosens the bound for the candidate only', () => {
  const peer = [{ window_start: T0, window_end: T0 + 3600000, users: 1000, users_approx: 1300 }];
  assert.ok(!check('unique_users_per_hour', q3Ref, peer).ok);
  assert.ok(check('unique_users_per_hour', q3Ref, peer, '--approx-tol', '0.39').ok);
  assert.ok(!check('unique_users_per_hour', q3Ref, [{ ...peer[0], users: 999 }], '--approx-tol', '0.39').ok);
  const badRef = [{ ...q3Ref[0], users_approx: 1300 }];
  assert.ok(!check('unique_users_per_hour', badRef, badRef, '--approx-tol', '0.39').ok);
});

test("unique_users_per_hour: the reference's own estimate is held to 5% too", () => {
  const ref = [{ ...q3Ref[0], users_approx: 1200 }];
  assert.ok(!check('unique_users_per_hour', ref, ref).ok);
});

test('rows of other metrics in a Q4 file are ignored', () => {
  const both = [...q1Ref, ...q3Ref];
  assert.ok(check('unique_users_per_hour', both, q3Ref).ok);
  assert.ok(check('revenue_per_minute', both, q1Peer()).ok);
});
