// Runs one benchmark query (Q1–Q4 of bench/queries/) in DuckDB over the NDJSON events file with
// read_ndjson, for scripts/bench-peers. Writes the result rows in Weir's result shape (NDJSON:
// window_start, window_end, group keys, values; Q4's rows carry "metric") to --out, and prints
// one JSON line of measurements to stdout:
//   {"engine":"duckdb","query":"q1","threads":1,"wall_s":…,"cpu_s":…,"user_s":…,"sys_s":…,
//    "peak_rss_mb":…,"baseline_rss_mb":…,"rows":…}
// wall_s and cpu_s (process.cpuUsage: every thread of the process) run from creating the DuckDB
// instance to having every result row in JavaScript; node's own start-up is left out.
// peak_rss_mb is process.resourceUsage().maxRSS, which includes node itself (baseline_rss_mb,
// measured before DuckDB starts). scripts/bench-peers reports the whole node process instead
// (/usr/bin/time, as for Weir); these in-process figures go to its log.
//
// `--query noop` creates the instance and runs `SELECT 1` and nothing else: the start-up cost of
// node with DuckDB that the whole-process figures include.
//
// Usage: node bench/peers/duckdb.mjs --query q1 --threads 1 --input events.ndjson --out rows.ndjson
import { writeFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { HOUR, MINUTE, peerArgs } from './peer_args.mjs';

const args = peerArgs('duckdb.mjs', ['q1', 'q2', 'q3', 'q4', 'noop']);

// Only the fields a query needs are declared: DuckDB's JSON reader then skips the rest of each
// object, and no time goes into sampling the file to infer a schema.
function source(fields) {
  const path = args.input.replaceAll("'", "''");
  return `read_ndjson('${path}', format = 'newline_delimited', columns = {${fields}})`;
}

const Q1 = (from) => `
  SELECT (epoch_ms(ts) // ${MINUTE}) * ${MINUTE} AS ws, currency,
         count(*) AS count, sum(amount) AS total_revenue, avg(amount) AS avg_order_value
  FROM ${from} WHERE event_type = 'purchase_completed'
  GROUP BY ALL ORDER BY ws, currency`;

// Views are counted per 1-minute pane first, then each pane is added to the five 5-minute windows
// that hold it (the way one writes a sliding window in SQL without multiplying the input by 5).
const Q2 = (from) => `
  WITH panes AS (
    SELECT epoch_ms(ts) // ${MINUTE} AS m, product_id, count(*) AS c
    FROM ${from} WHERE event_type = 'product_view' GROUP BY ALL),
  windows AS (
    SELECT m - k AS w, product_id, sum(c)::BIGINT AS views
    FROM panes CROSS JOIN range(5) AS r(k) GROUP BY ALL)
  SELECT w * ${MINUTE} AS ws, product_id, views FROM windows
  QUALIFY row_number() OVER (PARTITION BY w ORDER BY views DESC) <= 10
  ORDER BY ws, views DESC`;

const Q3 = (from) => `
  SELECT (epoch_ms(ts) // ${HOUR}) * ${HOUR} AS ws,
         count(DISTINCT user_id) AS users, approx_count_distinct(user_id) AS users_approx
  FROM ${from} GROUP BY ALL ORDER BY ws`;

// Each query's own projection of the file (renaming timestamp to ts, flattening properties).
const q1From = `(SELECT event_type, "timestamp" AS ts, properties.amount AS amount, properties.currency AS currency
  FROM ${source(`event_type: 'VARCHAR', timestamp: 'TIMESTAMP', properties: 'STRUCT(amount DOUBLE, currency VARCHAR)'`)})`;
const q2From = `(SELECT event_type, "timestamp" AS ts, properties.product_id AS product_id
  FROM ${source(`event_type: 'VARCHAR', timestamp: 'TIMESTAMP', properties: 'STRUCT(product_id VARCHAR)'`)})`;
const q3From = `(SELECT "timestamp" AS ts, user_id FROM ${source(`timestamp: 'TIMESTAMP', user_id: 'VARCHAR'`)})`;
// Q4 reads the file once into a table of the columns all three need, then runs the three queries.
const q4Load = `CREATE TEMP TABLE ev AS
  SELECT event_type, "timestamp" AS ts, user_id, properties.product_id AS product_id,
         properties.amount AS amount, properties.currency AS currency
  FROM ${source(`event_type: 'VARCHAR', timestamp: 'TIMESTAMP', user_id: 'VARCHAR',
                 properties: 'STRUCT(product_id VARCHAR, amount DOUBLE, currency VARCHAR)'`)}`;

const METRICS = {
  q1: { metric: 'revenue_per_minute', sql: Q1, from: q1From, size: MINUTE },
  q2: { metric: 'top_products', sql: Q2, from: q2From, size: 5 * MINUTE },
  q3: { metric: 'unique_users_per_hour', sql: Q3, from: q3From, size: HOUR },
};

function plain(v) {
  return typeof v === 'bigint' ? Number(v) : v;
}

function toRows(reader, m, withMetric) {
  const out = [];
  for (const r of reader.getRowObjects()) {
    const ws = Number(r.ws);
    const row = withMetric ? { metric: m.metric } : {};
    row.window_start = new Date(ws).toISOString();
    row.window_end = new Date(ws + m.size).toISOString();
    for (const [k, v] of Object.entries(r)) if (k !== 'ws') row[k] = plain(v);
    out.push(row);
  }
  return out;
}

const baselineRss = process.resourceUsage().maxRSS;
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();

const instance = await DuckDBInstance.create(':memory:');
const con = await instance.connect();
await con.run(`SET threads = ${Number(args.threads)}`);
// Results are compared row by row with Weir's; the order DuckDB reads rows in must not matter.
await con.run('SET preserve_insertion_order = false');
let rows = [];
if (args.query === 'noop') {
  await con.runAndReadAll('SELECT 1');
} else if (args.query === 'q4') {
  await con.run(q4Load);
  for (const q of ['q1', 'q2', 'q3']) rows.push(...toRows(await con.runAndReadAll(METRICS[q].sql('ev')), METRICS[q], true));
} else {
  const m = METRICS[args.query];
  rows = toRows(await con.runAndReadAll(m.sql(m.from)), m, false);
}

const t1 = process.hrtime.bigint();
const cpu = process.cpuUsage(cpu0);
const peakRss = process.resourceUsage().maxRSS;
writeFileSync(args.out, rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
console.log(
  JSON.stringify({
    engine: 'duckdb',
    query: args.query,
    threads: Number(args.threads),
    wall_s: Number(t1 - t0) / 1e9,
    cpu_s: (cpu.user + cpu.system) / 1e6,
    user_s: cpu.user / 1e6,
    sys_s: cpu.system / 1e6,
    peak_rss_mb: peakRss / 1024,
    baseline_rss_mb: baselineRss / 1024,
    rows: rows.length,
  }),
);
