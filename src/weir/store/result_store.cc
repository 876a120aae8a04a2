#include "weir/store/result_store.h"

#include <algorithm>
#include <cstring>
#include <atomic>
#include <map>
#include <mutex>
#include <filesystem>

#include <rocksdb/cache.h>
#include <rocksdb/table.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/write_batch.h>

#include "weir/model/key_codec.h"

namespace weir::store {
namespace {

constexpr char kResultPrefix = 'r';
constexpr char kLatePrefix = 'l';
constexpr char kSchemaPrefix = 'm';

void PutBigEndian(uint64_t v, std::string& out) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}
uint64_t SortableTime(Timestamp t) { return static_cast<uint64_t>(t) ^ (1ULL << 63); }

// r <metric> 0x00 <window_start:8> <encoded keys>
std::string MetricPrefix(char kind, std::string_view metric) {
  std::string k;
  k.push_back(kind);
  k.append(metric);
  k.push_back('\0');
  return k;
}

std::string WindowKey(std::string_view metric, Timestamp start) {
  std::string k = MetricPrefix(kResultPrefix, metric);
  PutBigEndian(SortableTime(start), k);
  return k;
}

// Row values: 4-byte length of the JSON row, the JSON row, then the partial state.
std::string_view JsonPart(std::string_view v) {
  if (v.size() < 4) return {};
  uint32_t n;
  std::memcpy(&n, v.data(), 4);
  return v.substr(4, std::min<size_t>(n, v.size() - 4));
}
std::string_view StatePart(std::string_view v) {
  if (v.size() < 4) return {};
  uint32_t n;
  std::memcpy(&n, v.data(), 4);
  return 4 + static_cast<size_t>(n) <= v.size() ? v.substr(4 + n) : std::string_view();
}
Timestamp WindowStartOf(std::string_view be8) {
  uint64_t u = 0;
  for (char c : be8) u = (u << 8) | static_cast<uint8_t>(c);
  return static_cast<Timestamp>(u ^ (1ULL << 63));
}

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Ok();
  return Fail("result store: {}: {}", what, s.ToString());
}

// Matches a filter's text against a key value: numbers by value, the rest by text.
bool Matches(const Value& v, std::string_view text) {
  if (v.is_number()) {
    auto n = ParseNumber(text);
    return n && GroupEquals(v, *n);
  }
  if (v.is_bool()) return text == (v.as_bool() ? "true" : "false");
  if (v.is_null()) return text == "null" || text.empty();
  return ToText(v) == text;
}

