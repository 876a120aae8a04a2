// approx_distinct(x): HyperLogLog with a sparse representation for small groups.
//
// Dense: 2^14 one-byte registers (16 KB), standard error 1.04/sqrt(2^14) ≈ 0.81%. Most groups
// of a grouped metric see few distinct values, so a state starts sparse: an open-addressing
// table of 4-byte (25-bit register index, rank) entries, as in HyperLogLog++, at most 3/4 full
// and exact up to hash collisions in 2^25 buckets (a state of 10 values takes 72 bytes). It
// turns dense when it would hold more than 3072 entries (its 4096 slots are then as large as the
// registers).
//
// Which representation a state is in depends only on the set of values it has seen (the number
// of distinct 25-bit prefixes), never on the order of inserts and merges, and the estimate is a
// function of the register contents; so merging the states of two inputs gives exactly the
// state of their union.
//
// The estimate is Ertl's improved estimator ("New cardinality estimation algorithms for
// HyperLogLog sketches", 2017), which is unbiased over the whole range from 0 to billions
// without HLL++'s empirical bias tables; a sparse state is estimated as a 2^25-register sketch.
//
// Values are hashed (XXH3) over their key encoding, so 1 and 1.0 are one value. Retractions are
// ignored (registers cannot forget); retractable() is false so the planner rejects the function
// for inputs that may retract.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "weir/aggregate/sketches.h"
#include "weir/aggregate/state_io.h"
#include "weir/base/hash.h"

namespace weir::aggregate {
namespace {

constexpr int kP = kHllPrecision;
constexpr uint32_t kRegisters = 1u << kP;
constexpr int kQ = 64 - kP;  // hash bits left for the rank; ranks are 1..kQ+1
constexpr int kSparseP = 25;
constexpr int kSparseQ = 64 - kSparseP;
constexpr uint32_t kExtraBits = kSparseP - kP;  // sparse index bits beyond the dense index
constexpr uint32_t kMaxSparse = 3072;           // entries; the table then has 4096 slots = 16 KB
constexpr uint32_t kInitialSlots = 8;

// Sparse entries pack (25-bit index << 6 | rank); rank >= 1 so 0 marks an empty slot.
inline uint32_t EntryIndex(uint32_t e) { return e >> 6; }
inline uint32_t EntryRank(uint32_t e) { return e & 63; }

// One heap block: this header, then uint32_t slots[capacity] (sparse) or uint8_t
// registers[kRegisters] (dense, capacity == 0).
struct Hll {
  uint32_t capacity;
  uint32_t size;  // occupied sparse slots

