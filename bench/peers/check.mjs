// Compares a peer's result rows with Weir's for one benchmark metric; scripts/bench-peers runs it
// before a peer's time is counted. Both files are NDJSON rows in Weir's result shape
// (`weir query`): window_start, window_end (ISO-8601 strings or epoch milliseconds), group keys,
// values; rows with a "metric" field other than METRIC are ignored, and so are fields the metric
// does not define (revision, final, …).
//
// Usage: node bench/peers/check.mjs METRIC REFERENCE.ndjson CANDIDATE.ndjson [--approx-tol X]
//   METRIC: revenue_per_minute | top_products | unique_users_per_hour
//   --approx-tol: relative tolerance of the candidate's approximate distinct count (default 0.05)
// Prints "ok …" and exits 0 when the results agree, else "MISMATCH …" with the first differences
// and exits 1.
//
// Rules (bench/peers/README.md):
//   revenue_per_minute     same (window, currency) rows; count exact; total_revenue and
//                          avg_order_value within 1e-9 relative (summation order differs)
//   top_products           per window the same number of rows and the same views, in order; the
//                          products above the window's 10th view count identical; products tied
//                          at that count may differ (which of them make the cut depends on each
//                          engine's tie order); the summary counts such substitutions
//   unique_users_per_hour  users exact; users_approx within 5% of the exact count (the reference's
//                          too); --approx-tol sets another bound for the candidate, for an engine
//                          whose sketch is smaller (DuckDB's approx_count_distinct: 64 registers)
import { readFileSync } from 'node:fs';

const REL_TOL = 1e-9;
const APPROX_TOL = 0.05;
let candApproxTol = APPROX_TOL;
let worstApprox = 0;
const LIMIT = 10;

const METRICS = {
  revenue_per_minute: { keys: ['currency'], exact: ['count'], float: ['total_revenue', 'avg_order_value'] },
  top_products: { top: { item: 'product_id', by: 'views', limit: LIMIT } },
  unique_users_per_hour: { keys: [], exact: ['users'], approx: { users_approx: 'users' } },
};

function usage() {
  console.error('usage: node check.mjs METRIC REFERENCE.ndjson CANDIDATE.ndjson [--approx-tol X]');
  console.error(`  METRIC: ${Object.keys(METRICS).join(' | ')}`);
  process.exit(2);
}

function toMs(v) {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const ms = Date.parse(v);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new Error(`bad window bound ${JSON.stringify(v)}`);
}

function iso(ms) {
  return new Date(ms).toISOString();
}

function load(path, metric) {
  const rows = [];
  const text = readFileSync(path, 'utf8');
  let line = 0;
  for (const raw of text.split('\n')) {
    line++;
    if (raw.trim() === '') continue;
    let row;
    try {
      row = JSON.parse(raw);
    } catch (e) {
      throw new Error(`${path}:${line}: not JSON: ${e.message}`);
    }
    if (row.metric !== undefined && row.metric !== metric) continue;
    row.__start = toMs(row.window_start);
    row.__end = toMs(row.window_end);
    rows.push(row);
  }
  return rows;
}

function num(v) {
  return typeof v === 'string' ? Number(v) : v;
}

function close(a, b) {
  a = num(a);
  b = num(b);
  if (typeof a !== 'number' || typeof b !== 'number' || Number.isNaN(a) || Number.isNaN(b)) return false;
  const diff = Math.abs(a - b);
  return diff <= REL_TOL * Math.max(Math.abs(a), Math.abs(b)) || diff <= REL_TOL;
}

function windowKey(r) {
  return `${iso(r.__start)}..${iso(r.__end)}`;
}

// A value the rules compare must be there, and be a number (or a string holding one), in both
// files: a field missing on both sides must not pass as "equal".
function isNum(v) {
  v = num(v);
  return typeof v === 'number' && !Number.isNaN(v);
}

function checkFields(fields, rows, which, problems) {
  let missing = 0;
  for (const r of rows)
    for (const f of fields)
      if (!isNum(r[f])) {
        if (missing++ < 3) problems.push(`${which} row ${windowKey(r)}: ${f} is ${JSON.stringify(r[f])}, not a number`);
      }
  if (missing > 3) problems.push(`${which}: ${missing - 3} more rows without a numeric field`);
}

