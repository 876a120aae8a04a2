// The live hub: per-metric rings of formatted rows, and subscriptions that pull from them.
// See live_hub.h for the protocol between positions, rings and snapshots.
#include "weir/server/live_hub.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "weir/model/key_codec.h"
#include "weir/model/value.h"

namespace weir::server {
namespace {

// One metric's recent rows. Indices count the rows appended since start, so that a
// subscription's place survives evictions (an index below begin_index has been evicted).
struct MetricRing {
  MetricSchema schema;
  mutable std::mutex mu;
  std::deque<std::shared_ptr<const LiveRow>> rows;
  uint64_t begin_index = 0;  // index of rows.front()
  size_t bytes = 0;
  bool seen = false;         // a row has arrived (in this epoch)
  uint64_t known_after = 0;  // if seen: every row after this seq, up to last_seq, is in `rows`
  uint64_t last_seq = 0;
  // Bumped if seq numbers ever go backwards: positions in the old numbering mean nothing now.
  uint64_t epoch = 0;
  uint64_t rows_total = 0;
  std::vector<LiveSubscription*> subscribers;

  uint64_t end_index() const { return begin_index + rows.size(); }
};

// Matches a filter's text against a key value as the result store does: numbers by value,
// the rest by text.
bool KeyMatches(const Value& v, std::string_view text) {
  if (v.is_number()) {
    auto n = ParseNumber(text);
    return n && GroupEquals(v, *n);
  }
  if (v.is_bool()) return text == (v.as_bool() ? "true" : "false");
  if (v.is_null()) return text == "null" || text.empty();
  return ToText(v) == text;
}

}  // namespace

struct LiveHub::Core {
  LiveOptions options;
  std::vector<std::unique_ptr<MetricRing>> metrics;
  std::mutex source_mu;
  SnapshotSource source;
  std::atomic<uint64_t> next_order{1};
  std::atomic<uint64_t> subscribers{0};
  std::atomic<uint64_t> snapshots{0};
  std::atomic<uint64_t> resets{0};
  std::atomic<uint64_t> updates_sent{0};

  MetricRing* Find(std::string_view id) const {
    for (const auto& m : metrics) {
      if (m->schema.id == id) return m.get();
    }
    return nullptr;
  }
  MetricRing* Find(const MetricSchema& schema) const {
    // The hub's metrics are the pipeline's, in the same order: try the index first.
    if (schema.index < metrics.size() && metrics[schema.index]->schema.id == schema.id) {
      return metrics[schema.index].get();
    }
    return Find(schema.id);
  }
};

struct LiveSubscription::Entry {
  MetricRing* ring = nullptr;
  LiveFilters filters;                                   // for the snapshot source
  std::vector<std::pair<size_t, std::string>> by_index;  // key position -> wanted text
  uint64_t next_index = 0;    // the next ring row to look at
  uint64_t skip_through = 0;  // rows up to this seq were delivered before (resumed ahead)
  std::optional<uint64_t> check_after;  // resumed before the ring knew any row: check later
  std::optional<uint64_t> position;
  uint64_t epoch = 0;
  bool needs_snapshot = false;
  bool reset = false;