  bool dense() const { return capacity == 0; }
  uint32_t* slots() { return reinterpret_cast<uint32_t*>(this + 1); }
  const uint32_t* slots() const { return reinterpret_cast<const uint32_t*>(this + 1); }
  uint8_t* registers() { return reinterpret_cast<uint8_t*>(this + 1); }
  const uint8_t* registers() const { return reinterpret_cast<const uint8_t*>(this + 1); }
};

Hll* NewSparse(uint32_t capacity) {
  void* p = std::calloc(1, sizeof(Hll) + capacity * sizeof(uint32_t));
  if (!p) throw std::bad_alloc();
  auto* h = static_cast<Hll*>(p);
  h->capacity = capacity;
  return h;
}

Hll* NewDense() {
  void* p = std::calloc(1, sizeof(Hll) + kRegisters);
  if (!p) throw std::bad_alloc();
  return static_cast<Hll*>(p);
}

size_t BlockBytes(const Hll* h) { return sizeof(Hll) + (h->dense() ? kRegisters : h->capacity * sizeof(uint32_t)); }

// The dense register and rank that a sparse (index, rank) entry stands for: the 11 index bits
// below the dense index are the first hash bits the dense rank counts zeros in.
inline void ToDense(uint32_t entry, uint32_t* reg, uint8_t* rank) {
  uint32_t idx = EntryIndex(entry);
  *reg = idx >> kExtraBits;
  uint32_t low = idx & ((1u << kExtraBits) - 1);
  if (low != 0) {
    *rank = static_cast<uint8_t>(std::countl_zero(low) - (32 - kExtraBits) + 1);
  } else {
    *rank = static_cast<uint8_t>(kExtraBits + EntryRank(entry));
  }
}

inline void DenseInsert(Hll* h, uint32_t entry) {
  uint32_t reg;
  uint8_t rank;
  ToDense(entry, &reg, &rank);
  uint8_t& r = h->registers()[reg];
  if (rank > r) r = rank;
}

void MakeDense(Hll*& h) {
  Hll* d = NewDense();
  const uint32_t* s = h->slots();
  for (uint32_t i = 0; i < h->capacity; ++i)
    if (s[i]) DenseInsert(d, s[i]);
  std::free(h);
  h = d;
}

// Slot holding `idx`, or the empty slot where it belongs. The index bits are hash bits, so
// their low bits spread entries without further mixing.
inline uint32_t* FindSlot(Hll* h, uint32_t idx) {
  const uint32_t mask = h->capacity - 1;
  uint32_t* s = h->slots();
  for (uint32_t i = idx & mask;; i = (i + 1) & mask)
    if (s[i] == 0 || EntryIndex(s[i]) == idx) return &s[i];
}

void Grow(Hll*& h) {
  Hll* g = NewSparse(h->capacity * 2);
  const uint32_t* s = h->slots();
  for (uint32_t i = 0; i < h->capacity; ++i)
    if (s[i]) {
      *FindSlot(g, EntryIndex(s[i])) = s[i];
      ++g->size;
    }
  std::free(h);
  h = g;
}

// Adds one sparse entry (a value's 25-bit index and rank) to a state of either kind.
inline void InsertEntry(Hll*& h, uint32_t entry) {
  if (!h) h = NewSparse(kInitialSlots);
  if (h->dense()) return DenseInsert(h, entry);
  uint32_t* slot = FindSlot(h, EntryIndex(entry));
  if (*slot) {
    if (EntryRank(entry) > EntryRank(*slot)) *slot = entry;
    return;
  }
  if (h->size + 1 > kMaxSparse) {
    MakeDense(h);
    return DenseInsert(h, entry);
  }
  if ((h->size + 1) * 4 > h->capacity * 3) {
    Grow(h);
    slot = FindSlot(h, EntryIndex(entry));
  }
  *slot = entry;
  ++h->size;
}

inline uint32_t EntryOfHash(uint64_t hash) {
  uint32_t idx = static_cast<uint32_t>(hash >> kSparseQ);
  // The sentinel bit caps the count of zeros at kSparseQ.
  uint32_t rank = static_cast<uint32_t>(std::countl_zero((hash << kSparseP) | (1ULL << (kSparseP - 1)))) + 1;
  return (idx << 6) | rank;
}

// Ertl's sigma and tau series (the estimator's corrections for empty and saturated registers).
double Sigma(double x) {
  if (x == 1.0) return INFINITY;
  double y = 1.0, z = x, prev;
  do {
    x *= x;
    prev = z;
    z += x * y;
    y += y;
  } while (prev != z);
  return z;
}

double Tau(double x) {
  if (x == 0.0 || x == 1.0) return 0.0;
  double y = 1.0, z = 1.0 - x, prev;
  do {
    x = std::sqrt(x);
    prev = z;
    y *= 0.5;
    z -= (1.0 - x) * (1.0 - x) * y;
  } while (prev != z);
  return z / 3.0;
}

// hist[k] = number of registers holding k, for k in 0..q+1, of a sketch with 2^p registers.
double Estimate(const std::vector<uint64_t>& hist, int p, int q) {
  const double m = std::ldexp(1.0, p);
  double z = m * Tau((m - static_cast<double>(hist[q + 1])) / m);
  for (int k = q; k >= 1; --k) z = 0.5 * (z + static_cast<double>(hist[k]));
  z += m * Sigma(static_cast<double>(hist[0]) / m);
  constexpr double kAlphaInf = 0.721347520444481703680;  // 1 / (2 ln 2)
  return kAlphaInf * m * m / z;
}

int64_t Cardinality(const Hll* h) {
  if (!h) return 0;
  std::vector<uint64_t> hist;
  double e;
  if (h->dense()) {
    hist.assign(kQ + 2, 0);
    const uint8_t* r = h->registers();
    for (uint32_t i = 0; i < kRegisters; ++i) ++hist[r[i]];
    e = Estimate(hist, kP, kQ);
  } else {
    hist.assign(kSparseQ + 2, 0);
    hist[0] = (uint64_t{1} << kSparseP) - h->size;
    const uint32_t* s = h->slots();
    for (uint32_t i = 0; i < h->capacity; ++i)
      if (s[i]) ++hist[EntryRank(s[i])];
    e = Estimate(hist, kSparseP, kSparseQ);
  }
  return std::llround(e);
}

// Serialized form: u64 header (kind | precision << 8 | sparse precision << 16), then for a
// sparse state the varint count and varint deltas of the sorted entries, for a dense one the
// registers packed 6 bits each (12 KB). Kind 0 is an empty state with nothing after it.
enum Kind : uint64_t { kEmpty = 0, kSparse = 1, kDense = 2 };
constexpr uint64_t kHeaderPrecisions = (uint64_t{kP} << 8) | (uint64_t{kSparseP} << 16);

class ApproxDistinct final : public AggregateFunction {
 public:
  std::string_view name() const override { return "approx_distinct"; }
  uint32_t state_size() const override { return 8; }
  bool retractable() const override { return false; }
  bool has_destructor() const override { return true; }
  void Init(char* s) const override { *As<Hll*>(s) = nullptr; }
  void Destroy(char* s) const override {
    std::free(*As<Hll*>(s));
    *As<Hll*>(s) = nullptr;
  }

