#include "weir/model/results.h"

namespace weir {

void AppendResultJson(const MetricSchema& schema, const ResultRow& row, std::string& out) {
  out.append("{\"metric\":");
  AppendJsonString(out, schema.id);
  if (schema.windowed) {
    out.append(",\"window_start\":");
    AppendJson(out, Value::Time(row.window_start));
    out.append(",\"window_end\":");
    AppendJson(out, Value::Time(row.window_end));
  }
  for (size_t i = 0; i < schema.key_names.size(); ++i) {
    out.push_back(',');
    AppendJsonString(out, schema.key_names[i]);
    out.push_back(':');
    AppendJson(out, row.keys[i]);
  }
  for (size_t i = 0; i < schema.value_names.size(); ++i) {
    out.push_back(',');
    AppendJsonString(out, schema.value_names[i]);
    out.push_back(':');
    AppendJson(out, row.values[i]);
  }
  out.append(",\"revision\":");
  AppendJson(out, Value::Int(static_cast<int64_t>(row.revision)));
  out.append(row.final ? ",\"final\":true" : ",\"final\":false");
  out.append(row.deleted ? ",\"deleted\":true}" : "}");
}

void AppendLateJson(const MetricSchema& schema, const LateRecord& rec, std::string& out) {
  out.append("{\"metric\":");
  AppendJsonString(out, schema.id);
  out.append(",\"event_time\":");
  AppendJson(out, Value::Time(rec.event_time));
  out.append(",\"window_start\":");
  AppendJson(out, Value::Time(rec.window_start));
  out.append(",\"watermark\":");
  AppendJson(out, Value::Time(rec.watermark));
  out.append(",\"event\":");
  if (rec.raw.empty()) {
    out.append("null");
  } else {
    out.append(rec.raw);
  }
  out.push_back('}');
}

}  // namespace weir
