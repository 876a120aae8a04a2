#include "weir/model/batch.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace weir {

template <class T>
void Batch::Resize(Column<T>& column, size_t n) {
  static_assert(std::is_trivially_copyable_v<T>);
  if (n == 0) return;
  void* p = std::realloc(column.get(), n * sizeof(T));
  if (!p) throw std::bad_alloc();
  (void)column.release();
  column.reset(static_cast<T*>(p));
}

void Batch::Grow(size_t capacity) {
  Resize(values_, capacity * width_);
  Resize(weights_, capacity);
  Resize(raw_, capacity);
  Resize(filtered_, capacity);
  if (time_slot_ >= 0) Resize(times_, capacity);
  capacity_ = capacity;
}

Batch& Batch::operator=(Batch&& o) noexcept {
  if (this == &o) return *this;
  width_ = o.width_;
  size_ = std::exchange(o.size_, 0);
  capacity_ = std::exchange(o.capacity_, 0);
  values_ = std::move(o.values_);
  weights_ = std::move(o.weights_);
  raw_ = std::move(o.raw_);
  filtered_ = std::move(o.filtered_);
  filtered_count_ = std::exchange(o.filtered_count_, 0);
  times_ = std::move(o.times_);
  time_slot_ = std::exchange(o.time_slot_, -1);
  arena_ = std::move(o.arena_);
  holds_ = std::move(o.holds_);
  deferred = std::move(o.deferred);
  origin = o.origin;
  ingest_time = o.ingest_time;
  bytes = o.bytes;
  return *this;
}

void Batch::Compact(const uint8_t* keep) {
  size_t out = 0;
  filtered_count_ = 0;
  for (size_t i = 0; i < size_; ++i) {
    if (!keep[i]) continue;
    if (out != i) {
      weights_[out] = weights_[i];
      raw_[out] = raw_[i];
      filtered_[out] = filtered_[i];
      if (time_slot_ >= 0) times_[out] = times_[i];
      std::memcpy(static_cast<void*>(row(out)), row(i), width_ * sizeof(Value));
    }
    filtered_count_ += filtered_[out];
    ++out;
  }
  size_ = out;
}

}  // namespace weir