// What the key encoding of a value matching `text` (Matches) can start with, sorted: a filter on
// the first group key then reads only those rows of each window (see Query).
std::vector<std::string> EncodingsMatching(std::string_view text) {
  std::vector<std::string> out;
  auto add = [&](const Value& v, size_t keep) {
    std::string k;
    EncodeKey(v, k);
    if (k.size() > keep) k.resize(keep);
    out.push_back(std::move(k));
  };
  constexpr size_t kWhole = std::string::npos;
  add(Value::String(text), kWhole);
  add(Value::Json(text), kWhole);
  if (auto n = ParseNumber(text)) {
    // Numbers equal in value (an integer and a double) share the tag and the double's bytes.
    double d = n->is_int() ? static_cast<double>(n->as_int()) : n->as_double();
    constexpr size_t kTagAndDouble = 9;
    add(Value::Double(d), kTagAndDouble);
  }
  if (text == "true" || text == "false") add(Value::Bool(text == "true"), kWhole);
  if (text == "null" || text.empty()) add(Value::Null(), kWhole);
  if (auto t = ParseIso8601(text); t && FormatIso8601(*t) == text) add(Value::Time(*t), kWhole);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

struct ResultStore::Impl {
  std::unique_ptr<rocksdb::DB> db;
  mutable std::mutex mu;
  bool read_only = false;
  std::map<std::string, std::vector<std::string>, std::less<>> key_names;  // metric -> group keys
  std::atomic<uint64_t> late_seq{0};
  mutable std::mutex health_mu;
  std::string health;                // the last write's error, if it failed
  std::atomic<bool> failing{false};  // health is set (a write that succeeds takes no lock)

  // Records the outcome of a write, delete or flush (for Health) and returns it.
  Status Track(Status st) {
    if (st && !failing.load(std::memory_order_relaxed)) return st;
    std::lock_guard lock(health_mu);
    health = st ? std::string() : st.error().message;
    failing.store(!st, std::memory_order_relaxed);
    return st;
  }
};

ResultStore::ResultStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ResultStore::~ResultStore() {
  // Leave everything in table files, so that read-only readers (weir query) see it all without
  // replaying logs.
  if (impl_ && impl_->db && !impl_->read_only) (void)impl_->db->Flush(rocksdb::FlushOptions());
}

Result<std::unique_ptr<ResultStore>> ResultStore::Open(const std::string& dir, bool read_only) {
  std::error_code ec;
  if (!read_only) std::filesystem::create_directories(dir, ec);
  if (ec) return Fail("cannot create result store directory {}: {}", dir, ec.message());
  rocksdb::Options options;
  options.create_if_missing = true;
  options.IncreaseParallelism(2);
  options.OptimizeLevelStyleCompaction(64 << 20);
  options.keep_log_file_num = 3;
  // A process killed mid-write leaves a torn record at the end of its log; that must not hide
  // the logs written after it (what a read-only reader replays).
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  options.max_log_file_size = 4 << 20;
  // Queries read recent windows again and again: keep their blocks in memory (RocksDB's default
  // cache is 8 MB, less than a day of 1-minute rows for 100 groups).
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(128 << 20);
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = read_only ? rocksdb::DB::OpenForReadOnly(options, dir, &raw) : rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) return Fail("cannot open result store in {}: {}", dir, s.ToString());
  auto impl = std::make_unique<Impl>();
  impl->db.reset(raw);
  impl->read_only = read_only;
  // Group-key names of the metrics that wrote here (for filters in queries).
  {
    std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(std::string(1, kSchemaPrefix)); it->Valid() && it->key()[0] == kSchemaPrefix; it->Next()) {
      std::string metric(it->key().data() + 1, it->key().size() - 1);
      std::vector<std::string> names;
      std::string_view v(it->value().data(), it->value().size());
      while (!v.empty()) {
        size_t z = v.find('\0');
        names.emplace_back(v.substr(0, z));
        v.remove_prefix(z == std::string_view::npos ? v.size() : z + 1);
      }
      impl->key_names[metric] = std::move(names);
    }
  }
  // Late records continue after the highest stored sequence number.
  std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions()));
  std::string upper(1, kLatePrefix + 1);
  it->SeekForPrev(upper);
  if (it->Valid() && !it->key().empty() && it->key()[0] == kLatePrefix && it->key().size() >= 8) {
    std::string_view k(it->key().data(), it->key().size());
    uint64_t seq = 0;
    for (size_t i = k.size() - 8; i < k.size(); ++i) seq = (seq << 8) | static_cast<uint8_t>(k[i]);
    impl->late_seq = seq + 1;
  }
  return std::unique_ptr<ResultStore>(new ResultStore(std::move(impl)));
}

Status ResultStore::Write(const ResultBatch& batch) {
  rocksdb::WriteBatch wb;
  const MetricSchema& schema = *batch.schema;
  for (Timestamp w : batch.replaces) {
    std::string from = WindowKey(schema.id, w);
    std::string to = WindowKey(schema.id, w + 1);
    wb.DeleteRange(from, to);
  }
  std::string key, value;
  for (const ResultRow& row : batch.rows) {
    key = WindowKey(schema.id, schema.windowed ? row.window_start : 0);
    for (size_t i = 0; i < schema.key_names.size(); ++i) EncodeKey(row.keys[i], key);
    if (row.deleted) {
      wb.Delete(key);
      continue;
    }
    value.assign(4, '\0');
    AppendResultJson(schema, row, value);
    uint32_t json_len = static_cast<uint32_t>(value.size() - 4);
    std::memcpy(value.data(), &json_len, 4);
    value.append(row.state);
    wb.Put(key, value);
  }
  rocksdb::WriteOptions wo;
  wo.disableWAL = false;
  return impl_->Track(FromRocks(impl_->db->Write(wo, &wb), "write"));
}

Status ResultStore::PutRows(std::string_view metric, const std::vector<StoredState>& states,
                            const std::vector<std::string>& json) {
  rocksdb::WriteBatch wb;
  std::string key, value;
  for (size_t i = 0; i < states.size() && i < json.size(); ++i) {
    key = WindowKey(metric, states[i].window_start);
    key += states[i].keys;
    value.assign(4, '\0');
    value += json[i];
    uint32_t n = static_cast<uint32_t>(json[i].size());
    std::memcpy(value.data(), &n, 4);
    value += states[i].state;
    wb.Put(key, value);
  }
  return impl_->Track(FromRocks(impl_->db->Write(rocksdb::WriteOptions(), &wb), "write"));
}