  void Update(const UpdateInput& in, uint32_t off) const override {
    const Value* x = in.args[0];
    std::string key;
    constexpr size_t kAhead = 8;
    for (size_t i = 0; i < in.n; ++i) {
      if (i + kAhead < in.n) x[i + kAhead].PrefetchBytes();
      if (!in.rows[i] || in.weights[i] < 0 || x[i].is_null()) continue;
      uint64_t h;
      SmallKey k;
      if (x[i].is_string() && EncodeShortStringKey(x[i].as_string(), k)) {
        h = k.Hash();  // the hash of the key encoding, without building it in a string
      } else {
        key.clear();
        EncodeKey(x[i], key);
        h = Hash64(key);
      }
      InsertEntry(*As<Hll*>(in.rows[i] + off), EntryOfHash(h));
    }
  }

  void Merge(char* d, const char* s) const override { MergeInto(*As<Hll*>(d), *As<Hll*>(s)); }

  static void MergeInto(Hll*& a, const Hll* b) {
    if (!b) return;
    if (!a) {
      size_t n = BlockBytes(b);
      void* p = std::malloc(n);
      if (!p) throw std::bad_alloc();
      std::memcpy(p, b, n);
      a = static_cast<Hll*>(p);
      return;
    }
    if (b->dense()) {
      if (!a->dense()) MakeDense(a);
      uint8_t* r = a->registers();
      const uint8_t* o = b->registers();
      for (uint32_t i = 0; i < kRegisters; ++i) r[i] = std::max(r[i], o[i]);
      return;
    }
    const uint32_t* s = b->slots();
    for (uint32_t i = 0; i < b->capacity; ++i)
      if (s[i]) InsertEntry(a, s[i]);
  }

  Value Finalize(const char* s, Arena&) const override { return Value::Int(Cardinality(*As<Hll*>(s))); }

