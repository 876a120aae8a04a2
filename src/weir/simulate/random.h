// Deterministic randomness for the simulator: a fast PRNG and O(1) weighted choice tables.
//
// Everything here is defined by this file's own arithmetic (no std::*_distribution, whose
// output differs between standard library versions), so a seed gives the same stream on every
// build.
//
//   Rng rng(42);
//   double u = rng.Uniform();                         // [0, 1)
//   uint64_t die = rng.Below(6);                      // 0..5
//   AliasTable pick(std::vector<double>{60, 20, 10, 8, 2});
//   size_t kind = pick.Sample(rng);                   // 0 with p = 0.6, ...
//   AliasTable users(ZipfWeights(100000, 0.8));       // rank 0 is the most frequent
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace weir::simulate {

/// splitmix64 step: expands a seed into well-mixed 64-bit words (also a cheap keyed hash).
inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// Stateless mix of one word (splitmix64 finaliser): a bijection on 64-bit integers.
inline uint64_t Mix64(uint64_t x) {
  uint64_t s = x;
  return SplitMix64(s);
}

/// A bijection on [0, 2^bits) for bits in [16, 64]: short ids that look random yet never
/// repeat, e.g. an event counter scrambled into 10 base-36 digits. (Odd multipliers and
/// xor-shifts are invertible modulo 2^bits.)
inline uint64_t Scramble(uint64_t x, int bits) {
  const uint64_t mask = bits >= 64 ? ~0ULL : (1ULL << bits) - 1;
  const int h = bits / 2;
  x &= mask;
  x ^= x >> h;
  x = (x * 0xd6e8feb86659fd93ULL) & mask;
  x ^= x >> (h - 3);
  x = (x * 0x9e3779b97f4a7c15ULL) & mask;
  x ^= x >> h;
  return x;
}

/// xoshiro256** (Blackman & Vigna): 1–2 ns per draw, 256-bit state seeded by splitmix64.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t sm = seed;
    for (auto& w : s_) w = SplitMix64(sm);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  /// Uniform in [0, 1) with 53 bits of precision.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  /// Uniform in [0, n) by multiply-shift (Lemire). The bias is below n / 2^64, far under
  /// anything a simulation can observe, and it needs no rejection loop.
  uint64_t Below(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64); }

  /// Uniform in [lo, hi] (inclusive).
  int64_t Between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }

  /// True with probability p.
  bool Chance(double p) { return Uniform() < p; }

  /// Approximately standard normal: Irwin–Hall sum of 12 uniforms minus 6 (range ±6). Pure
  /// arithmetic, so it is identical everywhere; tails beyond ±3σ are thinner than a true normal,
  /// which suits prices and durations.
  double Normal() {
    double s = 0;
    for (int i = 0; i < 12; ++i) s += Uniform();
    return s - 6.0;
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

/// Weighted choice over n outcomes in O(1) per draw (Walker/Vose alias method).
///
/// The table is built with integer arithmetic from weights rounded to 40 bits of relative
/// precision, so last-bit differences in how weights were computed (std::pow in different libm
/// versions) cannot change the table. One Rng draw per sample.
class AliasTable {
 public:
  AliasTable() = default;
  /// weights: non-negative, at least one positive.
  explicit AliasTable(std::span<const double> weights);
  explicit AliasTable(const std::vector<double>& weights) : AliasTable(std::span<const double>(weights)) {}

  size_t Sample(Rng& rng) const { return SampleBits(rng.Next()); }

  /// Sample from 64 uniformly random bits (e.g. a hash), for choices that must be a pure
  /// function of a key, such as a user's country.
  size_t SampleBits(uint64_t bits) const {
    uint64_t i = SlotIndex(bits);
    const Slot& s = slots_[i];
    return static_cast<uint32_t>(bits) < s.threshold ? i : s.alias;
  }

  /// Starts loading the slot SampleBits(bits) will read: large tables (100k users) miss the
  /// cache, and a generator that knows its next draw early can hide that latency.
  void Prefetch(uint64_t bits) const { __builtin_prefetch(&slots_[SlotIndex(bits)]); }

  size_t size() const { return slots_.size(); }

  /// The probability of outcome i as built into the table (for tests and documentation).
  double Probability(size_t i) const;

 private:
  uint64_t SlotIndex(uint64_t bits) const {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(bits >> 32) * slots_.size()) >> 32);
  }

  struct Slot {
    uint32_t threshold;  ///< keep i when the low 32 bits are below this; else take alias
    uint32_t alias;
  };
  std::vector<Slot> slots_;
};

/// Zipf weights 1/k^s for ranks k = 1..n (index 0 is rank 1, the most frequent).
std::vector<double> ZipfWeights(size_t n, double s);

}  // namespace weir::simulate