Status ResultStore::DeleteBefore(std::string_view metric, Timestamp start) {
  rocksdb::WriteBatch wb;
  wb.DeleteRange(WindowKey(metric, kMinTimestamp), WindowKey(metric, start));
  return impl_->Track(FromRocks(impl_->db->Write(rocksdb::WriteOptions(), &wb), "delete"));
}

Result<std::optional<Timestamp>> ResultStore::NewestWindow(std::string_view metric) const {
  std::string prefix = MetricPrefix(kResultPrefix, metric);
  std::string upper = MetricPrefix(kResultPrefix, std::string(metric) + '\x01');
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions()));
  it->SeekForPrev(upper);
  if (it->Valid() && it->key().starts_with(prefix) && it->key().size() >= prefix.size() + 8)
    return std::optional<Timestamp>(WindowStartOf(std::string_view(it->key().data() + prefix.size(), 8)));
  if (!it->status().ok()) return Fail("result store: {}", it->status().ToString());
  return std::optional<Timestamp>();
}

Result<std::optional<Timestamp>> ResultStore::OldestWindow(std::string_view metric) const {
  std::string prefix = MetricPrefix(kResultPrefix, metric);
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions()));
  it->Seek(prefix);
  if (it->Valid() && it->key().starts_with(prefix) && it->key().size() >= prefix.size() + 8)
    return std::optional<Timestamp>(WindowStartOf(std::string_view(it->key().data() + prefix.size(), 8)));
  if (!it->status().ok()) return Fail("result store: {}", it->status().ToString());
  return std::optional<Timestamp>();
}

Status ResultStore::WriteLate(const LateBatch& batch) {
  rocksdb::WriteBatch wb;
  std::string key, value;
  for (const LateRecord& r : batch.records) {
    key = MetricPrefix(kLatePrefix, batch.schema->id);
    PutBigEndian(SortableTime(r.event_time), key);
    PutBigEndian(impl_->late_seq++, key);
    value.clear();
    AppendLateJson(*batch.schema, r, value);
    wb.Put(key, value);
  }
  return impl_->Track(FromRocks(impl_->db->Write(rocksdb::WriteOptions(), &wb), "write late records"));
}