  void Serialize(const char* s, std::string& out) const override {
    const Hll* h = *As<Hll*>(s);
    if (!h) return PutU64(out, kEmpty);
    std::string payload;
    if (h->dense()) {
      PutU64(out, kDense | kHeaderPrecisions);
      payload.reserve(kRegisters * 6 / 8);
      const uint8_t* r = h->registers();
      for (uint32_t i = 0; i < kRegisters; i += 4) {
        uint32_t v = r[i] | (r[i + 1] << 6) | (r[i + 2] << 12) | (r[i + 3] << 18);
        payload.push_back(static_cast<char>(v));
        payload.push_back(static_cast<char>(v >> 8));
        payload.push_back(static_cast<char>(v >> 16));
      }
    } else {
      PutU64(out, kSparse | kHeaderPrecisions);
      std::vector<uint32_t> entries;
      entries.reserve(h->size);
      const uint32_t* sl = h->slots();
      for (uint32_t i = 0; i < h->capacity; ++i)
        if (sl[i]) entries.push_back(sl[i]);
      std::sort(entries.begin(), entries.end());
      PutVarint(payload, entries.size());
      uint32_t prev = 0;
      for (uint32_t e : entries) {
        PutVarint(payload, e - prev);
        prev = e;
      }
    }
    PutBytes(out, payload);
  }

  Status Deserialize(char* s, std::string_view& in) const override {
    uint64_t header = 0;
    WEIR_RETURN_IF_ERROR(GetU64(in, &header));
    if (header == kEmpty) return Ok();
    uint64_t kind = header & 0xff;
    if ((header & ~uint64_t{0xff}) != kHeaderPrecisions || (kind != kSparse && kind != kDense))
      return Fail("approx_distinct state has an unknown format (header {:#x})", header);
    std::string_view payload;
    WEIR_RETURN_IF_ERROR(GetBytes(in, &payload));
    Hll* tmp = nullptr;
    Status st = Read(kind, payload, tmp);
    if (st) MergeInto(*As<Hll*>(s), tmp);
    std::free(tmp);
    return st;
  }

 private:
  static Status Read(uint64_t kind, std::string_view p, Hll*& h) {
    if (kind == kDense) {
      if (p.size() != kRegisters * 6 / 8) return Fail("approx_distinct state has {} register bytes", p.size());
      h = NewDense();
      uint8_t* r = h->registers();
      for (uint32_t i = 0; i < kRegisters; i += 4) {
        const auto* b = reinterpret_cast<const uint8_t*>(p.data()) + i / 4 * 3;
        uint32_t v = b[0] | (b[1] << 8) | (b[2] << 16);
        for (uint32_t k = 0; k < 4; ++k) {
          r[i + k] = static_cast<uint8_t>((v >> (6 * k)) & 63);
          if (r[i + k] > kQ + 1) return Fail("approx_distinct state has a register out of range");
        }
      }
      return Ok();
    }
    uint64_t n = 0;
    WEIR_RETURN_IF_ERROR(GetVarint(p, &n));
    if (n > kMaxSparse || n > p.size()) return Fail("approx_distinct state has a bad entry count {}", n);
    uint64_t prev = 0;
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t delta = 0;
      WEIR_RETURN_IF_ERROR(GetVarint(p, &delta));
      uint64_t e = prev + delta;
      if ((i > 0 && delta == 0) || e >= (uint64_t{1} << (kSparseP + 6)) || EntryRank(static_cast<uint32_t>(e)) == 0 ||
          EntryRank(static_cast<uint32_t>(e)) > kSparseQ + 1)
        return Fail("approx_distinct state has a malformed entry");
      InsertEntry(h, static_cast<uint32_t>(e));
      prev = e;
    }
    if (!p.empty()) return Fail("approx_distinct state has {} trailing bytes", p.size());
    return Ok();
  }
};

}  // namespace

AggregatePtr MakeApproxDistinct() { return std::make_unique<ApproxDistinct>(); }

}  // namespace weir::aggregate
