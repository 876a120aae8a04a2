// What the peer runners (duckdb.mjs, clickhouse.mjs) share: their command line and the window
// sizes of the queries.
import { parseArgs } from 'node:util';

export const MINUTE = 60000;
export const HOUR = 3600000;

// Parses --query (one of `queries`), --threads, --input, --out and the runner's `extra` options;
// prints the usage and exits 2 when one is missing or wrong.
export function peerArgs(script, queries, extra = {}, extraUsage = '') {
  const { values } = parseArgs({
    options: {
      query: { type: 'string' },
      threads: { type: 'string', default: '1' },
      input: { type: 'string' },
      out: { type: 'string' },
      ...extra,
    },
  });
  if (!queries.includes(values.query) || !values.input || !values.out) {
    console.error(`usage: node ${script} --query ${queries.join('|')} --threads N --input EVENTS.ndjson --out ROWS.ndjson${extraUsage}`);
    process.exit(2);
  }
  return values;
}
