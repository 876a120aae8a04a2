// Session windows of WindowMetric: per group, a session runs from its first event to its last
// event plus the gap; a record within the gap of a session joins it, and a record that bridges
// two sessions merges them. A session fires when the watermark passes its end. When a session
// that was already emitted moves its start or is merged away, its earlier row is deleted.
#include "weir/operators/window_metric.h"

#include <algorithm>

namespace weir::operators {
namespace {

int64_t& NetCount(char* state) { return *reinterpret_cast<int64_t*>(state); }

}  // namespace

void WindowMetric::QueueDeletion(const Session& s) {
  if (s.revision == 0) return;
  pending_deletions_.push_back({s.group, nullptr, s.emitted_start, s.emitted_end, s.revision + 1, true});
}

void WindowMetric::QueueOpen(uint32_t id) {
  Session& s = sessions_[id];
  s.queued = true;
  open_heap_.push_back({s.end, id, s.gen});
  std::push_heap(open_heap_.begin(), open_heap_.end(), std::greater<>());
}

void WindowMetric::SettleOpenTop() {
  while (!open_heap_.empty()) {
    const SessionDue top = open_heap_.front();
    const bool due = Due(top);
    if (due && sessions_[top.id].end == top.end) return;
    std::pop_heap(open_heap_.begin(), open_heap_.end(), std::greater<>());
    open_heap_.pop_back();
    if (due) {  // the session grew since it was queued: queue it at its end
      open_heap_.push_back({sessions_[top.id].end, top.id, top.gen});
      std::push_heap(open_heap_.begin(), open_heap_.end(), std::greater<>());
    }
  }
}

void WindowMetric::DestroySession(uint32_t id) {
  Session& s = sessions_[id];
  for (const auto& a : plan_.aggregates)
    if (a.fn->has_destructor()) a.fn->Destroy(s.state.get() + a.offset);
  if (s.fired)
    fired_sessions_.erase({s.end, id});
  else
    --open_count_;
  ++s.gen;  // its open_heap_ entry, if any, is stale now
  s.queued = false;
  auto& ids = SessionsOf(s.group);
  ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
  groups_.Unref(s.group);
  s.state.reset();
  s.alive = false;
  free_sessions_.push_back(id);
}

bool WindowMetric::SessionLive(const Session& s, Timestamp wm) const {
  // A fired session past the allowed lateness is closed for good, even before FireSessions
  // gets around to dropping it.
  return !(s.fired && SatAdd(s.end, plan_.allowed_lateness) <= wm);
}

bool WindowMetric::SessionMerges(uint32_t group, Timestamp t, Timestamp wm) const {
  if (group >= group_sessions_.size()) return false;
  const auto& ids = group_sessions_[group];
  if (ids.size() < 2) return false;  // a merge needs two sessions
  const Timestamp t_end = SatAdd(t, plan_.window.size);
  int matches = 0;
  for (uint32_t id : ids) {
    const Session& s = sessions_[id];
    matches += t_end > s.start && t < s.end && SessionLive(s, wm);
  }
  return matches > 1;
}

char* WindowMetric::AssignSession(uint32_t group, Timestamp t, int8_t weight, Timestamp wm) {
  const Duration gap = plan_.window.size;
  const Timestamp t_end = SatAdd(t, gap);
  uint32_t target = UINT32_MAX;
  Timestamp start = t, end = t_end;
  std::vector<uint32_t> merged;
  {
    for (uint32_t id : SessionsOf(group)) {
      const Session& s = sessions_[id];
      if (t_end > s.start && t < s.end && SessionLive(s, wm)) {
        // The earliest session absorbs the others: which one that is depends on the data alone
        // (not on the order sessions were created or restored in), and its row keeps its key
        // (the start) unless the record itself comes earlier.
        if (target == UINT32_MAX) {
          target = id;
        } else if (s.start < sessions_[target].start) {
          merged.push_back(target);
          target = id;
        } else {
          merged.push_back(id);
        }
        start = std::min(start, s.start);
        end = std::max(end, s.end);
      }
    }
  }
  if (target == UINT32_MAX) {
    // A retraction for a session no longer held, or a record whose session would already be
    // past the allowed lateness: the caller sends it to the late output.
    if (weight < 0 || (plan_.event_time && SatAdd(t_end, plan_.allowed_lateness) <= wm)) return nullptr;
    uint32_t id;
    if (!free_sessions_.empty()) {
      id = free_sessions_.back();
      free_sessions_.pop_back();
    } else {
      id = static_cast<uint32_t>(sessions_.size());
      sessions_.emplace_back();
    }
    Session& s = sessions_[id];
    const uint32_t gen = s.gen;
    s = Session{};
    s.gen = gen;
    s.start = t;
    s.end = t_end;
    s.group = group;
    s.state = std::make_unique<char[]>(plan_.state_size);
    NetCount(s.state.get()) = 0;
    for (const auto& a : plan_.aggregates) a.fn->Init(s.state.get() + a.offset);
    s.alive = true;
    s.dirty = true;
    groups_.Ref(group);
    SessionsOf(group).push_back(id);
    ++open_count_;
    QueueOpen(id);
    return s.state.get();
  }

  for (uint32_t id : merged) {
    Session& s = sessions_[target];
    Session& o = sessions_[id];
    NetCount(s.state.get()) = aggregate::AddCount(NetCount(s.state.get()), NetCount(o.state.get()));
    for (const auto& a : plan_.aggregates) a.fn->Merge(s.state.get() + a.offset, o.state.get() + a.offset);
    QueueDeletion(o);
    DestroySession(id);
  }
  Session& t_s = sessions_[target];
  if (t_s.revision > 0 && start != t_s.emitted_start) {
    // The row is keyed by the session start: the old row goes, the new one starts over.
    QueueDeletion(t_s);
    t_s.revision = 0;
  }
  // An open session just grows: its open_heap_ entry stays (behind; see SessionDue).
  if (t_s.fired) fired_sessions_.erase({t_s.end, target});
  t_s.start = start;
  t_s.end = end;
  if (t_s.fired && end > wm) {  // extended past the watermark: open again
    t_s.fired = false;
    ++open_count_;
    QueueOpen(target);
  }
  if (t_s.fired) fired_sessions_.insert({t_s.end, target});
  if (t_s.fired && !t_s.dirty) dirty_fired_.push_back(target);
  t_s.dirty = true;
  return t_s.state.get();
}

void WindowMetric::SortSessionItems(std::vector<EmitItem>& items) const {
  // Session ids and group ids depend on allocation order, which differs after a restore; rows
  // (and so their sequence numbers) go out in an order that depends on the data alone.
  std::stable_sort(items.begin(), items.end(), [&](const EmitItem& a, const EmitItem& b) {
    if (a.end != b.end) return a.end < b.end;
    if (a.start != b.start) return a.start < b.start;
    return groups_.key(a.group) < groups_.key(b.group);
  });
}

void WindowMetric::FireSessions(Timestamp wm, runtime::Emitter& out) {
  std::vector<EmitItem> items = std::move(pending_deletions_);
  pending_deletions_.clear();
  auto emit = [&](uint32_t id) {
    Session& s = sessions_[id];
    // Never shown and empty (its records retracted): no row, and no revision, so that no
    // deletion is sent later for a row that never existed.
    if (s.revision == 0 && NetCount(s.state.get()) <= 0) {
      s.dirty = false;
      return;
    }
    ++s.revision;
    s.emitted_start = s.start;
    s.emitted_end = s.end;
    s.dirty = false;
    items.push_back({s.group, s.state.get(), s.start, s.end, s.revision, false});
  };
  // Sessions already fired and changed since (late records within the allowed lateness).
  for (uint32_t id : dirty_fired_)
    if (sessions_[id].alive && sessions_[id].fired && sessions_[id].dirty) emit(id);
  dirty_fired_.clear();
  while (true) {
    SettleOpenTop();
    if (open_heap_.empty() || open_heap_.front().end > wm) break;
    const uint32_t id = open_heap_.front().id;
    std::pop_heap(open_heap_.begin(), open_heap_.end(), std::greater<>());
    open_heap_.pop_back();
    Session& s = sessions_[id];
    s.fired = true;
    s.queued = false;
    --open_count_;
    fired_sessions_.insert({s.end, id});
    emit(id);
  }
  SortSessionItems(items);
  if (!items.empty()) EmitItems(items, /*final=*/true, /*sorted_window=*/false, false, std::nullopt, out);
  while (!fired_sessions_.empty() && SatAdd(fired_sessions_.begin()->first, plan_.allowed_lateness) <= wm)
    DestroySession(fired_sessions_.begin()->second);
}

void WindowMetric::EmitSessionsEarly(runtime::Emitter& out) {
  std::vector<EmitItem> items = std::move(pending_deletions_);
  pending_deletions_.clear();
  for (const SessionDue& e : open_heap_) {
    if (!Due(e)) continue;
    Session& s = sessions_[e.id];
    if (!s.dirty) continue;
    if (s.revision == 0 && NetCount(s.state.get()) <= 0) {  // as in FireSessions
      s.dirty = false;
      continue;
    }
    ++s.revision;
    s.emitted_start = s.start;
    s.emitted_end = s.end;
    s.dirty = false;
    items.push_back({s.group, s.state.get(), s.start, s.end, s.revision, false});
  }
  SortSessionItems(items);
  if (!items.empty()) EmitItems(items, /*final=*/false, /*sorted_window=*/false, false, std::nullopt, out);
}

}  // namespace weir::operators