function checkKeyed(spec, ref, cand, problems) {
  const key = (r) => [windowKey(r), ...spec.keys.map((k) => String(r[k]))].join(' ');
  const fields = [...(spec.exact ?? []), ...(spec.float ?? []), ...Object.keys(spec.approx ?? {})];
  checkFields(fields, ref, 'reference', problems);
  checkFields(fields, cand, 'candidate', problems);
  for (const k of spec.keys) {
    if (ref.some((r) => r[k] === undefined)) problems.push(`reference rows without group key ${k}`);
    if (cand.some((r) => r[k] === undefined)) problems.push(`candidate rows without group key ${k}`);
  }
  const index = new Map();
  for (const r of cand) {
    const k = key(r);
    if (index.has(k)) problems.push(`duplicate candidate row ${k}`);
    index.set(k, r);
  }
  const seen = new Set();
  for (const r of ref) {
    const k = key(r);
    if (seen.has(k)) problems.push(`duplicate reference row ${k}`);
    seen.add(k);
    // The reference's own sketch is held to the same tolerance as the candidate's.
    for (const [f, exactField] of Object.entries(spec.approx ?? {})) {
      const truth = num(r[exactField]);
      if (Math.abs(num(r[f]) - truth) > APPROX_TOL * truth)
        problems.push(`reference ${k}: ${f} ${r[f]} not within ${APPROX_TOL * 100}% of ${exactField} ${truth}`);
    }
    const c = index.get(k);
    if (!c) {
      problems.push(`missing row ${k}`);
      continue;
    }
    for (const f of spec.exact ?? [])
      if (num(c[f]) !== num(r[f])) problems.push(`${k}: ${f} ${c[f]} != ${r[f]}`);
    for (const f of spec.float ?? [])
      if (!close(c[f], r[f])) problems.push(`${k}: ${f} ${c[f]} != ${r[f]} (beyond ${REL_TOL} relative)`);
    for (const [f, exactField] of Object.entries(spec.approx ?? {})) {
      const truth = num(r[exactField]);
      const got = num(c[f]);
      if (typeof got !== 'number' || Math.abs(got - truth) > candApproxTol * truth)
        problems.push(`${k}: ${f} ${c[f]} not within ${candApproxTol * 100}% of ${exactField} ${truth}`);
      else worstApprox = Math.max(worstApprox, Math.abs(got - truth) / truth);
    }
  }
  for (const k of index.keys()) if (!seen.has(k)) problems.push(`extra row ${k}`);
  return {};
}

function checkTop(spec, ref, cand, problems) {
  const { item, by, limit } = spec.top;
  const group = (rows) => {
    const m = new Map();
    for (const r of rows) {
      const k = windowKey(r);
      if (!m.has(k)) m.set(k, []);
      m.get(k).push({ item: String(r[item]), n: num(r[by]) });
    }
    return m;
  };
  checkFields([by], ref, 'reference', problems);
  checkFields([by], cand, 'candidate', problems);
  if (ref.some((r) => r[item] === undefined)) problems.push(`reference rows without ${item}`);
  if (cand.some((r) => r[item] === undefined)) problems.push(`candidate rows without ${item}`);
  const R = group(ref);
  const C = group(cand);
  for (const [w, rs] of R) {
    if (rs.length > limit) problems.push(`reference ${w}: ${rs.length} rows, more than ${limit}`);
    if (new Set(rs.map((x) => x.item)).size !== rs.length) problems.push(`reference ${w}: duplicate ${item}`);
  }
  let substituted = 0;
  for (const [w, rs] of R) {
    const cs = C.get(w);
    if (!cs) {
      problems.push(`missing window ${w}`);
      continue;
    }
    if (cs.length !== rs.length) {
      problems.push(`${w}: ${cs.length} rows, expected ${rs.length}`);
      continue;
    }
    if (new Set(cs.map((x) => x.item)).size !== cs.length) problems.push(`${w}: duplicate ${item}`);
    const rv = rs.map((x) => x.n).sort((a, b) => b - a);
    const cv = cs.map((x) => x.n).sort((a, b) => b - a);
    if (rv.join(',') !== cv.join(',')) {
      problems.push(`${w}: ${by} [${cv}] != [${rv}]`);
      continue;
    }
    // With fewer rows than the limit every group is shown: nothing may differ. Otherwise the
    // groups tied at the smallest count shown are interchangeable.
    const cut = rs.length < limit ? -Infinity : rv[rv.length - 1];
    const rAbove = new Map(rs.filter((x) => x.n > cut).map((x) => [x.item, x.n]));
    for (const x of cs) {
      if (x.n > cut && rAbove.get(x.item) !== x.n)
        problems.push(`${w}: ${item} ${x.item} with ${x.n} ${by} is not in the reference with that count`);
    }
    const rTied = new Set(rs.filter((x) => x.n === cut).map((x) => x.item));
    for (const x of cs) if (x.n === cut && !rTied.has(x.item)) substituted++;
  }
  for (const w of C.keys()) if (!R.has(w)) problems.push(`extra window ${w}`);
  return { substituted, windows: R.size };
}

function main() {
  const argv = process.argv.slice(2);
  const tolAt = argv.indexOf('--approx-tol');
  if (tolAt >= 0) {
    candApproxTol = Number(argv[tolAt + 1]);
    if (!(candApproxTol >= 0)) usage();
    argv.splice(tolAt, 2);
  }
  const [metric, refPath, candPath] = argv;
  if (!metric || !refPath || !candPath || argv.length !== 3 || !METRICS[metric]) usage();
  const spec = METRICS[metric];
  const ref = load(refPath, metric);
  const cand = load(candPath, metric);
  const problems = [];
  if (ref.length === 0) problems.push(`reference ${refPath} has no ${metric} rows`);
  const info = spec.top ? checkTop(spec, ref, cand, problems) : checkKeyed(spec, ref, cand, problems);
  if (problems.length) {
    console.log(`MISMATCH ${metric}: ${candPath} vs ${refPath}: ${problems.length} problem(s)`);
    for (const p of problems.slice(0, 10)) console.log(`  ${p}`);
    if (problems.length > 10) console.log(`  … ${problems.length - 10} more`);
    process.exit(1);
  }
  let note = '';
  if (spec.top) note = `, ${info.windows} windows, ${info.substituted} product(s) swapped among ties at a window's cut`;
  if (spec.approx) note = `, approximate counts off by at most ${(worstApprox * 100).toFixed(2)}% (bound ${candApproxTol * 100}%)`;
  console.log(`ok ${metric}: ${cand.length} rows match${note}`);
}

try {
  main();
} catch (e) {
  console.log(`MISMATCH: ${e.message}`);
  process.exit(1);
}
