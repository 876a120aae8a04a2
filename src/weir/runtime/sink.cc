#include "weir/runtime/sink.h"

namespace weir::runtime {

void Sink::SetLayout(const Layout* layout) {
  computed_.clear();
  for (uint32_t s = 0; s < layout->width(); ++s)
    if (layout->field(s).computed) computed_.emplace_back(s, layout->field(s).path);
}

Status LineSink::WriteEvents(const Batch& batch) {
  buf_.clear();
  size_t count = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    std::string_view raw = batch.raw(i);
    // The two rows of an update share one envelope: write it once.
    if (i > 0 && raw.data() == batch.raw(i - 1).data()) continue;
    size_t close = raw.rfind('}');
    if (computed_.empty() || close == std::string_view::npos) {
      buf_.append(raw);
    } else {
      // Computed fields are added to the event as it was received.
      buf_.append(raw.substr(0, close));
      bool empty_object = raw.find_first_not_of(" \t\r\n", raw.find('{') + 1) == close;
      for (const auto& [slot, name] : computed_) {
        if (!empty_object) buf_.push_back(',');
        empty_object = false;
        AppendJsonString(buf_, name);
        buf_.push_back(':');
        AppendJson(buf_, batch.at(i, slot));
      }
      buf_.push_back('}');
    }
    buf_.push_back('\n');
    ++count;
  }
  return WriteLines(buf_, count);
}

Status LineSink::WriteResults(const ResultBatch& batch) {
  buf_.clear();
  for (const ResultRow& row : batch.rows) {
    AppendResultJson(*batch.schema, row, buf_);
    buf_.push_back('\n');
  }
  return WriteLines(buf_, batch.rows.size());
}

Status LineSink::WriteLate(const LateBatch& batch) {
  buf_.clear();
  for (const LateRecord& r : batch.records) {
    AppendLateJson(*batch.schema, r, buf_);
    buf_.push_back('\n');
  }
  return WriteLines(buf_, batch.records.size());
}

}  // namespace weir::runtime
