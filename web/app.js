// Weir dashboard. Plain JS, no build step beyond copying (scripts/build-web).
//
//   GET /api/v1/metrics          the metrics: group keys, values, window size, top-N or not
//   GET /api/v1/status           polled every 2 s: sources, partitions, watermarks, why windows wait
//   GET /api/v1/stream           SSE: a snapshot per metric, then every result row as it is emitted
//   GET /api/v1/metrics/{id}     history for the selected time range (re-aggregated when long)
//
// Result rows are kept per metric as upserts by (window, group keys); a row with a lower
// revision never replaces a newer one, so history queries and live updates can race safely.

const STATUS_EVERY_MS = 2000;
const COARSE_REFRESH_MS = 15000;
const MAX_SERIES = 8;
const MAX_POINTS = 180;
const CURRENT_ROWS = 12;
const TABLE_ROWS = 25;
const COLORS = ['#4fb3ff', '#3ecf8e', '#f2b84b', '#ff6b6b', '#b48cff', '#4dd6d0', '#ff9f5a', '#e86bb5'];
const RANGES = { '15m': 15 * 60e3, '1h': 3600e3, '6h': 6 * 3600e3, '24h': 24 * 3600e3, '7d': 7 * 86400e3 };
const WINDOW_STEPS = ['1m', '5m', '15m', '30m', '1h', '3h', '6h', '12h', '1d'];

const S = {
  metrics: new Map(),   // id -> metric state (see addMetric)
  range: '15m',
  end: null,            // null: follow now; else a fixed end (ms)
  updates: 0,
  snapshots: 0,
  status: null,
  prevStatus: null,
  rates: new Map(),     // source id -> events/s
  es: null,
  lastEventId: '',
};
window.weirDashboard = S;  // for poking around in the console

// ---------------------------------------------------------------------------------------------
// Formatting

const $ = id => document.getElementById(id);
const esc = s => String(s).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const nf = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
const nf0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const nfc = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

function fmtNum(v) {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') return Math.abs(v) >= 1e15 ? v.toExponential(3) : nf.format(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
const fmtCount = v => (v === null || v === undefined ? '–' : nf0.format(v));
const fmtKey = v => (v === null || v === undefined ? '(null)' : typeof v === 'object' ? JSON.stringify(v) : String(v));

function fmtTime(t) {
  if (t === null || t === undefined) return '–';
  const d = new Date(typeof t === 'number' ? t : Date.parse(t));
  if (isNaN(d)) return String(t);
  const hms = d.toLocaleTimeString('en-GB', { hour12: false });
  if (d.toDateString() === new Date().toDateString()) return hms;
  return d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: d.getFullYear() === new Date().getFullYear() ? undefined : 'numeric' }) + ' ' + hms;
}
// A window's span: "22:36–22:37", or with seconds when they are not zero; the date when not today.
function fmtSpan(start, end) {
  const a = new Date(tms(start)), b = new Date(tms(end));
  const whole = a.getSeconds() === 0 && b.getSeconds() === 0 && a.getMilliseconds() === 0 && b.getMilliseconds() === 0;
  const f = d => d.toLocaleTimeString('en-GB', { hour12: false, hour: '2-digit', minute: '2-digit', second: whole ? undefined : '2-digit' });
  const day = a.toDateString() === new Date().toDateString() ? '' : a.toLocaleDateString('en-GB', { day: 'numeric', month: 'short' }) + ' ';
  return `${day}${f(a)}–${f(b)}`;
}
function fmtDur(ms) {
  if (ms === null || ms === undefined || !isFinite(ms)) return '–';
  const neg = ms < 0 ? '−' : '';
  ms = Math.abs(ms);
  if (ms < 1000) return `${neg}${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${neg}${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${neg}${m} m ${Math.floor(s % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${neg}${h} h ${m % 60} m`;
  return `${neg}${Math.floor(h / 24)} d ${h % 24} h`;
}
function parseDur(text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2]];
}
const tms = t => (t === null || t === undefined ? null : typeof t === 'number' ? t : Date.parse(t));

// ---------------------------------------------------------------------------------------------
// Metric state and rows

