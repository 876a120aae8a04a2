// WindowMetric's report for /api/v1/status and /metrics: watermark, inputs, open panes or
// sessions, and for the oldest open window what holds it back and since when.
#include <fmt/format.h>

#include "weir/operators/window_metric.h"
#include "weir/operators/window_pane.h"

namespace weir::operators {
namespace {

std::string WindowText(const spec::WindowSpec& w) {
  switch (w.kind) {
    case spec::WindowKind::kTumbling:
      return "tumbling " + FormatDuration(w.size);
    case spec::WindowKind::kSliding:
      return fmt::format("sliding {} every {}", FormatDuration(w.size), FormatDuration(w.every));
    case spec::WindowKind::kCumulative:
      return fmt::format("cumulative {} every {}", FormatDuration(w.size), FormatDuration(w.every));
    case spec::WindowKind::kSession:
      return "session gap " + FormatDuration(w.size);
    case spec::WindowKind::kNone:
      return "none";
  }
  return "?";
}

void AppendTimeOrNull(std::string& s, Timestamp t) {
  if (t == kMinTimestamp || t == kMaxTimestamp) {
    s += "null";
  } else {
    AppendJson(s, Value::Time(t));
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Status

std::optional<Timestamp> WindowMetric::InputWatermark(uint32_t source) const {
  if (!Reads(source) || !plan_.event_time) return std::nullopt;
  std::optional<Timestamp> wm;
  for (const auto& in : inputs_) {
    if (in.source != source) continue;
    Timestamp w = in.ended ? kMaxTimestamp : SatSub(in.max_time, plan_.watermark);
    if (!wm || w < *wm) wm = w;
  }
  if (wm && (*wm == kMinTimestamp || *wm == kMaxTimestamp)) return std::nullopt;
  return wm;
}

StatusTotals WindowMetric::Totals() const {
  size_t state_rows = open_count_ + fired_sessions_.size();  // a session is one state row
  for (const auto& [start, p] : panes_) state_rows += p.rows();
  StatusTotals t{groups_.size(), state_rows, late_, emitted_rows_};
  t.open_sessions = open_count_;
  if (!open_heap_.empty() && Due(open_heap_.front())) {  // settled after every advance
    const Session& first = sessions_[open_heap_.front().id];
    t.oldest_session_start = first.start;
    t.oldest_session_end = first.end;
  }
  return t;
}

const WindowMetric::Input* WindowMetric::Holder(Timestamp now) const {
  const Input* holder = nullptr;
  for (const auto& in : inputs_)
    if (!in.ended && !Idle(in, now) && (!holder || in.max_time < holder->max_time)) holder = &in;
  return holder;
}

std::string WindowMetric::StatusJson(Timestamp now) const { return StatusJsonWith(now, Totals()); }

std::string WindowMetric::StatusJsonWith(Timestamp now, const StatusTotals& totals) const {
  const bool session = plan_.window.kind == spec::WindowKind::kSession;
  auto source_name = [&](const Input& in) {
    return in.source < plan_.source_ids.size() ? plan_.source_ids[in.source] : std::to_string(in.source);
  };
  std::string s = "{\"id\":";
  AppendJsonString(s, plan_.schema.id);
  s += ",\"window\":";
  AppendJsonString(s, WindowText(plan_.window));
  s += ",\"event_time\":";
  AppendJsonString(s, plan_.event_time ? plan_.event_time_text : "processing time");
  s += ",\"watermark\":";
  AppendTimeOrNull(s, watermark_);
  s += fmt::format(",\"open_panes\":{}", panes_.size());
  if (session) s += fmt::format(",\"open_sessions\":{}", totals.open_sessions);
  s += fmt::format(",\"groups\":{},\"state_rows\":{},\"late_records\":{},\"invalid_event_time\":{},\"emitted_rows\":{}",
                   totals.groups, totals.state_rows, totals.late, invalid_time_, totals.emitted_rows);
  s += ",\"inputs\":[";
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const Input& in = inputs_[i];
    if (i) s += ',';
    s += "{\"source\":";
    AppendJsonString(s, source_name(in));
    s += fmt::format(",\"partition\":{},\"max_event_time\":", in.partition);
    AppendTimeOrNull(s, in.max_time);
    s += ",\"state\":\"";
    s += in.ended ? "ended" : Idle(in, now) ? "idle" : in.max_time == kMinTimestamp ? "waiting" : "active";
    s += fmt::format("\",\"ms_since_last_record\":{}}}", now - in.last_seen);
  }
  s += "]";
  // The oldest window that has not fired (for sessions, the open session that ends first), and
  // what it is waiting for: which input holds the watermark back, and since when.
  Timestamp first_start = kMinTimestamp, first_end = kMaxTimestamp;
  if (session) {
    if (totals.open_sessions > 0) {
      first_start = totals.oldest_session_start;
      first_end = totals.oldest_session_end;
    }
  } else if (!panes_.empty() && plan_.window.kind != spec::WindowKind::kNone) {
    for (const auto& [start, p] : panes_) {
      for (Timestamp e = start + pane_size(); e <= LastWindowEnd(start); e += pane_size())
        if (e > fired_upto_) {
          first_end = std::min(first_end, e);
          break;
        }
    }
    first_start = WindowStart(first_end);
  }
  if (first_end != kMaxTimestamp) {
    s += ",\"oldest_open_window\":{\"start\":";
    AppendTimeOrNull(s, first_start);
    s += ",\"end\":";
    AppendTimeOrNull(s, first_end);
    const Input* holder = plan_.event_time ? Holder(now) : nullptr;
    s += ",\"held_by\":";
    if (holder) {
      s += "{\"source\":";
      AppendJsonString(s, source_name(*holder));
      s += fmt::format(",\"partition\":{},\"max_event_time\":", holder->partition);
      AppendTimeOrNull(s, holder->max_time);
      s += fmt::format(",\"ms_since_last_record\":{}}}", now - holder->last_seen);
    } else {
      s += "null";
    }
    s += ",\"watermark_advanced_at\":";
    AppendTimeOrNull(s, watermark_moved_at_);
    s += fmt::format(",\"ms_since_watermark_advanced\":{}", now - watermark_moved_at_);
    const std::string since =
        fmt::format("the watermark {} at {} ({} ms ago)",
                    watermark_ == kMinTimestamp ? "has not advanced since the metric started" : "last advanced",
                    FormatIso8601(watermark_moved_at_), now - watermark_moved_at_);
    std::string why;
    if (!plan_.event_time) {
      why = fmt::format("processing time: fires when the clock passes the window end plus the {} bound",
                        FormatDuration(plan_.watermark));
    } else if (holder && holder->max_time == kMinTimestamp) {
      why = fmt::format("source '{}' partition {} has sent no event yet, so the watermark cannot advance{}; {}",
                        source_name(*holder), holder->partition,
                        plan_.idle_timeout ? "" : " (set idle_timeout to stop waiting for quiet inputs)", since);
    } else if (holder) {
      why = fmt::format(
          "watermark {} is behind the window end; it is held back by source '{}' partition {} (max event time {}, "
          "last record {} ms ago, bound {}); {}",
          watermark_ == kMinTimestamp ? std::string("(none)") : FormatIso8601(watermark_), source_name(*holder),
          holder->partition, FormatIso8601(holder->max_time), now - holder->last_seen, FormatDuration(plan_.watermark),
          since);
    } else {
      why = fmt::format(
          "no input is active (each has ended or is idle): the watermark {} is as far as the furthest of them "
          "reached, minus the {} bound, and waits for new events; {}",
          watermark_ == kMinTimestamp ? std::string("(none)") : FormatIso8601(watermark_),
          FormatDuration(plan_.watermark), since);
    }
    s += ",\"waiting_for\":";
    AppendJsonString(s, why);
    s += "}";
  }
  s += "}";
  return s;
}

}  // namespace weir::operators
