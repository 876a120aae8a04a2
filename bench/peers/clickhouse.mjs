// Runs one benchmark query (Q1–Q3 of bench/queries/) in ClickHouse over the NDJSON events file,
// for scripts/bench-peers. Writes the result rows in Weir's result shape (NDJSON: window_start,
// window_end as epoch ms, group keys, values) to --out and prints one JSON line of measurements:
//   {"engine":"clickhouse","query":"q1","threads":1,"wall_s":…,"cpu_s":…,"user_s":…,"sys_s":…,
//    "peak_rss_mb":…,"baseline_rss_mb":…,"rows":…}
//
// Debian 12 ships ClickHouse 18.16 as clickhouse-server only: there is no `clickhouse local`.
// So each run starts a fresh server of its own (loopback, ports --port and --port+1, data in a
// temporary directory), sends the query over HTTP and stops the server. cpu_s is the server's
// user + system time (/proc/PID/stat, all threads) over the query alone, wall_s the query's
// round trip, peak_rss_mb the server's VmHWM after the query (baseline_rss_mb: before it, i.e.
// the idle server); the server's start-up is left out. As a cross-check the line also carries
// ClickHouse's own accounting of the query from system.query_log: query_log_user_s (the
// UserTimeMicroseconds profile event, user time of the query's threads; 18.16 has no system-time
// event), query_log_wall_s and query_log_memory_mb (its memory tracker's peak).
//
// How the file is read: 18.16's JSONEachRow reads top-level fields only (an object value such as
// "properties" can be skipped but not read), so
//   Q3 (timestamp, user_id: top level) reads the file with JSONEachRow;
//   Q1, Q2 (properties.amount/currency/product_id) read each line as one String (TabSeparated,
//     one column) and take fields with visitParamExtract*, ClickHouse's fast path for JSON in
//     strings before JSONExtract existed. It scans for "name": rather than parsing, which is
//     correct for this data (no field name repeats inside an event) but does not validate JSON.
// Timestamps go through parseDateTimeBestEffort (second precision, which is exact for minute and
// hour windows).
//
// Usage: node bench/peers/clickhouse.mjs --query q1 --threads 1 --input events.ndjson --out rows.ndjson [--port 18723]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HOUR, MINUTE, peerArgs } from './peer_args.mjs';

const SERVER = '/usr/sbin/clickhouse-server';

const args = peerArgs('clickhouse.mjs', ['q1', 'q2', 'q3'], { port: { type: 'string', default: '18723' } }, ' [--port P]');
const port = Number(args.port);

const LINES = `file('events.ndjson', 'TabSeparated', 'line String')`;
const JSON_ROWS = (columns) => `file('events.ndjson', 'JSONEachRow', '${columns}')`;
const ms = (dt) => `toUInt64(toUnixTimestamp(${dt})) * 1000`;

const QUERIES = {
  q1: `
    SELECT ${ms('ws')} AS window_start, window_start + ${MINUTE} AS window_end, currency,
           count() AS count, sum(amount) AS total_revenue, avg(amount) AS avg_order_value
    FROM (
      SELECT toStartOfMinute(parseDateTimeBestEffort(visitParamExtractString(line, 'timestamp'))) AS ws,
             visitParamExtractString(line, 'currency') AS currency,
             visitParamExtractFloat(line, 'amount') AS amount
      FROM ${LINES}
      WHERE visitParamExtractString(line, 'event_type') = 'purchase_completed')
    GROUP BY ws, currency ORDER BY ws, currency`,
  // Views per 1-minute pane, each pane added to the five 5-minute windows holding it, then the
  // 10 most viewed per window (LIMIT BY: 18.16 has no window functions).
  q2: `
    SELECT (w * 60) * 1000 AS window_start, window_start + ${5 * MINUTE} AS window_end, product_id, views
    FROM (
      SELECT m - k AS w, product_id, sum(c) AS views
      FROM (
        SELECT intDiv(toUInt32(parseDateTimeBestEffort(visitParamExtractString(line, 'timestamp'))), 60) AS m,
               visitParamExtractString(line, 'product_id') AS product_id, count() AS c
        FROM ${LINES}
        WHERE visitParamExtractString(line, 'event_type') = 'product_view'
        GROUP BY m, product_id)
      ARRAY JOIN range(5) AS k
      GROUP BY w, product_id)
    ORDER BY w, views DESC LIMIT 10 BY w`,
  q3: `
    SELECT ${ms('ws')} AS window_start, window_start + ${HOUR} AS window_end,
           uniqExact(user_id) AS users, uniq(user_id) AS users_approx
    FROM (SELECT toStartOfHour(parseDateTimeBestEffort(timestamp)) AS ws, user_id
          FROM ${JSON_ROWS('timestamp String, user_id String')})
    GROUP BY ws ORDER BY ws`,
};