function addMetric(info, statusEntry) {
  const windowText = statusEntry?.window ?? (info.windowed ? '' : 'none');
  const kind = (windowText.split(' ')[0] || (info.windowed ? 'tumbling' : 'none')).toLowerCase();
  const m = {
    id: info.id,
    group_by: info.group_by ?? [],
    select: info.select ?? [],
    windowed: info.windowed !== false,
    window_ms: info.window_ms ?? 0,
    top_n: !!info.top_n,
    kind,
    windowText,
    rows: new Map(),
    history: null,       // rows of a re-aggregated or fixed-range query (not merged with live rows)
    historyToken: 0,
    historyAt: 0,
    queryUrl: '',
    note: '',
    value: null,
    rankCounter: 0,
    dirty: true,
    el: null,
    chart: null,
    chartSig: '',
    shown: new Map(),    // cell key -> text shown last (to flash changes)
  };
  m.layout = m.windowed && !m.top_n ? 'series' : 'table';
  m.value = m.select.find(v => /revenue|total|sum|amount/i.test(v)) ?? m.select.find(v => /views|count|clicks|events/i.test(v)) ?? m.select[0] ?? null;
  S.metrics.set(m.id, m);
  return m;
}

// A window is identified by its start, except cumulative windows (one start, a new end every
// `every`), which are kept apart by their end so that the chart shows how they grew. ISO times
// of one length: the keys sort in time order as strings.
const winKey = (m, r) => (!m.windowed ? '' : m.kind === 'cumulative' ? `${r.window_start}/${r.window_end}` : r.window_start);
const rowKey = (m, r) => winKey(m, r) + '\u0001' + m.group_by.map(k => JSON.stringify(r[k] ?? null)).join('\u0001');
const groupLabel = (m, r) => (m.group_by.length ? m.group_by.map(k => fmtKey(r[k])).join(' · ') : 'all');
const groupId = (m, r) => (m.group_by.length ? m.group_by.map(k => `${k}=${fmtKey(r[k])}`).join(',') : 'all');

function upsert(m, row) {
  const k = rowKey(m, row);
  const old = m.rows.get(k);
  if (old && old.revision != null && row.revision != null && old.revision > row.revision) return;
  if (row.deleted) m.rows.delete(k);
  else {
    if (m.top_n && old && row._rank === undefined) row._rank = old._rank;
    m.rows.set(k, row);
  }
}

function dropWindow(m, w) {
  for (const [k, r] of m.rows) if (winKey(m, r) === w) m.rows.delete(k);
}
function latestWindow(m) {
  let latest = null;
  for (const r of m.rows.values()) { const w = winKey(m, r); if (latest === null || w > latest) latest = w; }
  return latest;
}

function rankBySelect(m, rows) {
  const f = m.select[0];
  rows.sort((a, b) => (typeof b[f] === 'number' ? b[f] : -Infinity) - (typeof a[f] === 'number' ? a[f] : -Infinity));
  rows.forEach((r, i) => { r._rank = i; });
}

function onSnapshot(msg) {
  const m = S.metrics.get(msg.metric);
  if (!m) return;
  S.snapshots++;
  m.note = msg.error ? `snapshot failed: ${msg.error}` : '';
  const rows = msg.rows ?? [];
  if (m.layout === 'table') {
    m.rows = new Map();
    if (m.top_n) rankBySelect(m, rows);
    for (const r of rows) upsert(m, r);
  } else {
    for (const w of new Set(rows.map(r => winKey(m, r)))) dropWindow(m, w);
    for (const r of rows) upsert(m, r);
    if (msg.reset) loadHistory(m);  // rows were missed: read them back from the store
  }
  markDirty(m);
}

function onUpdate(msg) {
  const m = S.metrics.get(msg.metric);
  if (!m) return;
  S.updates++;
  const row = msg.row;
  if (msg.replace) {
    dropWindow(m, winKey(m, row));
    m.rankCounter = 0;
  }
  if (m.top_n) row._rank = m.rankCounter++;
  upsert(m, row);
  markDirty(m);
}

// ---------------------------------------------------------------------------------------------
// Live stream (SSE)

function setConn(state, text) {
  const el = $('conn');
  el.className = 'pill ' + state;
  el.textContent = text ?? state;
}

