// Alias-table construction and Zipf weights; see random.h.
#include "weir/simulate/random.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace weir::simulate {

AliasTable::AliasTable(std::span<const double> weights) {
  using u128 = unsigned __int128;
  const size_t n = weights.size();
  slots_.resize(n);
  if (n == 0) return;

  double wmax = 0;
  for (double w : weights) wmax = std::max(wmax, std::isfinite(w) ? w : 0.0);
  // Integer weights in [0, 2^40]: from here on everything is exact integer arithmetic.
  std::vector<u128> v(n);
  u128 total = 0;
  for (size_t i = 0; i < n; ++i) {
    double w = weights[i];
    uint64_t q = (wmax > 0 && std::isfinite(w) && w > 0) ? static_cast<uint64_t>(std::llround(w / wmax * 0x1.0p40)) : 0;
    v[i] = q;
    total += q;
  }
  if (total == 0) {  // no positive weight: fall back to uniform rather than divide by zero
    for (auto& x : v) x = 1;
    total = n;
  }
  // Scale every weight by n so a slot's capacity is exactly `total`.
  for (auto& x : v) x *= n;
  const u128 cap = total;

  std::vector<uint32_t> small, large;
  small.reserve(n);
  large.reserve(n);
  for (size_t i = 0; i < n; ++i) (v[i] < cap ? small : large).push_back(static_cast<uint32_t>(i));
  while (!small.empty() && !large.empty()) {
    uint32_t s = small.back();
    small.pop_back();
    uint32_t l = large.back();
    slots_[s].threshold = static_cast<uint32_t>((v[s] << 32) / cap);
    slots_[s].alias = l;
    v[l] -= cap - v[s];
    if (v[l] < cap) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // What remains is full (exactly, or within integer rounding): the slot always keeps itself.
  for (uint32_t i : large) slots_[i] = {std::numeric_limits<uint32_t>::max(), i};
  for (uint32_t i : small) slots_[i] = {std::numeric_limits<uint32_t>::max(), i};
}

double AliasTable::Probability(size_t i) const {
  const double n = static_cast<double>(slots_.size());
  double p = 0;
  for (size_t j = 0; j < slots_.size(); ++j) {
    double keep = slots_[j].threshold * 0x1.0p-32;
    if (j == i) p += keep;
    if (slots_[j].alias == i) p += 1.0 - keep;
  }
  return p / n;
}

std::vector<double> ZipfWeights(size_t n, double s) {
  std::vector<double> w(n);
  for (size_t k = 0; k < n; ++k) w[k] = std::pow(static_cast<double>(k + 1), -s);
  return w;
}

}  // namespace weir::simulate
