// A batch of records: the unit that moves through a pipeline.
//
// Records are rows of Values laid out by a Layout (row-major, `width` slots each). Each record
// has a weight, +1 for an insert and -1 for a retraction (an update is a retraction of the old
// row and an insert of the new one), and the raw bytes it was decoded from, for sinks that pass
// events through. String Values point into the batch's input buffers or its arena, which live
// as long as the batch.
//
//   Batch b(layout.width());
//   size_t i = b.AddRow(+1, raw_json);
//   b.at(i, amount_slot) = Value::Double(9.5);
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "weir/base/arena.h"
#include "weir/base/time.h"
#include "weir/model/value.h"

namespace weir {

/// Where a batch came from: which source, which of its partitions, and the source position
/// just after the batch (a WAL offset, a Kafka offset, a file offset).
struct Origin {
  uint32_t source = 0;     ///< index of the source in the pipeline
  uint32_t partition = 0;  ///< partition within the source
  int64_t position = -1;   ///< source-defined position after this batch; -1 if none
};

/// Rows of Values with weights and raw bytes. Movable, not copyable.
class Batch {
 public:
  explicit Batch(uint32_t width = 0) : width_(width), arena_(16 * 1024) {}
  Batch(Batch&&) = default;
  Batch& operator=(Batch&&) = default;

  uint32_t width() const { return width_; }
  size_t size() const { return weights_.size(); }
  bool empty() const { return weights_.empty(); }

  /// Appends a record with every slot null; returns its index.
  size_t AddRow(int8_t weight, std::string_view raw = {}) {
    size_t i = weights_.size();
    weights_.push_back(weight);
    raw_.push_back(raw);
    filtered_.push_back(0);
    if (time_slot_ >= 0) times_.push_back(kMinTimestamp);
    size_t need = (i + 1) * width_;
    if (buffer_.capacity < need) GrowValues(std::max(need, buffer_.capacity * 2));
    std::fill_n(buffer_.values.get() + i * width_, width_, Value());
    return i;
  }
  /// Drops the last record (a decoder that failed half-way through one).
  void PopRow() {
    weights_.pop_back();
    raw_.pop_back();
    filtered_count_ -= filtered_.back();
    filtered_.pop_back();
    if (time_slot_ >= 0) times_.pop_back();
  }

  /// Marks record `i` as wanted by no metric: the decoder's gate (codec::DecodeGate) found every
  /// metric's `where` false and read only what the watermark needs (the event time). Metrics
  /// then skip it without evaluating anything but its event time.
  void MarkFiltered(size_t i) {
    filtered_count_ += !filtered_[i];
    filtered_[i] = 1;
  }
  bool filtered(size_t i) const { return filtered_[i] != 0; }
  /// Records marked by MarkFiltered; filtered_flags()[i] is 1 for each of them.
  size_t filtered_count() const { return filtered_count_; }
  const uint8_t* filtered_flags() const { return filtered_.data(); }

  /// Event times read by the decoder: with times on for `slot`, each record carries the
  /// EventTimeOf its value at `slot` (kMinTimestamp when it has none), set by SetTime while the
  /// input is in cache, so that metrics whose event time is that field need not convert it.
  /// Can be turned on only while the batch is empty; true if on for `slot` afterwards.
  bool TimesFor(uint32_t slot) {
    if (time_slot_ < 0 && weights_.empty()) time_slot_ = static_cast<int32_t>(slot);
    return time_slot_ == static_cast<int32_t>(slot);
  }
  void SetTime(size_t i, Timestamp t) { times_[i] = t; }
  /// The event times of every record if they were read for `slot`, else nullptr.
  const Timestamp* times(uint32_t slot) const {
    return time_slot_ == static_cast<int32_t>(slot) ? times_.data() : nullptr;
  }

  Value* row(size_t i) { return buffer_.values.get() + i * width_; }
  const Value* row(size_t i) const { return buffer_.values.get() + i * width_; }
  Value& at(size_t i, uint32_t slot) { return buffer_.values[i * width_ + slot]; }
  const Value& at(size_t i, uint32_t slot) const { return buffer_.values[i * width_ + slot]; }
  const Value* values() const { return buffer_.values.get(); }

  int8_t weight(size_t i) const { return weights_[i]; }
  const std::vector<int8_t>& weights() const { return weights_; }
  std::string_view raw(size_t i) const { return raw_[i]; }
  void SetRaw(size_t i, std::string_view raw) { raw_[i] = raw; }

  /// Keeps only records whose keep[i] is non-zero, preserving order.
  void Compact(const uint8_t* keep);

  /// Memory for strings made while processing this batch.
  Arena& arena() { return arena_; }
  /// Keeps `buffer` alive as long as the batch (raw bytes and strings point into it).
  void Hold(std::shared_ptr<const void> buffer) { holds_.push_back(std::move(buffer)); }

  void Reserve(size_t rows) {
    weights_.reserve(rows);
    raw_.reserve(rows);
    filtered_.reserve(rows);
    if (time_slot_ >= 0) times_.reserve(rows);
    if (buffer_.capacity < rows * width_) GrowValues(rows * width_);
  }

  /// Work left to do before the batch can be processed (decoding its input), run by the
  /// pipeline on one of its worker threads, so that sources need not decode on their own thread.
  std::function<void(Batch&)> deferred;

  Origin origin;
  Timestamp ingest_time = 0;  ///< wall-clock ms when the batch entered Weir
  size_t bytes = 0;           ///< input bytes the batch was decoded from

 private:
  // Row values live in a buffer that grows by realloc, uninitialised (AddRow sets each row).
  struct FreeValues {
    void operator()(Value* p) const { std::free(p); }
  };
  struct ValueBuffer {
    std::unique_ptr<Value[], FreeValues> values;
    size_t capacity = 0;  // in Values
    ValueBuffer() = default;
    ValueBuffer(ValueBuffer&& o) noexcept : values(std::move(o.values)), capacity(std::exchange(o.capacity, 0)) {}
    ValueBuffer& operator=(ValueBuffer&& o) noexcept {
      values = std::move(o.values);
      capacity = std::exchange(o.capacity, 0);
      return *this;
    }
  };
  void GrowValues(size_t capacity);

  uint32_t width_;
  ValueBuffer buffer_;
  std::vector<int8_t> weights_;
  std::vector<std::string_view> raw_;
  std::vector<uint8_t> filtered_;
  size_t filtered_count_ = 0;
  std::vector<Timestamp> times_;  // with time_slot_ >= 0: one per record
  int32_t time_slot_ = -1;
  Arena arena_;
  std::vector<std::shared_ptr<const void>> holds_;
};

}  // namespace weir