function connect() {
  if (S.es) S.es.close();
  const ids = [...S.metrics.keys()];
  if (!ids.length) { setConn('down', 'no metrics'); return; }
  const es = new EventSource('/api/v1/stream?metrics=' + ids.map(encodeURIComponent).join(','));
  S.es = es;
  setConn('connecting', 'connecting');
  es.onopen = () => setConn('live');
  es.addEventListener('snapshot', ev => { S.lastEventId = ev.lastEventId; onSnapshot(JSON.parse(ev.data)); });
  es.addEventListener('update', ev => { S.lastEventId = ev.lastEventId; onUpdate(JSON.parse(ev.data)); });
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      // The server refused the stream: start over (from snapshots) a little later.
      setConn('down', 'disconnected');
      es.close();
      setTimeout(() => { if (S.es === es) connect(); }, 3000);
    } else {
      setConn('reconnecting');  // EventSource resumes by itself, sending Last-Event-ID
    }
  };
}

// ---------------------------------------------------------------------------------------------
// History (query API) for the selected time range

function rangeBounds() {
  const rangeMs = RANGES[S.range];
  const to = S.end ?? Date.now();
  return { from: to - rangeMs, to, rangeMs };
}

// The window to re-aggregate to so that the range holds at most MAX_POINTS windows, or null to
// read the metric's own rows (which live updates then extend).
function pickWindow(m, rangeMs) {
  if (m.kind !== 'tumbling' || !m.window_ms || rangeMs / m.window_ms <= MAX_POINTS) return null;
  const fits = WINDOW_STEPS.filter(w => parseDur(w) > m.window_ms && parseDur(w) % m.window_ms === 0);
  return fits.find(w => rangeMs / parseDur(w) <= MAX_POINTS) ?? fits[fits.length - 1] ?? null;
}

async function loadHistory(m) {
  if (m.layout !== 'series') return;
  const token = ++m.historyToken;
  const { from, to, rangeMs } = rangeBounds();
  const window = pickWindow(m, rangeMs);
  const p = new URLSearchParams();
  // Sliding and cumulative windows are charted at their end: read those that end in the range.
  const before = m.kind === 'sliding' || m.kind === 'cumulative' ? m.window_ms : 0;
  p.set('start', S.end === null && !before ? '-' + S.range : new Date(from - before).toISOString());
  p.set('end', S.end === null ? 'now' : new Date(to).toISOString());
  if (window) p.set('window', window);
  else { p.set('order', 'desc'); p.set('limit', '20000'); }
  const url = `/api/v1/metrics/${encodeURIComponent(m.id)}?${p}`;
  m.queryUrl = url;
  m.historyAt = Date.now();
  let body;
  try {
    const r = await fetch(url);
    body = await r.json();
    if (!r.ok) throw new Error(body?.error?.message ?? `HTTP ${r.status}`);
  } catch (e) {
    if (token === m.historyToken) { m.note = `query failed: ${e.message}`; markDirty(m); }
    return;
  }
  if (token !== m.historyToken) return;  // a newer range was picked meanwhile
  m.note = body.truncated ? 'history truncated to the newest 20,000 rows' : '';
  m.window = window;
  if (window || S.end !== null) {
    m.history = body.rows;
  } else {
    m.history = null;
    for (const r of body.rows) upsert(m, r);
  }
  markDirty(m);
}

function setRange(range, end) {
  S.range = range;
  S.end = end;
  for (const b of document.querySelectorAll('#range button')) b.classList.toggle('active', b.dataset.range === range);
  const hint = $('range-hint');
  hint.textContent = S.end === null ? 'live' : `until ${fmtTime(S.end)} (fixed)`;
  for (const m of S.metrics.values()) {
    if (m.layout !== 'series') continue;
    m.history = null;
    loadHistory(m);
    markDirty(m);
  }
}

// ---------------------------------------------------------------------------------------------
// Cards