  bool Matches(const LiveRow& row) const {
    if (by_index.empty()) return true;
    size_t want = 0;
    for (const auto& f : by_index) want = std::max(want, f.first + 1);
    Arena arena(256);  // only strings holding a NUL byte are copied into it
    std::string_view in = row.keys;
    for (size_t i = 0; i < want; ++i) {
      if (in.empty()) return false;
      Value v = DecodeKey(in, &arena);
      for (const auto& [index, text] : by_index) {
        if (index == i && !KeyMatches(v, text)) return false;
      }
    }
    return true;
  }
};

// ---- LiveHub ----------------------------------------------------------------------------------

LiveHub::LiveHub(const std::vector<const MetricSchema*>& metrics, LiveOptions options) : core_(std::make_shared<Core>()) {
  options.ring_rows = std::max<size_t>(options.ring_rows, 1);
  options.batch_rows = std::max<size_t>(options.batch_rows, 1);
  core_->options = options;
  for (const MetricSchema* m : metrics) {
    auto ring = std::make_unique<MetricRing>();
    ring->schema = *m;
    core_->metrics.push_back(std::move(ring));
  }
}

LiveHub::~LiveHub() = default;

void LiveHub::SetSnapshotSource(SnapshotSource source) {
  std::lock_guard lock(core_->source_mu);
  core_->source = std::move(source);
}

const LiveOptions& LiveHub::options() const { return core_->options; }

const MetricSchema* LiveHub::FindMetric(std::string_view id) const {
  MetricRing* ring = core_->Find(id);
  return ring ? &ring->schema : nullptr;
}

std::vector<const MetricSchema*> LiveHub::metrics() const {
  std::vector<const MetricSchema*> out;
  for (const auto& m : core_->metrics) out.push_back(&m->schema);
  return out;
}

std::string LiveHub::MetricList() const {
  std::string s;
  for (const auto& m : core_->metrics) s += (s.empty() ? "" : ", ") + m->schema.id;
  return s.empty() ? "none" : s;
}

void LiveHub::OnResults(const ResultBatch& batch) {
  if (!batch.schema || batch.rows.empty()) return;
  MetricRing* ring = core_->Find(*batch.schema);
  if (!ring) return;
  const MetricSchema& schema = *batch.schema;

  // Format outside the lock: clients reading the ring wait only for the appends.
  scratch_.clear();
  std::vector<Timestamp> replaced;  // top-N windows whose first row in this batch was marked
  for (const ResultRow& row : batch.rows) {
    auto r = std::make_shared<LiveRow>();
    r->seq = row.seq;
    r->window_start = row.window_start;
    r->deleted = row.deleted;
    bool& replace = r->replace;
    if (!batch.replaces.empty() &&
        std::find(batch.replaces.begin(), batch.replaces.end(), row.window_start) != batch.replaces.end() &&
        std::find(replaced.begin(), replaced.end(), row.window_start) == replaced.end()) {
      replaced.push_back(row.window_start);
      replace = true;
    }
    std::string& m = r->message;
    m.reserve(96 + schema.id.size() + 24 * (schema.key_names.size() + schema.value_names.size()));
    m.append("{\"type\":\"update\",\"metric\":");
    AppendJsonString(m, schema.id);
    fmt::format_to(std::back_inserter(m), ",\"seq\":{}", row.seq);
    if (replace) m.append(",\"replace\":true");
    m.append(",\"row\":");
    r->row_offset = static_cast<uint32_t>(m.size());
    AppendResultJson(schema, row, m);
    r->row_size = static_cast<uint32_t>(m.size() - r->row_offset);
    m.push_back('}');
    for (size_t k = 0; k < schema.key_names.size(); ++k) EncodeKey(row.keys[k], r->keys);
    r->order = core_->next_order.fetch_add(1, std::memory_order_relaxed);
    scratch_.push_back(std::move(r));
  }

  const LiveOptions& o = core_->options;
  std::lock_guard lock(ring->mu);
  for (auto& r : scratch_) {
    if (ring->seen && r->seq <= ring->last_seq) {
      // The numbering went backwards (the metric's state was restored under this process):
      // nothing kept so far can be matched with positions any more.
      ring->begin_index = ring->end_index();
      ring->rows.clear();
      ring->bytes = 0;
      ring->seen = false;
      ++ring->epoch;
    }
    if (!ring->seen) {
      ring->seen = true;
      ring->known_after = r->seq > 0 ? r->seq - 1 : 0;
    }
    ring->last_seq = r->seq;
    ring->bytes += r->message.size() + r->keys.size();
    ++ring->rows_total;
    ring->rows.push_back(std::move(r));
  }
  while (ring->rows.size() > 1 && (ring->rows.size() > o.ring_rows || ring->bytes > o.ring_bytes)) {
    const LiveRow& front = *ring->rows.front();
    ring->known_after = front.seq;
    ring->bytes -= front.message.size() + front.keys.size();
    ring->rows.pop_front();
    ++ring->begin_index;
  }
  for (LiveSubscription* s : ring->subscribers) s->Notify();
  scratch_.clear();
}

std::shared_ptr<LiveSubscription> LiveHub::Subscribe(std::function<void()> wake, bool with_positions) {
  core_->subscribers.fetch_add(1, std::memory_order_relaxed);
  return std::shared_ptr<LiveSubscription>(new LiveSubscription(core_, std::move(wake), with_positions));
}

uint64_t LiveHub::subscribers() const { return core_->subscribers.load(std::memory_order_relaxed); }

std::vector<LiveHub::RingStats> LiveHub::ring_stats() const {
  std::vector<RingStats> out;
  for (const auto& m : core_->metrics) {
    RingStats s;
    s.metric = m->schema.id;
    std::lock_guard lock(m->mu);
    s.rows = m->rows.size();
    s.bytes = m->bytes;
    s.first_seq = m->rows.empty() ? 0 : m->rows.front()->seq;
    s.last_seq = m->seen ? m->last_seq : 0;
    s.rows_total = m->rows_total;
    s.subscribers = m->subscribers.size();
    out.push_back(std::move(s));
  }
  return out;
}

std::string LiveHub::StatsJson() const {
  std::string s = fmt::format(R"({{"subscribers":{},"snapshots":{},"resets":{},"updates_sent":{},"metrics":{{)",
                              subscribers(), core_->snapshots.load(), core_->resets.load(),
                              core_->updates_sent.load());
  bool first = true;
  for (const RingStats& r : ring_stats()) {
    if (!first) s += ',';
    first = false;
    AppendJsonString(s, r.metric);
    fmt::format_to(std::back_inserter(s),
                   R"(:{{"ring_rows":{},"ring_bytes":{},"first_seq":{},"last_seq":{},"rows_total":{},"subscribers":{}}})",
                   r.rows, r.bytes, r.first_seq, r.last_seq, r.rows_total, r.subscribers);
  }
  s += "}}";
  return s;
}

// ---- LiveSubscription -------------------------------------------------------------------------

LiveSubscription::LiveSubscription(std::shared_ptr<LiveHub::Core> core, std::function<void()> wake,
                                   bool with_positions)
    : core_(std::move(core)), wake_(std::move(wake)), with_positions_(with_positions) {}

LiveSubscription::~LiveSubscription() { Cancel(); }

void LiveSubscription::Notify() {
  if (!wake_pending_.exchange(true, std::memory_order_acq_rel) && wake_) wake_();
}

Status LiveSubscription::Subscribe(std::string_view metric, const LiveFilters& filters,
                                   std::optional<uint64_t> after_seq) {
  if (canceled_) return Fail("the subscription is closed");
  MetricRing* ring = core_->Find(metric);
  if (!ring) {
    std::string known;
    for (const auto& m : core_->metrics) known += (known.empty() ? "" : ", ") + m->schema.id;
    return Fail("unknown metric '{}'; metrics: {}", metric, known.empty() ? "none" : known);
  }
  std::vector<std::pair<size_t, std::string>> by_index;
  const std::vector<std::string>& keys = ring->schema.key_names;
  for (const auto& [name, text] : filters) {
    auto it = std::find(keys.begin(), keys.end(), name);
    if (it == keys.end()) {
      std::string known;
      for (const auto& k : keys) known += (known.empty() ? "" : ", ") + k;
      return Fail("'{}' is not a group key of metric '{}' (group keys: {})", name, metric,
                  known.empty() ? "none" : known);
    }
    by_index.emplace_back(static_cast<size_t>(it - keys.begin()), text);
  }

  Entry* entry = nullptr;
  for (auto& e : entries_) {
    if (e->ring == ring) entry = e.get();
  }
  bool added = entry == nullptr;
  if (added) {
    entries_.push_back(std::make_unique<Entry>());
    entry = entries_.back().get();
    entry->ring = ring;
  }
  Entry& e = *entry;
  e.filters = filters;
  e.by_index = std::move(by_index);
  e.skip_through = 0;
  e.check_after.reset();
  e.position.reset();
  e.needs_snapshot = false;
  e.reset = false;
  {
    std::lock_guard lock(ring->mu);
    e.epoch = ring->epoch;
    e.next_index = ring->end_index();
    if (!after_seq) {
      e.needs_snapshot = true;
    } else {
      uint64_t c = *after_seq;
      e.position = c;
      e.skip_through = c;
      if (!ring->seen) {
        // Nothing to compare with yet: the first row to arrive tells whether rows are missing.
        e.check_after = c;
      } else if (c < ring->known_after) {
        e.needs_snapshot = true;  // the rows right after c are gone
        e.reset = true;
      } else {
        auto first_after = std::partition_point(ring->rows.begin(), ring->rows.end(),
                                                [c](const auto& r) { return r->seq <= c; });
        e.next_index = ring->begin_index + static_cast<uint64_t>(first_after - ring->rows.begin());
      }
    }
    if (added) ring->subscribers.push_back(this);
  }
  Notify();
  return Ok();
}

bool LiveSubscription::Unsubscribe(std::string_view metric) {
  for (size_t i = 0; i < entries_.size(); ++i) {
    MetricRing* ring = entries_[i]->ring;
    if (ring->schema.id != metric) continue;
    {
      std::lock_guard lock(ring->mu);
      auto& subs = ring->subscribers;
      subs.erase(std::remove(subs.begin(), subs.end(), this), subs.end());
    }
    entries_.erase(entries_.begin() + static_cast<ptrdiff_t>(i));
    return true;
  }
  return false;
}

std::vector<std::string> LiveSubscription::metrics() const {
  std::vector<std::string> out;
  for (const auto& e : entries_) out.push_back(e->ring->schema.id);
  return out;
}

void LiveSubscription::Cancel() {
  if (canceled_) return;
  canceled_ = true;
  for (auto& e : entries_) {
    std::lock_guard lock(e->ring->mu);
    auto& subs = e->ring->subscribers;
    subs.erase(std::remove(subs.begin(), subs.end(), this), subs.end());
  }
  entries_.clear();
  core_->subscribers.fetch_sub(1, std::memory_order_relaxed);
}

void LiveSubscription::AppendPosition(std::string& out) const {
  bool first = true;
  for (const auto& e : entries_) {
    if (!e->position) continue;
    if (!first) out += ';';
    first = false;
    fmt::format_to(std::back_inserter(out), "{}={}", e->ring->schema.id, *e->position);
  }
}

std::string LiveSubscription::Position() const {
  std::string s;
  AppendPosition(s);
  return s;
}

namespace {

// The ring's idea of the metric's latest window: the newest row per (window, group), the
// top-N windows an emission replaced wiped first, deletions dropped. Called under the lock.
std::vector<std::string> RingSnapshot(const MetricRing& ring, const std::function<bool(const LiveRow&)>& keep,
                                      size_t limit) {
  std::map<Timestamp, std::map<std::string_view, const LiveRow*>> windows;
  for (const auto& r : ring.rows) {
    auto& groups = windows[ring.schema.windowed ? r->window_start : 0];
    if (r->replace) groups.clear();
    groups[r->keys] = r.get();
  }
  std::vector<std::string> out;
  for (auto w = windows.rbegin(); w != windows.rend(); ++w) {
    for (const auto& [key, row] : w->second) {
      if (row->deleted || !keep(*row)) continue;
      if (out.size() >= limit) break;
      out.emplace_back(row->row());
    }
    if (!out.empty()) break;  // the newest window with rows
  }
  return out;
}

}  // namespace

void LiveSubscription::MakeSnapshot(Entry& e, std::vector<LiveEvent>& events) {
  SnapshotSource source;
  {
    std::lock_guard lock(core_->source_mu);
    source = core_->source;
  }
  const size_t limit = core_->options.snapshot_rows;
  MetricRing& ring = *e.ring;
  std::optional<uint64_t> at;
  std::vector<std::string> rows;
  std::string error;
  {
    std::lock_guard lock(ring.mu);
    if (ring.seen) at = ring.last_seq;
    e.next_index = ring.end_index();
    e.epoch = ring.epoch;
    if (!source) rows = RingSnapshot(ring, [&e](const LiveRow& r) { return e.Matches(r); }, limit);
  }
  if (source) {
    // Read after taking the position: the store has every row up to it, maybe a few more.
    auto r = source(ring.schema, e.filters, limit);
    if (r) {
      rows = std::move(*r);
    } else {
      error = r.error().message;
    }
  }
  e.skip_through = at.value_or(0);
  e.check_after.reset();
  e.position = at;

  LiveEvent ev;
  ev.kind = LiveEvent::Kind::kSnapshot;
  std::string& s = ev.snapshot;
  size_t size = 96;
  for (const auto& row : rows) size += row.size() + 1;
  s.reserve(size);
  s += "{\"type\":\"snapshot\",\"metric\":";
  AppendJsonString(s, ring.schema.id);
  s += ",\"seq\":";
  s += at ? std::to_string(*at) : "null";
  s += e.reset ? ",\"reset\":true" : ",\"reset\":false";
  if (!error.empty()) {
    s += ",\"error\":";
    AppendJsonString(s, error);
  }
  s += ",\"rows\":[";
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i) s += ',';
    s += rows[i];
  }
  s += "]}";
  if (with_positions_) AppendPosition(ev.position);
  events.push_back(std::move(ev));

  core_->snapshots.fetch_add(1, std::memory_order_relaxed);
  if (e.reset) core_->resets.fetch_add(1, std::memory_order_relaxed);
  e.needs_snapshot = false;
  e.reset = false;
}

