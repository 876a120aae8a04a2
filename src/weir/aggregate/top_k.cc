// top_k(x, k): the k most frequent non-null values with their counts, exact and retractable.
//
// Every distinct value is kept with its net count (as in count_distinct), keyed by its key
// encoding, so 1 and 1.0 are one value and ties order by value. The result is a JSON array,
//   [{"value":"checkout","count":12},{"value":"home","count":7}]
// sorted by count (descending), then value (ascending, in CompareTotal order); values whose net
// count is not positive are left out, and a state without any is [].
#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <vector>

#include "weir/aggregate/sketches.h"
#include "weir/aggregate/state_io.h"

namespace weir::aggregate {
namespace {

using Counts = absl::flat_hash_map<std::string, int64_t>;

class TopK final : public AggregateFunction {
 public:
  explicit TopK(int64_t k) : k_(static_cast<size_t>(k)) {}
  std::string_view name() const override { return "top_k"; }
  uint32_t state_size() const override { return 8; }
  bool has_destructor() const override { return true; }
  void Init(char* s) const override { *As<Counts*>(s) = nullptr; }
  void Destroy(char* s) const override {
    delete *As<Counts*>(s);
    *As<Counts*>(s) = nullptr;
  }
  static Counts& Get(char* s) {
    Counts*& c = *As<Counts*>(s);
    if (!c) c = new Counts();
    return *c;
  }
  static void Add(Counts& c, const std::string& key, int64_t n) {
    auto it = c.find(key);
    if (it == c.end()) {
      if (n != 0) c.emplace(key, n);
    } else if ((it->second = AddCount(it->second, n)) == 0) {
      c.erase(it);
    }
  }

  void Update(const UpdateInput& in, uint32_t off) const override {
    const Value* x = in.args[0];
    std::string key;
    for (size_t i = 0; i < in.n; ++i) {
      if (!in.rows[i] || x[i].is_null()) continue;
      key.clear();
      EncodeKey(x[i], key);
      Add(Get(in.rows[i] + off), key, in.weights[i]);
    }
  }

  void Merge(char* d, const char* s) const override {
    const Counts* b = *As<Counts*>(s);
    if (!b || b->empty()) return;
    Counts& a = Get(d);
    for (const auto& [k, n] : *b) Add(a, k, n);
  }

  Value Finalize(const char* s, Arena& arena) const override {
    const Counts* c = *As<Counts*>(s);
    using Entry = const std::pair<const std::string, int64_t>*;
    std::vector<Entry> top;
    if (c) {
      top.reserve(c->size());
      for (const auto& e : *c)
        if (e.second > 0) top.push_back(&e);
    }
    auto before = [](Entry a, Entry b) { return a->second != b->second ? a->second > b->second : a->first < b->first; };
    if (top.size() > k_) {
      std::nth_element(top.begin(), top.begin() + static_cast<std::ptrdiff_t>(k_), top.end(), before);
      top.resize(k_);
    }
    std::sort(top.begin(), top.end(), before);
    std::string out = "[";
    for (Entry e : top) {
      if (out.size() > 1) out.push_back(',');
      out += "{\"value\":";
      std::string_view in = e->first;
      AppendJson(out, DecodeKey(in, &arena));
      out += ",\"count\":";
      fmt::format_to(std::back_inserter(out), "{}", e->second);
      out.push_back('}');
    }
    out.push_back(']');
    return Value::Json(arena.Copy(out));
  }

  void Serialize(const char* s, std::string& out) const override {
    const Counts* c = *As<Counts*>(s);
    PutU64(out, c ? c->size() : 0);
    if (!c) return;
    for (const auto& [k, n] : *c) {
      PutBytes(out, k);
      PutI64(out, n);
    }
  }

  Status Deserialize(char* s, std::string_view& in) const override {
    uint64_t n = 0;
    WEIR_RETURN_IF_ERROR(GetU64(in, &n));
    if (n > in.size()) return Fail("top_k state has a bad entry count {}", n);
    for (uint64_t i = 0; i < n; ++i) {
      std::string_view k;
      int64_t cnt = 0;
      WEIR_RETURN_IF_ERROR(GetBytes(in, &k));
      WEIR_RETURN_IF_ERROR(GetI64(in, &cnt));
      Add(Get(s), std::string(k), cnt);
    }
    return Ok();
  }

 private:
  size_t k_;
};

}  // namespace

Result<AggregatePtr> MakeTopK(const Value& k) {
  // A double such as 5.0 is accepted as 5; the range check comes before the conversion.
  bool integral =
      k.is_int() || (k.is_double() && k.as_double() >= 1 && k.as_double() <= static_cast<double>(kTopKMax) &&
                     k.as_double() == std::trunc(k.as_double()));
  int64_t n = k.is_int() ? k.as_int() : integral ? static_cast<int64_t>(k.as_double()) : 0;
  if (!integral || n < 1 || n > kTopKMax) {
    std::string got;
    AppendJson(got, k);
    return Fail("top_k(x, k): k must be an integer between 1 and {}, got {}", kTopKMax, got);
  }
  return std::make_unique<TopK>(n);
}

}  // namespace weir::aggregate
