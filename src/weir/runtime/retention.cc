#include "weir/runtime/retention.h"

#include <algorithm>

#include "weir/base/log.h"

namespace weir::runtime {
namespace {
constexpr int kWindowsPerRun = 64;  // coarse windows written per level per run, to stay short
}

std::string RetentionJob::TierId(std::string_view metric, Duration window) {
  return fmt::format("{}@{}", metric, FormatDuration(window));
}

RetentionJob::RetentionJob(store::ResultStore& store, const std::vector<std::unique_ptr<Metric>>& metrics)
    : store_(store) {
  for (const auto& m : metrics) {
    const spec::RetentionSpec& r = m->retention();
    if (!r.keep && r.downsample.empty()) continue;
    Tracked t{m.get(), {}, {}};
    t.levels.push_back({m->schema().id, m->schema().window_size, kMinTimestamp, kMaxTimestamp});
    t.known.push_back(true);
    for (const auto& tier : r.downsample) {
      MetricSchema schema = m->schema();
      schema.id = TierId(m->schema().id, tier.window);
      store_.RegisterMetric(schema);
      t.levels.push_back({schema.id, tier.window, kMinTimestamp, kMinTimestamp});
      t.known.push_back(false);
    }
    tracked_.push_back(std::move(t));
  }
}

std::vector<RetentionLevel> RetentionJob::Levels(std::string_view metric) const {
  std::lock_guard lock(mu_);
  for (const auto& t : tracked_)
    if (t.metric->schema().id == metric) return t.levels;
  return {};
}

void RetentionJob::Run() {
  for (auto& t : tracked_) RunOne(t);
}

void RetentionJob::RunOne(Tracked& t) {
  const MetricSchema& schema = t.metric->schema();
  Timestamp wm = t.metric->Numbers().watermark;
  if (wm == kMinTimestamp) return;
  if (wm == kMaxTimestamp) {
    // Every input ended: measure ages against the newest result instead.
    auto newest = store_.NewestWindow(schema.id);
    if (!newest || !*newest) return;
    wm = **newest + schema.window_size + schema.allowed_lateness;
  }
  const spec::RetentionSpec& r = t.metric->retention();
  std::vector<RetentionLevel> levels;
  {
    std::lock_guard lock(mu_);
    levels = t.levels;
  }
  // Downsample level k-1 into level k.
  for (size_t k = 1; k < levels.size(); ++k) {
    RetentionLevel& level = levels[k];
    const RetentionLevel& source = levels[k - 1];
    if (!t.known[k]) {
      auto newest = store_.NewestWindow(level.id);
      if (!newest) return;
      if (*newest) {
        level.upto = **newest + level.window;
      } else {
        auto oldest = store_.OldestWindow(source.id);
        if (!oldest) return;
        if (!*oldest) continue;  // nothing to downsample yet
        level.upto = AlignDown(**oldest, level.window);
      }
      t.known[k] = true;
    }
    Timestamp complete = AlignDown(wm - schema.allowed_lateness, level.window);
    Timestamp hi = std::min(complete, level.upto + kWindowsPerRun * level.window);
    if (k > 1) hi = std::min(hi, source.upto);  // only what the level below has finished
    if (hi <= level.upto) continue;
    store::ResultQuery q;
    q.metric = source.id;
    q.start = level.upto;
    q.end = hi;
    q.with_states = true;
    q.json_rows = false;
    q.limit = SIZE_MAX;
    auto rows = store_.Query(q);
    if (!rows) {
      WEIR_LOG_WARN("downsampling {}: {}", level.id, rows.error().message);
      return;
    }
    ReaggregateRequest req{level.window, schema.key_names};
    std::vector<store::StoredState> merged;
    auto json = t.metric->Reaggregate(rows->states, req, &merged);
    if (!json) {
      WEIR_LOG_WARN("downsampling {}: {}", level.id, json.error().message);
      return;
    }
    if (auto st = store_.PutRows(level.id, merged, *json); !st) {
      WEIR_LOG_WARN("downsampling {}: {}", level.id, st.error().message);
      return;
    }
    level.upto = hi;
  }
  // Retention: drop what is older than each level's keep, once the next level has it. Queries
  // wait while rows go and the levels saying so are published (LockForQuery).
  std::unique_lock deleting(query_mu_);
  auto keep_of = [&](size_t k) -> std::optional<Duration> {
    return k == 0 ? r.keep : r.downsample[k - 1].keep;
  };
  for (size_t k = 0; k < levels.size(); ++k) {
    auto keep = keep_of(k);
    if (!keep) continue;
    Timestamp cutoff = AlignDown(wm - *keep, levels[k].window);
    if (k + 1 < levels.size()) cutoff = std::min(cutoff, levels[k + 1].upto);
    if (cutoff <= levels[k].from && levels[k].from != kMinTimestamp) continue;
    if (auto st = store_.DeleteBefore(levels[k].id, cutoff); !st) {
      WEIR_LOG_WARN("retention of {}: {}", levels[k].id, st.error().message);
      continue;
    }
    levels[k].from = cutoff;
  }
  std::lock_guard lock(mu_);
  t.levels = std::move(levels);
}

}  // namespace weir::runtime
