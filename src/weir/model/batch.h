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
#include <span>
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
  /// A moved-from batch is empty (of the same width) and can be filled again.
  Batch(Batch&& o) noexcept { *this = std::move(o); }
  Batch& operator=(Batch&& o) noexcept;

  uint32_t width() const { return width_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  /// Appends a record with every slot null; returns its index.
  size_t AddRow(int8_t weight, std::string_view raw = {}) {
    const size_t i = size_;
    if (i == capacity_) [[unlikely]]
      Grow(std::max<size_t>(64, capacity_ * 2));
    weights_[i] = weight;
    raw_[i] = raw;
    filtered_[i] = 0;
    if (time_slot_ >= 0) times_[i] = kMinTimestamp;
    std::fill_n(values_.get() + i * width_, width_, Value());
    size_ = i + 1;
    return i;
  }
  /// Drops the last record (a decoder that failed half-way through one).
  void PopRow() {
    --size_;
    filtered_count_ -= filtered_[size_];
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
  const uint8_t* filtered_flags() const { return filtered_.get(); }

  /// Event times read by the decoder: with times on for `slot`, each record carries the
  /// EventTimeOf its value at `slot` (kMinTimestamp when it has none), set by SetTime while the
  /// input is in cache, so that metrics whose event time is that field need not convert it.
  /// Can be turned on only while the batch is empty; true if on for `slot` afterwards.
  bool TimesFor(uint32_t slot) {
    if (time_slot_ < 0 && size_ == 0) {
      time_slot_ = static_cast<int32_t>(slot);
      Grow(capacity_);  // allocates the time column
    }
    return time_slot_ == static_cast<int32_t>(slot);
  }
  void SetTime(size_t i, Timestamp t) { times_[i] = t; }
  /// The event times of every record if they were read for `slot`, else nullptr.
  const Timestamp* times(uint32_t slot) const {
    return time_slot_ == static_cast<int32_t>(slot) ? times_.get() : nullptr;
  }

  Value* row(size_t i) { return values_.get() + i * width_; }
  const Value* row(size_t i) const { return values_.get() + i * width_; }
  Value& at(size_t i, uint32_t slot) { return values_[i * width_ + slot]; }
  const Value& at(size_t i, uint32_t slot) const { return values_[i * width_ + slot]; }
  const Value* values() const { return values_.get(); }

  int8_t weight(size_t i) const { return weights_[i]; }
  std::span<const int8_t> weights() const { return {weights_.get(), size_}; }
  std::string_view raw(size_t i) const { return raw_[i]; }
  void SetRaw(size_t i, std::string_view raw) { raw_[i] = raw; }

  /// Keeps only records whose keep[i] is non-zero, preserving order.
  void Compact(const uint8_t* keep);

  /// Memory for strings made while processing this batch.
  Arena& arena() { return arena_; }
  /// Keeps `buffer` alive as long as the batch (raw bytes and strings point into it).
  void Hold(std::shared_ptr<const void> buffer) { holds_.push_back(std::move(buffer)); }

  /// Makes room for `rows` records without further allocation.
  void Reserve(size_t rows) {
    if (rows > capacity_) Grow(rows);
  }

  /// Work left to do before the batch can be processed (decoding its input), run by the
  /// pipeline on one of its worker threads, so that sources need not decode on their own thread.
  std::function<void(Batch&)> deferred;

  Origin origin;
  Timestamp ingest_time = 0;  ///< wall-clock ms when the batch entered Weir
  size_t bytes = 0;           ///< input bytes the batch was decoded from

 private:
  // Per-record columns of trivially copyable types, grown together by realloc, uninitialised
  // (AddRow sets each record): one capacity check per record.
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  template <class T>
  using Column = std::unique_ptr<T[], Free>;
  template <class T>
  static void Resize(Column<T>& column, size_t n);
  void Grow(size_t capacity);

  uint32_t width_ = 0;
  size_t size_ = 0, capacity_ = 0;  // records, and the room every column has
  Column<Value> values_;            // capacity_ * width_
  Column<int8_t> weights_;
  Column<std::string_view> raw_;
  Column<uint8_t> filtered_;
  size_t filtered_count_ = 0;
  Column<Timestamp> times_;  // with time_slot_ >= 0
  int32_t time_slot_ = -1;
  Arena arena_{16 * 1024};
  std::vector<std::shared_ptr<const void>> holds_;
};

}  // namespace weir
