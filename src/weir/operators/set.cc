// `set`: computes fields from expressions, in order (a later field may use an earlier one).
#include "weir/operators/processors.h"

namespace weir::operators {
namespace {

class Set final : public runtime::Processor {
 public:
  struct Field {
    uint32_t slot;
    expr::ProgramPtr program;
  };
  explicit Set(std::vector<Field> fields) : fields_(std::move(fields)) {}
  void Process(Batch& batch) override {
    const size_t n = batch.size();
    thread_local std::vector<Value> vals;
    vals.resize(n);
    for (const Field& f : fields_) {
      f.program->EvalBatch(batch.values(), batch.width(), n, vals.data(), batch.arena());
      for (size_t i = 0; i < n; ++i) batch.at(i, f.slot) = vals[i];
    }
  }

 private:
  std::vector<Field> fields_;
};

}  // namespace

std::unique_ptr<runtime::Processor> MakeSet(const spec::ProcessorSpec& spec, runtime::PlanContext& ctx) {
  if (spec.fields.empty()) {
    ctx.diags.Error(spec.location, "set needs 'fields': a map of field name to expression");
    return nullptr;
  }
  std::vector<Set::Field> fields;
  bool ok = true;
  for (const auto& f : spec.fields) {
    // Compile first: the expression sees the field's previous (input) value, if any.
    auto program = ctx.CompileOverLayout(f.expr);
    if (!program) {
      ok = false;
      continue;
    }
    fields.push_back({ctx.layout.Intern(f.name, /*computed=*/true), std::move(program)});
  }
  if (!ok) return nullptr;
  return std::make_unique<Set>(std::move(fields));
}

}  // namespace weir::operators
