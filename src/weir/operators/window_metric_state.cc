// Saving and restoring a WindowMetric's state for checkpoints.
//
// Layout (little-endian; strings as length + bytes): a version, the counters and watermark
// bookkeeping, the inputs, the window revisions, then every pane (start, rows: group key bytes,
// flags, net count, each aggregate's own encoding) and every session, and pending deletions.
// Group ids are not saved: rows carry their key bytes and are interned again on restore.
#include "weir/aggregate/state_io.h"
#include "weir/base/hash.h"
#include "weir/operators/window_metric.h"
#include "weir/operators/window_pane.h"

namespace weir::operators {
namespace {

using aggregate::GetBytes;
using aggregate::GetI64;
using aggregate::GetU64;
using aggregate::PutBytes;
using aggregate::PutI64;
using aggregate::PutU64;

constexpr uint64_t kStateVersion = 1;
/// A partitioned metric's state: its sequence number and emitted-row count, then each shard's
/// state as SaveState wrote it.
constexpr uint64_t kPartitionedVersion = 2;

}  // namespace

uint64_t WindowMetric::StateFingerprint() const { return Hash64(plan_.definition); }

void WindowMetric::SaveState(std::string& out) const {
  PutU64(out, kStateVersion);
  PutI64(out, watermark_);
  PutI64(out, fired_upto_);
  PutU64(out, seq_);
  PutU64(out, late_);
  PutU64(out, invalid_time_);
  PutU64(out, emitted_rows_);
  PutU64(out, inputs_.size());
  for (const Input& in : inputs_) {
    PutU64(out, in.source);
    PutU64(out, in.partition);
    PutI64(out, in.max_time);
    PutU64(out, in.ended ? 1 : 0);
  }
  PutU64(out, revisions_.size());
  for (const auto& [end, rev] : revisions_) {
    PutI64(out, end);
    PutU64(out, rev);
  }
  auto put_state = [&](const char* state) {
    PutI64(out, *reinterpret_cast<const int64_t*>(state));
    for (const auto& a : plan_.aggregates) a.fn->Serialize(state + a.offset, out);
  };
  PutU64(out, panes_.size());
  for (const auto& [start, pane] : panes_) {
    PutI64(out, start);
    PutU64(out, pane.rows());
    for (uint32_t r = 0; r < pane.rows(); ++r) {
      PutBytes(out, groups_.key(pane.group_of[r]));
      PutU64(out, pane.dirty[r]);
      put_state(const_cast<Pane&>(pane).row(r));
    }
  }
  uint64_t live = 0;
  for (const Session& s : sessions_) live += s.alive;
  PutU64(out, live);
  for (const Session& s : sessions_) {
    if (!s.alive) continue;
    PutBytes(out, groups_.key(s.group));
    PutI64(out, s.start);
    PutI64(out, s.end);
    PutU64(out, s.revision);
    PutI64(out, s.emitted_start);
    PutI64(out, s.emitted_end);
    PutU64(out, (s.fired ? 1 : 0) | (s.dirty ? 2 : 0));
    put_state(s.state.get());
  }
  PutU64(out, pending_deletions_.size());
  for (const EmitItem& d : pending_deletions_) {
    PutBytes(out, groups_.key(d.group));
    PutI64(out, d.start);
    PutI64(out, d.end);
    PutU64(out, d.revision);
  }
}

void WindowMetric::Clear() {
  while (!panes_.empty()) DropPane(panes_.begin());
  for (uint32_t id = 0; id < sessions_.size(); ++id)
    if (sessions_[id].alive) DestroySession(id);
  sessions_.clear();
  free_sessions_.clear();
  group_sessions_.clear();
  open_heap_.clear();
  open_count_ = 0;
  fired_sessions_.clear();
  pending_deletions_.clear();
  dirty_fired_.clear();
  revisions_.clear();
  watermark_ = fired_upto_ = kMinTimestamp;
  seq_ = late_ = invalid_time_ = emitted_rows_ = 0;
}

void WindowMetric::PutPartitioned(uint64_t seq, uint64_t emitted_rows, const std::vector<std::string>& shards,
                                  std::string& out) {
  PutU64(out, kPartitionedVersion);
  PutU64(out, seq);
  PutU64(out, emitted_rows);
  PutU64(out, shards.size());
  for (const auto& s : shards) PutBytes(out, s);
}

Status WindowMetric::RestoreState(std::string_view in) {
  uint64_t seq = 0, emitted = 0;
  WEIR_RETURN_IF_ERROR(RestorePart(in, &seq, &emitted));
  seq_ = seq;
  emitted_rows_ = emitted;
  return Ok();
}

Status WindowMetric::RestorePart(std::string_view saved, uint64_t* seq, uint64_t* emitted_rows) {
  // Start from nothing: whatever the metric holds now is replaced.
  Clear();
  std::string_view in = saved;
  uint64_t version;
  WEIR_RETURN_IF_ERROR(GetU64(in, &version));
  if (version == kStateVersion) {
    WEIR_RETURN_IF_ERROR(LoadSaved(saved, true));
    *seq = seq_;
    *emitted_rows = emitted_rows_;
  } else if (version == kPartitionedVersion) {
    // Written by shards that may have been more or fewer than now: every shard's watermarks
    // and windows are the same, so the first gives those; each gives the rows it held, of
    // which this shard keeps its own.
    uint64_t n;
    WEIR_RETURN_IF_ERROR(GetU64(in, seq));
    WEIR_RETURN_IF_ERROR(GetU64(in, emitted_rows));
    WEIR_RETURN_IF_ERROR(GetU64(in, &n));
    if (n == 0) return Fail("metric '{}': saved state has no shards", plan_.schema.id);
    for (uint64_t i = 0; i < n; ++i) {
      std::string_view part;
      WEIR_RETURN_IF_ERROR(GetBytes(in, &part));
      WEIR_RETURN_IF_ERROR(LoadSaved(part, i == 0));
    }
    if (!in.empty()) return Fail("metric '{}': {} unexpected bytes after the saved state", plan_.schema.id, in.size());
  } else {
    return Fail("metric '{}': unknown state version {}", plan_.schema.id, version);
  }
  // LoadSaved added up the late records every saved shard counted: shard 0 reports the total.
  if (shard_ != 0) late_ = 0;
  next_fire_ = NextFireEnd();
  return Ok();
}

Status WindowMetric::LoadSaved(std::string_view in, bool control) {
  uint64_t version, n;
  WEIR_RETURN_IF_ERROR(GetU64(in, &version));
  if (version != kStateVersion) return Fail("metric '{}': unknown state version {}", plan_.schema.id, version);
  Timestamp watermark, fired_upto;
  uint64_t seq, late, invalid, emitted;
  WEIR_RETURN_IF_ERROR(GetI64(in, &watermark));
  WEIR_RETURN_IF_ERROR(GetI64(in, &fired_upto));
  WEIR_RETURN_IF_ERROR(GetU64(in, &seq));
  WEIR_RETURN_IF_ERROR(GetU64(in, &late));
  WEIR_RETURN_IF_ERROR(GetU64(in, &invalid));
  WEIR_RETURN_IF_ERROR(GetU64(in, &emitted));
  late_ += late;
  if (control) {
    watermark_ = watermark;
    fired_upto_ = fired_upto;
    seq_ = seq;
    invalid_time_ = invalid;
    emitted_rows_ = emitted;
  }
  WEIR_RETURN_IF_ERROR(GetU64(in, &n));
  Timestamp now = Now();
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t source, partition, ended;
    int64_t max_time;
    WEIR_RETURN_IF_ERROR(GetU64(in, &source));
    WEIR_RETURN_IF_ERROR(GetU64(in, &partition));
    WEIR_RETURN_IF_ERROR(GetI64(in, &max_time));
    WEIR_RETURN_IF_ERROR(GetU64(in, &ended));
    if (!control) continue;
    Input& input = InputFor(static_cast<uint32_t>(source), static_cast<uint32_t>(partition));
    input.max_time = max_time;
    input.ended = ended != 0;
    input.last_seen = now;
  }
  WEIR_RETURN_IF_ERROR(GetU64(in, &n));
  for (uint64_t i = 0; i < n; ++i) {
    int64_t end;
    uint64_t rev;
    WEIR_RETURN_IF_ERROR(GetI64(in, &end));
    WEIR_RETURN_IF_ERROR(GetU64(in, &rev));
    if (control) revisions_[end] = rev;
  }
  auto get_state = [&](char* state) -> Status {
    WEIR_RETURN_IF_ERROR(GetI64(in, reinterpret_cast<int64_t*>(state)));
    for (const auto& a : plan_.aggregates) WEIR_RETURN_IF_ERROR(a.fn->Deserialize(state + a.offset, in));
    return Ok();
  };
  // Rows another shard owns are read past.
  auto mine = [&](std::string_view key) { return shards_ == 1 || ShardOf(key, shards_) == shard_; };
  auto skip_state = [&]() -> Status {
    auto scratch = std::make_unique<char[]>(plan_.state_size);
    for (const auto& a : plan_.aggregates) a.fn->Init(scratch.get() + a.offset);
    Status st = get_state(scratch.get());
    for (const auto& a : plan_.aggregates)
      if (a.fn->has_destructor()) a.fn->Destroy(scratch.get() + a.offset);
    return st;
  };
  WEIR_RETURN_IF_ERROR(GetU64(in, &n));
  for (uint64_t i = 0; i < n; ++i) {
    int64_t start;
    uint64_t rows;
    WEIR_RETURN_IF_ERROR(GetI64(in, &start));
    WEIR_RETURN_IF_ERROR(GetU64(in, &rows));
    Pane& pane = PaneAt(start);
    uint8_t any = control ? 0 : pane.any_dirty;
    for (uint64_t r = 0; r < rows; ++r) {
      std::string_view key;
      uint64_t flags;
      WEIR_RETURN_IF_ERROR(GetBytes(in, &key));
      WEIR_RETURN_IF_ERROR(GetU64(in, &flags));
      // A pane is marked changed when any group's row in it is, whichever shard holds it.
      any |= static_cast<uint8_t>(flags);
      if (!mine(key)) {
        WEIR_RETURN_IF_ERROR(skip_state());
        continue;
      }
      char* row = RowFor(pane, groups_.Intern(key));
      WEIR_RETURN_IF_ERROR(get_state(row));
      pane.dirty.back() = static_cast<uint8_t>(flags);
    }
    pane.any_dirty = any;
  }
  WEIR_RETURN_IF_ERROR(GetU64(in, &n));
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view key;
    Session s;
    uint64_t flags;
    WEIR_RETURN_IF_ERROR(GetBytes(in, &key));
    WEIR_RETURN_IF_ERROR(GetI64(in, &s.start));
    WEIR_RETURN_IF_ERROR(GetI64(in, &s.end));
    WEIR_RETURN_IF_ERROR(GetU64(in, &s.revision));
    WEIR_RETURN_IF_ERROR(GetI64(in, &s.emitted_start));
    WEIR_RETURN_IF_ERROR(GetI64(in, &s.emitted_end));
    WEIR_RETURN_IF_ERROR(GetU64(in, &flags));
    if (!mine(key)) {
      WEIR_RETURN_IF_ERROR(skip_state());
      continue;
    }
    s.group = groups_.Intern(key);
    groups_.Ref(s.group);
    s.fired = flags & 1;
    s.dirty = flags & 2;
    s.alive = true;
    s.state = std::make_unique<char[]>(plan_.state_size);
    for (const auto& a : plan_.aggregates) a.fn->Init(s.state.get() + a.offset);
    uint32_t id = static_cast<uint32_t>(sessions_.size());
    sessions_.push_back(std::move(s));
    Session& added = sessions_.back();
    WEIR_RETURN_IF_ERROR(get_state(added.state.get()));
    SessionsOf(added.group).push_back(id);
    if (added.fired) {
      fired_sessions_.insert({added.end, id});
    } else {
      ++open_count_;
      QueueOpen(id);
    }
    if (added.fired && added.dirty) dirty_fired_.push_back(id);
  }
  WEIR_RETURN_IF_ERROR(GetU64(in, &n));
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view key;
    EmitItem d{0, nullptr, 0, 0, 0, true};
    WEIR_RETURN_IF_ERROR(GetBytes(in, &key));
    WEIR_RETURN_IF_ERROR(GetI64(in, &d.start));
    WEIR_RETURN_IF_ERROR(GetI64(in, &d.end));
    WEIR_RETURN_IF_ERROR(GetU64(in, &d.revision));
    if (!mine(key)) continue;
    d.group = groups_.Intern(key);  // kept alive by the session of the same group
    pending_deletions_.push_back(d);
  }
  if (!in.empty()) return Fail("metric '{}': {} unexpected bytes after the saved state", plan_.schema.id, in.size());
  return Ok();
}

}  // namespace weir::operators