function buildCards() {
  const series = $('series-cards'), tables = $('table-cards');
  for (const m of S.metrics.values()) {
    const card = document.createElement('div');
    card.className = 'card';
    card.id = 'card-' + m.id;
    card.dataset.metric = m.id;
    const by = m.group_by.length ? ' · by ' + m.group_by.join(', ') : '';
    const what = m.windowText || 'no window';
    if (m.layout === 'series') {
      const options = m.select.map(v => `<option value="${esc(v)}"${v === m.value ? ' selected' : ''}>${esc(v)}</option>`).join('');
      card.innerHTML = `
        <div class="card-head"><h3>${esc(m.id)}</h3><span class="sub">${esc(what + by)}</span>
          <div class="links"><select aria-label="value to chart">${options}</select><a class="query" target="_blank" href="#">JSON</a></div></div>
        <div class="chart" data-testid="chart-${esc(m.id)}"></div>
        <div class="chart-note"></div>
        <div class="current"><div class="current-head"></div><table data-testid="current-${esc(m.id)}"></table></div>`;
      card.querySelector('select').addEventListener('change', e => { m.value = e.target.value; m.chartSig = ''; markDirty(m); });
      series.appendChild(card);
    } else {
      card.innerHTML = `
        <div class="card-head"><h3>${esc(m.id)}</h3><span class="sub">${esc((m.top_n ? 'top-N · ' : '') + (m.windowText || 'no window') + by)}</span>
          <div class="links"><a target="_blank" href="/api/v1/metrics/${encodeURIComponent(m.id)}?order=desc&amp;limit=100">JSON</a></div></div>
        <div class="current-head"></div>
        <table data-testid="table-${esc(m.id)}"></table>
        <div class="chart-note"></div>`;
      tables.appendChild(card);
      $('tables-section').hidden = false;
    }
    m.el = card;
  }
  if (!series.children.length) series.innerHTML = '<div class="card empty">no windowed metrics to chart</div>';
}

let renderPending = false;
function markDirty(m) {
  if (m) m.dirty = true;
  if (renderPending) return;
  renderPending = true;
  setTimeout(() => requestAnimationFrame(() => {
    renderPending = false;
    for (const x of S.metrics.values()) if (x.dirty) { x.dirty = false; renderMetric(x); }
    $('kpi-updates').textContent = fmtCount(S.updates);
    $('kpi-updates-detail').textContent = `rows pushed over SSE · ${fmtCount(S.snapshots)} snapshot${S.snapshots === 1 ? '' : 's'}`;
  }), 150);
}

function renderMetric(m) {
  try {
    if (m.layout === 'series') renderSeries(m);
    else renderTable(m);
  } catch (e) {
    console.error('render', m.id, e);
  }
}

const xOf = (m, r) => tms(m.kind === 'tumbling' || m.kind === 'session' || !r.window_end ? r.window_start : r.window_end);

function renderSeries(m) {
  const { from, to } = rangeBounds();
  const slack = Math.max(m.window_ms, 60e3);
  // Keep live rows of the range (and always the latest window, for the table below).
  const latest = latestWindow(m);
  if (!m.history) for (const [k, r] of m.rows) if (xOf(m, r) < from - slack && winKey(m, r) !== latest) m.rows.delete(k);

  const source = m.history ?? [...m.rows.values()];
  const col = m.value;
  const groups = new Map();
  for (const r of source) {
    const x = xOf(m, r);
    if (x === null || x < from - slack || x > to) continue;
    const label = groupLabel(m, r);
    let g = groups.get(label);
    if (!g) groups.set(label, (g = { label, total: 0, points: new Map() }));
    const v = typeof r[col] === 'number' ? r[col] : null;
    g.points.set(x, v);
    g.total += Math.abs(v ?? 0);
  }
  const ranked = [...groups.values()].sort((a, b) => b.total - a.total || a.label.localeCompare(b.label));
  const shown = ranked.slice(0, MAX_SERIES);
  const xs = [...new Set(shown.flatMap(g => [...g.points.keys()]))].sort((a, b) => a - b);
  const data = [xs.map(x => x / 1000), ...shown.map(g => xs.map(x => g.points.get(x) ?? null))];

  const box = m.el.querySelector('.chart');
  if (typeof uPlot === 'undefined') {
    box.innerHTML = '<div class="empty">uPlot is missing: serve web/dist (scripts/build-web)</div>';
  } else {
    const sig = col + '\u0002' + shown.map(g => g.label).join('\u0001');
    if (sig !== m.chartSig || !m.chart) {
      if (m.chart) m.chart.destroy();
      box.innerHTML = '';
      m.chart = new uPlot(chartOptions(m, shown, box), data, box);
      m.chartSig = sig;
    } else {
      m.chart.setData(data);
    }
  }
  const note = [];
  if (ranked.length > shown.length) note.push(`${ranked.length - shown.length} more groups not charted`);
  if (m.window) note.push(`re-aggregated to ${m.window} windows`);
  if (!source.length) note.push('no results in this range yet');
  else if (!m.history && [...m.rows.values()].some(r => winKey(m, r) === latest && r.final === false)) note.push('the last point is the current, partial window');
  if (m.note) note.push(m.note);
  m.el.querySelector('.chart-note').textContent = note.join(' · ');
  m.el.querySelector('a.query').href = m.queryUrl || `/api/v1/metrics/${encodeURIComponent(m.id)}`;

  // The latest window, updated live.
  const rows = latest === null ? [] : [...m.rows.values()].filter(r => winKey(m, r) === latest);
  rows.sort((a, b) => (typeof b[col] === 'number' ? b[col] : -Infinity) - (typeof a[col] === 'number' ? a[col] : -Infinity));
  const head = m.el.querySelector('.current-head');
  if (!rows.length) {
    head.innerHTML = '<span>latest window</span><span class="faint">waiting for the first result</span>';
  } else {
    const r0 = rows[0];
    const allFinal = rows.every(r => r.final !== false);
    const rev = Math.max(...rows.map(r => r.revision ?? 0));
    head.innerHTML = `<span>latest window <b>${esc(fmtSpan(r0.window_start, r0.window_end))}</b></span>
      <span class="tag ${allFinal ? 'final' : 'partial'}">${allFinal ? 'final' : 'partial'}</span>
      <span class="faint">revision ${rev} · ${rows.length} group${rows.length === 1 ? '' : 's'}</span>`;
  }
  m.el.querySelector('.current table').innerHTML = rowsTable(m, rows.slice(0, CURRENT_ROWS), { rank: false }) +
    (rows.length > CURRENT_ROWS ? `<tfoot><tr><td class="faint small" colspan="99">and ${rows.length - CURRENT_ROWS} more</td></tr></tfoot>` : '');
}

