// `filter`: keeps the records for which `where` is TRUE.
#include <atomic>

#include "weir/operators/processors.h"

namespace weir::operators {
namespace {

class Filter final : public runtime::Processor {
 public:
  explicit Filter(expr::ProgramPtr where) : where_(std::move(where)) {}
  void Process(Batch& batch) override {
    const size_t n = batch.size();
    thread_local std::vector<Value> vals;
    thread_local std::vector<uint8_t> keep;
    vals.resize(n);
    keep.resize(n);
    where_->EvalBatch(batch.values(), batch.width(), n, vals.data(), batch.arena());
    size_t kept = 0;
    for (size_t i = 0; i < n; ++i) {
      keep[i] = vals[i].is_bool() && vals[i].as_bool();
      kept += keep[i];
    }
    if (kept == n) return;
    dropped_ += n - kept;
    batch.Compact(keep.data());
  }
  uint64_t dropped() const override { return dropped_; }

 private:
  expr::ProgramPtr where_;
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace

std::unique_ptr<runtime::Processor> MakeFilter(const spec::ProcessorSpec& spec, runtime::PlanContext& ctx) {
  if (spec.where.empty()) {
    ctx.diags.Error(spec.location, "filter needs a 'where' condition");
    return nullptr;
  }
  auto where = ctx.CompileOverLayout(spec.where);
  if (!where) return nullptr;
  return std::make_unique<Filter>(std::move(where));
}

}  // namespace weir::operators
