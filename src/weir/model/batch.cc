#include "weir/model/batch.h"

#include <cstring>

namespace weir {

void Batch::Compact(const uint8_t* keep) {
  size_t out = 0;
  const size_t n = size();
  for (size_t i = 0; i < n; ++i) {
    if (!keep[i]) continue;
    if (out != i) {
      weights_[out] = weights_[i];
      raw_[out] = raw_[i];
      filtered_[out] = filtered_[i];
      std::memcpy(static_cast<void*>(&values_[out * width_]), &values_[i * width_], width_ * sizeof(Value));
    }
    ++out;
  }
  weights_.resize(out);
  raw_.resize(out);
  filtered_.resize(out);
  filtered_count_ = 0;
  for (uint8_t f : filtered_) filtered_count_ += f;
}

}  // namespace weir