function chartOptions(m, shown, box) {
  const axis = {
    stroke: '#8b95a7',
    grid: { stroke: '#222a38', width: 1 },
    ticks: { stroke: '#273042', width: 1 },
    font: '11px system-ui, "DejaVu Sans", sans-serif',
    labelFont: '600 11px system-ui, "DejaVu Sans", sans-serif',
  };
  return {
    width: Math.max(300, box.clientWidth),
    height: 240,
    scales: {
      x: { time: true, range: () => { const { from, to } = rangeBounds(); return [from / 1000, to / 1000]; } },
      y: {
        range: (u, min, max) => {
          if (min === null || max === null || !isFinite(min) || !isFinite(max)) return [0, 1];
          const lo = Math.min(0, min), hi = max > lo ? max : lo + 1;
          return [lo, hi + (hi - lo) * 0.08];
        },
      },
    },
    axes: [
      { ...axis, values: timeTicks, label: (m.kind === 'tumbling' || m.kind === 'session' ? 'window start' : 'window end') + ' (local time)', labelSize: 22 },
      { ...axis, label: m.value, labelSize: 22, size: 56, values: (u, vals) => vals.map(v => nfc.format(v)) },
    ],
    series: [
      // Without the cursor on the chart, the legend shows each series' latest value.
      { label: 'window', value: (u, v, si, idx) => (idx === null ? 'latest' : fmtTime(v * 1000)) },
      ...shown.map((g, i) => {
        const c = COLORS[i % COLORS.length];
        return {
          label: g.label, stroke: c, width: 2, fill: c + '12', spanGaps: true, points: { show: true, size: 5, fill: c },
          value: (u, v, si, idx) => fmtNum(idx === null ? lastValue(u.data[si]) : v),
        };
      }),
    ],
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
  };
}

function lastValue(ys) {
  for (let i = (ys?.length ?? 0) - 1; i >= 0; i--) if (ys[i] !== null && ys[i] !== undefined) return ys[i];
  return null;
}

// Time ticks: "14:05" within a day, with the date across days.
function timeTicks(u, splits) {
  const span = (u.scales.x.max ?? 0) - (u.scales.x.min ?? 0);
  return splits.map(s => {
    const d = new Date(s * 1000);
    const hm = d.toLocaleTimeString('en-GB', { hour12: false, hour: '2-digit', minute: '2-digit' });
    return span > 86400 ? d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short' }) + ' ' + hm : hm;
  });
}