function config(dir) {
  return `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/server.log</log><errorlog>${dir}/server.err.log</errorlog></logger>
  <http_port>${port}</http_port>
  <tcp_port>${port + 1}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <users_config>/etc/clickhouse-server/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>104857600</mark_cache_size>
  <timezone>UTC</timezone>
  <query_log><database>system</database><table>query_log</table><flush_interval_milliseconds>60000</flush_interval_milliseconds></query_log>
</yandex>
`;
}

// utime + stime of the whole process (every thread), in seconds.
function cpuTimes(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const tick = 100;  // USER_HZ on Linux
  return { user: Number(fields[11]) / tick, sys: Number(fields[12]) / tick };
}

function peakRssMb(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function http(sql, settings) {
  const params = new URLSearchParams(settings);
  const res = await fetch(`http://127.0.0.1:${port}/?${params}`, { method: 'POST', body: sql });
  const text = await res.text();
  if (!res.ok) throw new Error(`ClickHouse: ${text.trim()}`);
  return text;
}

const dir = mkdtempSync(join(tmpdir(), 'weir-peers-ch-'));
for (const d of ['data', 'tmp', 'user_files']) mkdirSync(join(dir, d));
symlinkSync(resolve(args.input), join(dir, 'user_files', 'events.ndjson'));
writeFileSync(join(dir, 'config.xml'), config(dir));
const server = spawn(SERVER, [`--config-file=${join(dir, 'config.xml')}`], { stdio: ['ignore', 'ignore', 'pipe'] });
let serverErr = '';
server.stderr.on('data', (b) => (serverErr += b));
let exited = false;
server.on('exit', () => (exited = true));

let status = 0;
try {
  for (let i = 0; ; i++) {
    if (exited) throw new Error(`clickhouse-server exited: ${serverErr}`);
    try {
      if ((await (await fetch(`http://127.0.0.1:${port}/ping`)).text()).startsWith('Ok')) break;
    } catch {
      // not listening yet
    }
    if (i > 300) throw new Error('clickhouse-server did not start within 30 s');
    await sleep(100);
  }
  const settings = {
    max_threads: String(Number(args.threads)),
    input_format_skip_unknown_fields: '1',
    output_format_json_quote_64bit_integers: '0',
    log_queries: '1',
    query_id: `bench-${args.query}`,
  };
  const baseline = peakRssMb(server.pid);
  const c0 = cpuTimes(server.pid);
  const t0 = process.hrtime.bigint();
  const text = await http(`${QUERIES[args.query]} FORMAT JSONEachRow`, settings);
  const t1 = process.hrtime.bigint();
  const c1 = cpuTimes(server.pid);
  const peak = peakRssMb(server.pid);
  writeFileSync(args.out, text);
  const user = c1.user - c0.user;
  const sys = c1.sys - c0.sys;
  await http('SYSTEM FLUSH LOGS', {});
  const [qUser, qWall, qMem] = (
    await http(
      `SELECT ProfileEvents.Values[indexOf(ProfileEvents.Names, 'UserTimeMicroseconds')] / 1e6,
              query_duration_ms / 1e3, memory_usage / 1048576
       FROM system.query_log WHERE type = 2 AND query_id = '${settings.query_id}' FORMAT TSV`,
      {},
    )
  )
    .trim()
    .split('\t')
    .map(Number);
  console.log(
    JSON.stringify({
      engine: 'clickhouse',
      query: args.query,
      threads: Number(args.threads),
      wall_s: Number(t1 - t0) / 1e9,
      cpu_s: user + sys,
      user_s: user,
      sys_s: sys,
      peak_rss_mb: peak,
      baseline_rss_mb: baseline,
      query_log_user_s: qUser,
      query_log_wall_s: qWall,
      query_log_memory_mb: qMem,
      rows: text.split('\n').filter((l) => l.trim() !== '').length,
    }),
  );
} catch (e) {
  console.error(e.message);
  status = 1;
} finally {
  server.kill('SIGTERM');
  for (let i = 0; i < 100 && !exited; i++) await sleep(100);
  if (!exited) server.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
process.exit(status);