bool LiveSubscription::Poll(std::vector<LiveEvent>& events) {
  // Cleared first: a row appended from here on wakes the transport again.
  wake_pending_.store(false, std::memory_order_seq_cst);
  if (canceled_) return false;
  const size_t budget = core_->options.batch_rows;

  // Positions that the rings no longer hold turn into snapshots.
  for (auto& ep : entries_) {
    Entry& e = *ep;
    if (e.needs_snapshot) continue;
    std::lock_guard lock(e.ring->mu);
    if (e.epoch != e.ring->epoch || e.next_index < e.ring->begin_index) {
      e.needs_snapshot = e.reset = true;
    } else if (e.check_after && e.ring->seen) {
      if (*e.check_after < e.ring->known_after) e.needs_snapshot = e.reset = true;
      e.check_after.reset();
    }
  }
  for (auto& ep : entries_) {
    if (ep->needs_snapshot) {
      MakeSnapshot(*ep, events);
      return true;  // one snapshot per poll: the transport checks its client's backlog between
    }
  }

  // Rows from every followed metric, merged by arrival.
  bool more = false;
  pending_.clear();
  for (size_t i = 0; i < entries_.size(); ++i) {
    Entry& e = *entries_[i];
    std::lock_guard lock(e.ring->mu);
    if (e.next_index < e.ring->begin_index) {  // evicted since the check above
      e.needs_snapshot = e.reset = true;
      more = true;
      continue;
    }
    size_t offset = static_cast<size_t>(e.next_index - e.ring->begin_index);
    size_t available = e.ring->rows.size() - std::min(offset, e.ring->rows.size());
    size_t n = std::min(available, budget);
    for (size_t j = 0; j < n; ++j) {
      const auto& row = e.ring->rows[offset + j];
      pending_.push_back({row->order, i, row});
    }
    if (available > n) more = true;
  }
  std::sort(pending_.begin(), pending_.end(), [](const Pending& a, const Pending& b) { return a.order < b.order; });
  size_t take = std::min(pending_.size(), budget);
  if (pending_.size() > take) more = true;
  uint64_t sent = 0;
  for (size_t k = 0; k < take; ++k) {
    Entry& e = *entries_[pending_[k].entry];
    const LiveRow& row = *pending_[k].row;
    ++e.next_index;
    if (row.seq <= e.skip_through) continue;  // delivered before the client resumed
    e.position = row.seq;
    if (!e.Matches(row)) continue;
    LiveEvent& ev = events.emplace_back();
    ev.kind = LiveEvent::Kind::kUpdate;
    ev.row = std::move(pending_[k].row);
    if (with_positions_) AppendPosition(ev.position);
    ++sent;
  }
  pending_.clear();
  core_->updates_sent.fetch_add(sent, std::memory_order_relaxed);
  return more;
}

// ---- positions --------------------------------------------------------------------------------

Result<std::vector<std::pair<std::string, uint64_t>>> ParseLivePosition(std::string_view text) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  auto number = [](std::string_view s) -> std::optional<uint64_t> {
    if (s.empty() || s.size() > 19) return std::nullopt;
    uint64_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    return v;
  };
  std::vector<std::pair<std::string, uint64_t>> out;
  text = trim(text);
  if (auto n = number(text)) {
    out.emplace_back("", *n);
    return out;
  }
  constexpr std::string_view kForm = "expected metric=seq pairs separated by ';', such as revenue=120;views=88";
  while (!text.empty()) {
    size_t semi = text.find(';');
    std::string_view part = trim(text.substr(0, semi));
    text = semi == std::string_view::npos ? std::string_view() : text.substr(semi + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) return Fail("position '{}': {}", part, kForm);
    std::string_view name = trim(part.substr(0, eq));
    auto seq = number(trim(part.substr(eq + 1)));
    if (name.empty() || !seq) return Fail("position '{}': {}", part, kForm);
    out.emplace_back(std::string(name), *seq);
  }
  if (out.empty()) return Fail("empty position: {}", kForm);
  return out;
}

}  // namespace weir::server