// Rows as a table: group keys, then values; each value cell flashes when it changes.
function rowsTable(m, rows, { rank, bars }) {
  if (!rows.length) return '';
  const keys = m.group_by, vals = m.select;
  const barCol = bars ? vals.find(v => rows.some(r => typeof r[v] === 'number')) : null;
  const barMax = barCol ? Math.max(...rows.map(r => Math.abs(r[barCol] ?? 0)), 1e-300) : 0;
  let h = '<thead><tr>' + (rank ? '<th>#</th>' : '') + keys.map(k => `<th>${esc(k)}</th>`).join('') +
    vals.map(v => `<th class="num">${esc(v)}</th>`).join('') + (m.windowed && !rank ? '<th class="num">rev</th>' : '') + '</tr></thead><tbody>';
  const next = new Map();
  rows.forEach((r, i) => {
    const gid = groupId(m, r);
    h += `<tr data-group="${esc(gid)}">` + (rank ? `<td class="rank">${i + 1}</td>` : '');
    h += keys.map(k => `<td class="id">${esc(fmtKey(r[k]))}</td>`).join('');
    for (const v of vals) {
      const text = fmtNum(r[v]);
      const ck = gid + '\u0001' + v;
      next.set(ck, text);
      const prev = m.shown.get(ck);
      const cls = 'num' + (prev !== undefined && prev !== text ? ' flash' : '') + (v === barCol ? ' bar-cell' : '');
      const bar = v === barCol && typeof r[v] === 'number' ? `<div class="bar" style="width:${(Math.abs(r[v]) / barMax * 100).toFixed(1)}%"></div>` : '';
      h += `<td class="${cls}" data-testid="value-${esc(m.id)}-${esc(gid)}-${esc(v)}" data-col="${esc(v)}">${bar}<span>${esc(text)}</span></td>`;
    }
    if (m.windowed && !rank) h += `<td class="num faint">${r.revision ?? ''}</td>`;
    h += '</tr>';
  });
  m.shown = next;
  return h + '</tbody>';
}

function renderTable(m) {
  let rows = [...m.rows.values()];
  if (m.windowed) {
    const latest = latestWindow(m);
    rows = rows.filter(r => winKey(m, r) === latest);
  }
  if (m.top_n) rows.sort((a, b) => (a._rank ?? 0) - (b._rank ?? 0));
  else rankBySelect(m, rows);
  const head = m.el.querySelector('.current-head');
  if (!rows.length) {
    head.innerHTML = `<span class="faint">${m.windowed ? 'waiting for the first window to fire' : 'no rows yet'}</span>`;
  } else if (m.windowed) {
    const allFinal = rows.every(r => r.final !== false);
    head.innerHTML = `<span>window <b>${esc(fmtSpan(rows[0].window_start, rows[0].window_end))}</b></span>
      <span class="tag ${allFinal ? 'final' : 'partial'}">${allFinal ? 'final' : 'partial'}</span>
      <span class="faint">${rows.length} row${rows.length === 1 ? '' : 's'}</span>`;
  } else {
    head.innerHTML = `<span class="faint">${rows.length} group${rows.length === 1 ? '' : 's'}</span>`;
  }
  m.el.querySelector('table').innerHTML = rowsTable(m, rows.slice(0, TABLE_ROWS), { rank: true, bars: true });
  m.el.querySelector('.chart-note').textContent = [rows.length > TABLE_ROWS ? `and ${rows.length - TABLE_ROWS} more` : '', m.note].filter(Boolean).join(' · ');
}

// ---------------------------------------------------------------------------------------------
// Overview (status)

async function pollStatus() {
  try {
    const r = await fetch('/api/v1/status');
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    const st = await r.json();
    S.prevStatus = S.status;
    S.status = st;
    S.statusAt = Date.now();
    computeRates();
    renderOverview();
  } catch (e) {
    $('updated').textContent = 'unreachable';
    $('overview-hint').textContent = `status: ${e.message}`;
  }
  for (const m of S.metrics.values())
    if (m.history && S.end === null && Date.now() - m.historyAt > COARSE_REFRESH_MS) loadHistory(m);
}

function computeRates() {
  const a = S.prevStatus, b = S.status;
  if (!a || !b || b.uptime_ms <= a.uptime_ms) return;
  const dt = (b.uptime_ms - a.uptime_ms) / 1000;
  for (const s of b.sources) {
    const p = a.sources.find(x => x.id === s.id);
    if (p) S.rates.set(s.id, Math.max(0, (s.accepted + s.rejected - p.accepted - p.rejected) / dt));
  }
}

