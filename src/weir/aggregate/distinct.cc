// count_distinct: exact, with retraction (every value is kept with its count).
#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "weir/aggregate/basic.h"
#include "weir/aggregate/state_io.h"

namespace weir::aggregate {
namespace {

// Each distinct value is kept as its key encoding (model/key_codec.h) with a count. Keys of up
// to 15 bytes (user ids, short codes) live inline in a 16-byte SmallKey, compared as two words;
// integers (whose encoding is 18 bytes) in a map of their own; longer keys in a map of strings.
struct Counts {
  absl::flat_hash_map<SmallKey, int64_t> small;
  absl::flat_hash_map<int64_t, int64_t> ints;
  absl::flat_hash_map<std::string, int64_t> large;

  void AddInt(int64_t v, int64_t n) {
    auto [it, inserted] = ints.try_emplace(v, n);
    if (!inserted && (it->second = AddCount(it->second, n)) == 0) ints.erase(it);
  }
  /// Adds a value's key encoding: integers go to `ints`.
  void AddEncoded(std::string_view key, int64_t n) {
    constexpr size_t kIntKeyBytes = 18;  // tag, 8 bytes as a double, 0, 8 bytes as an integer
    if (key.size() == kIntKeyBytes) {
      std::string_view rest = key;
      Value v = DecodeKey(rest);
      if (v.is_int() && rest.empty()) return AddInt(v.as_int(), n);
    }
    Add(key, n);
  }

  void AddSmall(const SmallKey& key, int64_t n) {
    auto [it, inserted] = small.try_emplace(key, n);
    if (!inserted && (it->second = AddCount(it->second, n)) == 0) small.erase(it);
  }
  void Add(std::string_view key, int64_t n) {
    if (key.size() <= SmallKey::kMax) {
      AddSmall(SmallKey::Of(key), n);
    } else {
      auto it = large.find(absl::string_view(key.data(), key.size()));
      if (it == large.end()) large.emplace(std::string(key), n);
      else if ((it->second = AddCount(it->second, n)) == 0) large.erase(it);
    }
  }
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    char buf[16];
    for (const auto& [k, n] : small) fn(k.bytes(buf), n);
    std::string key;
    for (const auto& [v, n] : ints) {
      key.clear();
      EncodeKey(Value::Int(v), key);
      fn(std::string_view(key), n);
    }
    for (const auto& [k, n] : large) fn(std::string_view(k), n);
  }
  size_t size() const { return small.size() + ints.size() + large.size(); }
};

class CountDistinct final : public AggregateFunction {
 public:
  std::string_view name() const override { return "count_distinct"; }
  uint32_t state_size() const override { return 8; }
  bool has_destructor() const override { return true; }
  void Init(char* s) const override { *As<Counts*>(s) = nullptr; }
  void Destroy(char* s) const override { delete *As<Counts*>(s); }
  static Counts& Get(char* s) {
    Counts*& c = *As<Counts*>(s);
    if (!c) c = new Counts();
    return *c;
  }
  void Update(const UpdateInput& in, uint32_t off) const override {
    // In runs of kAhead values: encode and prefetch each one's slot, then count them, so that
    // the cache misses of a large table overlap instead of following one another; the bytes of
    // the next run's values are prefetched meanwhile. Short strings (ids) become their slot key
    // in registers; others go through their key encoding.
    constexpr size_t kAhead = 16;
    const Value* x = in.args[0];
    SmallKey small[kAhead];
    std::string keys[kAhead];
    size_t idx[kAhead];
    for (size_t i = 0; i < std::min(in.n, kAhead); ++i) x[i].PrefetchBytes();
    for (size_t base = 0; base < in.n; base += kAhead) {
      for (size_t i = base + kAhead; i < std::min(in.n, base + 2 * kAhead); ++i) x[i].PrefetchBytes();
      size_t m = 0;
      for (size_t i = base; i < std::min(in.n, base + kAhead); ++i) {
        if (!in.rows[i] || x[i].is_null()) continue;
        if (x[i].is_int()) {
          Get(in.rows[i] + off).AddInt(x[i].as_int(), in.weights[i]);
          continue;
        }
        std::string& k = keys[m];
        k.clear();
        if (!x[i].is_string() || !EncodeShortStringKey(x[i].as_string(), small[m])) {
          EncodeKey(x[i], k);
          if (k.size() > SmallKey::kMax) {
            idx[m++] = i;
            continue;
          }
          small[m] = SmallKey::Of(k);
        }
        Get(in.rows[i] + off).small.prefetch(small[m]);
        idx[m++] = i;
      }
      for (size_t j = 0; j < m; ++j) {
        Counts& c = Get(in.rows[idx[j]] + off);
        if (keys[j].empty()) c.AddSmall(small[j], in.weights[idx[j]]);
        else c.AddEncoded(keys[j], in.weights[idx[j]]);
      }
    }
  }
  void Merge(char* d, const char* s) const override {
    const Counts* b = *As<Counts*>(s);
    if (!b) return;
    Counts& a = Get(d);
    for (const auto& [v, n] : b->ints) a.AddInt(v, n);
    for (const auto& [k, n] : b->small) {
      char buf[16];
      a.Add(k.bytes(buf), n);
    }
    for (const auto& [k, n] : b->large) a.Add(k, n);
  }
  Value Finalize(const char* s, Arena&) const override {
    const Counts* c = *As<Counts*>(s);
    int64_t n = 0;
    if (c) c->ForEach([&](std::string_view, int64_t cnt) { n += cnt > 0; });
    return Value::Int(n);
  }
  void Serialize(const char* s, std::string& out) const override {
    const Counts* c = *As<Counts*>(s);
    PutU64(out, c ? c->size() : 0);
    if (!c) return;
    c->ForEach([&](std::string_view k, int64_t n) {
      PutBytes(out, k);
      PutI64(out, n);
    });
  }
  Status Deserialize(char* s, std::string_view& in) const override {
    uint64_t n;
    WEIR_RETURN_IF_ERROR(GetU64(in, &n));
    for (uint64_t i = 0; i < n; ++i) {
      std::string_view k;
      int64_t cnt;
      WEIR_RETURN_IF_ERROR(GetBytes(in, &k));
      WEIR_RETURN_IF_ERROR(GetI64(in, &cnt));
      Get(s).AddEncoded(k, cnt);
    }
    return Ok();
  }
};

}  // namespace

AggregatePtr MakeCountDistinct() { return std::make_unique<CountDistinct>(); }

}  // namespace weir::aggregate
