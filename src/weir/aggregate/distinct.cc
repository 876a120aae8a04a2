// count_distinct: exact, with retraction (every value is kept with its count).
#include <absl/container/flat_hash_map.h>

#include "weir/aggregate/basic.h"
#include "weir/aggregate/state_io.h"

namespace weir::aggregate {
namespace {

using Counts = absl::flat_hash_map<std::string, int64_t>;

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
    const Value* x = in.args[0];
    std::string key;
    for (size_t i = 0; i < in.n; ++i) {
      if (!in.rows[i] || x[i].is_null()) continue;
      key.clear();
      EncodeKey(x[i], key);
      Counts& c = Get(in.rows[i] + off);
      auto it = c.find(key);
      if (it == c.end()) {
        c.emplace(key, in.weights[i]);
      } else if ((it->second += in.weights[i]) == 0) {
        c.erase(it);
      }
    }
  }
  void Merge(char* d, const char* s) const override {
    const Counts* b = *As<Counts*>(s);
    if (!b) return;
    Counts& a = Get(d);
    for (const auto& [k, n] : *b) {
      auto [it, inserted] = a.emplace(k, n);
      if (!inserted && (it->second += n) == 0) a.erase(it);
    }
  }
  Value Finalize(const char* s, Arena&) const override {
    const Counts* c = *As<Counts*>(s);
    int64_t n = 0;
    if (c)
      for (const auto& [k, cnt] : *c) n += cnt > 0;
    return Value::Int(n);
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
    uint64_t n;
    WEIR_RETURN_IF_ERROR(GetU64(in, &n));
    for (uint64_t i = 0; i < n; ++i) {
      std::string_view k;
      int64_t cnt;
      WEIR_RETURN_IF_ERROR(GetBytes(in, &k));
      WEIR_RETURN_IF_ERROR(GetI64(in, &cnt));
      Get(s)[std::string(k)] += cnt;
    }
    return Ok();
  }
};

}  // namespace

AggregatePtr MakeCountDistinct() { return std::make_unique<CountDistinct>(); }

}  // namespace weir::aggregate