// Per source and partition, from the metrics' inputs: state, newest event time, last record.
function partitionsOf(st) {
  const out = new Map();  // source -> Map(partition -> info)
  const rank = { active: 3, idle: 2, waiting: 1, ended: 0 };
  for (const m of st.metrics) {
    for (const inp of m.inputs ?? []) {
      if (!out.has(inp.source)) out.set(inp.source, new Map());
      const parts = out.get(inp.source);
      const p = parts.get(inp.partition) ?? { partition: inp.partition, max: null, state: inp.state, last: inp.ms_since_last_record };
      const t = tms(inp.max_event_time);
      if (t !== null && (p.max === null || t > p.max)) p.max = t;
      if ((rank[inp.state] ?? 0) > (rank[p.state] ?? 0)) p.state = inp.state;
      p.last = Math.min(p.last, inp.ms_since_last_record);
      parts.set(inp.partition, p);
    }
  }
  return out;
}

function renderOverview() {
  const st = S.status;
  const now = Date.now();
  $('pipeline').textContent = st.pipeline;
  $('uptime').textContent = fmtDur(st.uptime_ms);
  $('updated').textContent = fmtTime(now);
  $('overview-hint').textContent = st.queue && st.queue.batches ? `queue: ${fmtCount(st.queue.batches)} batches, ${fmtCount(st.queue.bytes)} bytes` : '';

  const rate = [...S.rates.values()].reduce((a, b) => a + b, 0);
  const accepted = st.sources.reduce((a, s) => a + s.accepted, 0);
  const rejected = st.sources.reduce((a, s) => a + s.rejected, 0);
  const late = st.metrics.reduce((a, m) => a + (m.late_records ?? 0), 0);
  $('kpi-rate').textContent = S.rates.size ? fmtNum(Math.round(rate * 10) / 10) : '–';
  $('kpi-accepted').textContent = fmtCount(accepted);
  $('kpi-rejected').innerHTML = rejected ? `<span class="bad">${fmtCount(rejected)} rejected</span>` : '0 rejected';
  $('kpi-late').textContent = fmtCount(late);
  const ck = st.checkpoints ?? {};
  $('kpi-ckpt').textContent = ck.enabled ? fmtCount(ck.taken) : 'off';
  $('kpi-ckpt-detail').innerHTML = ck.last_error ? `<span class="bad">${esc(ck.last_error)}</span>` :
    ck.last_at ? `last ${esc(fmtTime(ck.last_at))} · ${fmtDur(ck.last_duration_ms)} · ${fmtCount(ck.last_bytes)} B` : 'none yet';

  // Sources: one row per partition; the source's own cells span them.
  const parts = partitionsOf(st);
  let h = `<thead><tr><th>Source</th><th class="num">Rate</th><th class="num">Accepted</th><th class="num">Rejected</th>
    <th>Watermark</th><th>Partition</th><th>State</th><th>Partition watermark</th><th class="num">Lag</th><th>Newest event</th><th class="num">Last record</th></tr></thead><tbody>`;
  for (const s of st.sources) {
    const ps = [...(parts.get(s.id)?.values() ?? [])].sort((a, b) => a.partition - b.partition);
    const wm = tms(s.watermark);
    // The source's watermark is its slowest partition's newest event time minus the (largest)
    // out-of-orderness bound; each partition's own watermark follows with the same bound.
    const live = ps.filter(p => p.state !== 'ended' && p.max !== null);
    const bound = wm !== null && live.length ? Math.min(...live.map(p => p.max)) - wm : null;
    const n = Math.max(1, ps.length);
    const detail = s.type === 'simulator' ? `${esc(s.scenario ?? '')} · target ${fmtCount(s.rate)}/s` :
      s.type === 'http' ? `POST ${esc(s.path ?? '')}` : s.path ? esc(s.path) : '';
    const rate = S.rates.get(s.id);
    const srcCells = `<td rowspan="${n}"><span class="id">${esc(s.id)}</span> <span class="tag">${esc(s.type)}</span>${s.ended ? ' <span class="tag">ended</span>' : ''}
        <div class="faint small">${detail}</div></td>
      <td class="num" rowspan="${n}" data-testid="rate-${esc(s.id)}">${rate === undefined ? '–' : fmtNum(Math.round(rate * 10) / 10) + '/s'}</td>
      <td class="num" rowspan="${n}" data-testid="accepted-${esc(s.id)}">${fmtCount(s.accepted)}</td>
      <td class="num${s.rejected ? ' bad' : ''}" rowspan="${n}">${fmtCount(s.rejected)}</td>
      <td class="time" rowspan="${n}">${wm === null ? '<span class="faint">none yet</span>' : esc(fmtTime(wm))}</td>`;
    if (!ps.length) {
      h += `<tr>${srcCells}<td colspan="6" class="faint">no metric reads this source</td></tr>`;
      continue;
    }
    ps.forEach((p, i) => {
      const pwm = p.state === 'ended' ? null : p.max !== null && bound !== null && bound >= 0 ? p.max - bound : null;
      h += `<tr>${i === 0 ? srcCells : ''}<td>${p.partition}</td>
        <td class="state-${esc(p.state)}">${esc(p.state)}</td>
        <td class="time">${pwm === null ? '<span class="faint">–</span>' : esc(fmtTime(pwm))}</td>
        <td class="num">${pwm === null ? '–' : fmtDur(now - pwm)}</td>
        <td class="time">${p.max === null ? '<span class="faint">no event yet</span>' : esc(fmtTime(p.max))}</td>
        <td class="num">${p.max === null ? '–' : fmtDur(p.last) + ' ago'}</td></tr>`;
    });
  }
  $('sources-table').innerHTML = h + '</tbody>';

  // Metrics
  h = `<thead><tr><th>Metric</th><th>Window</th><th>Watermark</th><th class="num">Lag</th><th class="num">Open windows</th>
    <th class="num">Groups</th><th class="num">Late</th><th class="num">Emitted rows</th><th>Oldest open window</th><th>Why it has not fired</th></tr></thead><tbody>`;
  for (const m of st.metrics) {
    const wm = tms(m.watermark);
    const o = m.oldest_open_window;
    h += `<tr data-metric="${esc(m.id)}"><td><span class="id">${esc(m.id)}</span>${S.metrics.get(m.id)?.top_n ? ' <span class="tag">top-N</span>' : ''}</td>
      <td class="nowrap">${esc(m.window)}</td>
      <td class="time">${wm === null ? '<span class="faint">none yet</span>' : esc(fmtTime(wm))}</td>
      <td class="num">${wm === null ? '–' : fmtDur(now - wm)}</td>
      <td class="num">${fmtCount(m.open_panes)}</td>
      <td class="num">${fmtCount(m.groups)}</td>
      <td class="num${m.late_records ? ' bad' : ''}" data-testid="late-${esc(m.id)}">${fmtCount(m.late_records)}</td>
      <td class="num">${fmtCount(m.emitted_rows)}</td>
      <td class="time">${o ? esc(fmtSpan(o.start, o.end)) : '<span class="faint">none</span>'}</td>
      <td>${o ? `<div class="why">${esc(o.waiting_for ?? '')}</div>` : `<span class="ok">${m.open_panes ? 'every due window has fired' : 'no open window'}</span>`}</td></tr>`;
  }
  $('metrics-table').innerHTML = h + '</tbody>';
}