Result<QueryResult> ResultStore::Query(const ResultQuery& q) const {
  // Filters name group keys; map each to its position in the key tuple.
  std::vector<std::pair<size_t, std::string_view>> filters;
  if (!q.filters.empty()) {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->key_names.find(q.metric);
    if (it == impl_->key_names.end()) return Fail("unknown metric '{}'", q.metric);
    for (const auto& [name, text] : q.filters) {
      auto pos = std::find(it->second.begin(), it->second.end(), name);
      if (pos == it->second.end()) {
        std::string known;
        for (const auto& n : it->second) known += (known.empty() ? "" : ", ") + n;
        return Fail("'{}' is not a group key of metric '{}' (group keys: {})", name, q.metric,
                    known.empty() ? "none" : known);
      }
      filters.emplace_back(static_cast<size_t>(pos - it->second.begin()), text);
    }
  }
  QueryResult out;
  std::string prefix = MetricPrefix(kResultPrefix, q.metric);
  std::string lower = WindowKey(q.metric, q.start);
  std::string upper = q.end == kMaxTimestamp ? MetricPrefix(kResultPrefix, q.metric + '\x01') : WindowKey(q.metric, q.end);
  rocksdb::ReadOptions ro;
  rocksdb::Slice lower_slice(lower), upper_slice(upper);
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro));
  Arena arena;
  std::vector<Value> keys;
  auto matches = [&](std::string_view k) {
    if (filters.empty()) return true;
    std::string_view tuple = k.substr(prefix.size() + 8);
    keys.clear();
    while (!tuple.empty()) keys.push_back(DecodeKey(tuple, &arena));
    for (const auto& [idx, text] : filters)
      if (idx >= keys.size() || !Matches(keys[idx], text)) return false;
    return true;
  };
  // Rows sort by window, then by the encoded group keys: with a filter on the first key, the
  // rows that can match are contiguous in each window. Reading forward, seek to them window by
  // window instead of reading every row (every row read is still checked by `matches`).
  std::vector<std::string> firsts;
  if (!q.newest_first)
    for (const auto& [idx, text] : filters)
      if (idx == 0) firsts = EncodingsMatching(text);
  std::string seek;
  size_t matched = 0;
  // False when the iterator was moved (or there is nothing more): the row at `k` cannot match.
  auto skip_ahead = [&](std::string_view k) {
    const size_t head = prefix.size() + 8;
    std::string_view tuple = k.substr(head);
    for (const auto& c : firsts) {
      if (tuple.substr(0, c.size()) == c) return true;  // may match: read it
      if (std::string_view(c) > tuple) {
        seek.assign(k.substr(0, head));
        seek += c;
        it->Seek(seek);
        return false;
      }
    }
    // Past every candidate in this window: on to the next window.
    seek.assign(k.substr(0, head));
    size_t i = seek.size();
    while (i > prefix.size() && static_cast<uint8_t>(seek[i - 1]) == 0xff) seek[--i] = '\0';
    if (i == prefix.size()) {
      it->SeekToLast();
      it->Next();  // the last window there can be: done
      return false;
    }
    seek[i - 1] = static_cast<char>(static_cast<uint8_t>(seek[i - 1]) + 1);
    it->Seek(seek);
    return false;
  };
  if (q.newest_first) {
    it->SeekToLast();
  } else {
    it->SeekToFirst();
  }
  for (; it->Valid(); q.newest_first ? it->Prev() : it->Next()) {
    std::string_view k(it->key().data(), it->key().size());
    while (!firsts.empty() && it->Valid() && !skip_ahead(k)) {
      if (it->Valid()) k = std::string_view(it->key().data(), it->key().size());
    }
    if (!it->Valid()) break;
    if (!matches(k)) continue;
    if (++matched > q.limit) {
      out.truncated = true;
      break;
    }
    std::string_view v(it->value().data(), it->value().size());
    if (q.json_rows) out.rows.emplace_back(JsonPart(v));
    if (q.with_states) {
      StoredState st;
      std::string_view tuple = k.substr(prefix.size() + 8);
      st.window_start = WindowStartOf(k.substr(prefix.size(), 8));
      st.keys.assign(tuple);
      st.state.assign(StatePart(v));
      out.states.push_back(std::move(st));
    }
  }
  if (!it->status().ok()) return Fail("result store: query: {}", it->status().ToString());
  return out;
}

void ResultStore::RegisterMetric(const MetricSchema& schema) {
  std::lock_guard lock(impl_->mu);
  impl_->key_names[schema.id] = schema.key_names;
  std::string names;
  for (const auto& n : schema.key_names) names += n + '\0';
  (void)impl_->db->Put(rocksdb::WriteOptions(), std::string(1, kSchemaPrefix) + schema.id, names);
}

std::vector<std::string> ResultStore::Metrics() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> out;
  for (const auto& [m, names] : impl_->key_names) out.push_back(m);
  return out;
}

Result<QueryResult> ResultStore::QueryLate(const std::string& metric, Timestamp start, Timestamp end,
                                           size_t limit) const {
  QueryResult out;
  std::string prefix = MetricPrefix(kLatePrefix, metric);
  std::string lower = prefix, upper = prefix;
  PutBigEndian(SortableTime(start), lower);
  PutBigEndian(SortableTime(end), upper);
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro));
  for (it->Seek(lower); it->Valid(); it->Next()) {
    out.rows.emplace_back(it->value().data(), it->value().size());
    if (out.rows.size() >= limit) {
      it->Next();
      out.truncated = it->Valid();
      break;
    }
  }
  if (!it->status().ok()) return Fail("result store: query: {}", it->status().ToString());
  return out;
}

Status ResultStore::Flush() { return impl_->Track(FromRocks(impl_->db->FlushWAL(/*sync=*/true), "flush")); }

std::string ResultStore::Health() const {
  std::lock_guard lock(impl_->health_mu);
  return impl_->health;
}

uint64_t ResultStore::SizeBytes() const {
  uint64_t n = 0;
  impl_->db->GetIntProperty("rocksdb.total-sst-files-size", &n);
  uint64_t mem = 0;
  impl_->db->GetIntProperty("rocksdb.cur-size-all-mem-tables", &mem);
  return n + mem;
}

}  // namespace weir::store
