#include "weir/model/batch.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>

namespace weir {

void Batch::GrowValues(size_t capacity) {
  static_assert(std::is_trivially_copyable_v<Value>);
  void* p = std::realloc(buffer_.values.get(), capacity * sizeof(Value));
  if (!p) throw std::bad_alloc();
  (void)buffer_.values.release();
  buffer_.values.reset(static_cast<Value*>(p));
  buffer_.capacity = capacity;
}

void Batch::Compact(const uint8_t* keep) {
  size_t out = 0;
  const size_t n = size();
  for (size_t i = 0; i < n; ++i) {
    if (!keep[i]) continue;
    if (out != i) {
      weights_[out] = weights_[i];
      raw_[out] = raw_[i];
      filtered_[out] = filtered_[i];
      if (time_slot_ >= 0) times_[out] = times_[i];
      std::memcpy(static_cast<void*>(row(out)), row(i), width_ * sizeof(Value));
    }
    ++out;
  }
  weights_.resize(out);
  raw_.resize(out);
  filtered_.resize(out);
  if (time_slot_ >= 0) times_.resize(out);
  filtered_count_ = 0;
  for (uint8_t f : filtered_) filtered_count_ += f;
}

}  // namespace weir