// ---------------------------------------------------------------------------------------------
// Start

function wireRangePicker() {
  for (const b of document.querySelectorAll('#range button')) b.addEventListener('click', () => setRange(b.dataset.range, S.end));
  const end = $('range-end');
  end.addEventListener('change', () => {
    const t = end.value ? new Date(end.value).getTime() : NaN;
    setRange(S.range, isNaN(t) ? null : t);
  });
  $('range-now').addEventListener('click', () => { end.value = ''; setRange(S.range, null); });
}

async function start() {
  const [list, status] = await Promise.all([
    fetch('/api/v1/metrics').then(r => r.json()),
    fetch('/api/v1/status').then(r => r.json()).catch(() => null),
  ]);
  for (const info of list.metrics) addMetric(info, status?.metrics?.find(x => x.id === info.id));
  if (status) { S.status = status; S.statusAt = Date.now(); renderOverview(); }
  buildCards();
  wireRangePicker();
  setRange(S.range, null);
  connect();
  setInterval(pollStatus, STATUS_EVERY_MS);
  // Keep the x axes moving with the clock even when no result arrives.
  setInterval(() => { if (S.end === null) for (const m of S.metrics.values()) if (m.layout === 'series') markDirty(m); }, 5000);
  new ResizeObserver(() => {
    for (const m of S.metrics.values()) {
      if (!m.chart) continue;
      const w = Math.max(300, m.el.querySelector('.chart').clientWidth);
      if (w !== m.chart.width) m.chart.setSize({ width: w, height: 240 });
    }
  }).observe(document.body);
}

start().catch(e => {
  setConn('down', 'failed');
  $('overview-hint').textContent = `could not start: ${e.message}`;
  console.error(e);
});
