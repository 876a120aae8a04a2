// Turns a MetricSpec into a MetricPlan: compiles expressions against the record layout, pulls
// the aggregate calls out of `select`, and checks what can only be checked with the sources
// known (retractions, `from`).
#include <algorithm>

#include <fmt/format.h>

#include "weir/operators/window_metric.h"
#include "weir/operators/sharded_metric.h"
#include "weir/runtime/registry.h"

namespace weir::operators {
namespace {

constexpr std::string_view kReserved[] = {"metric", "window_start", "window_end", "revision", "final"};

/// Resolves names inside `select` and `having`: group keys, earlier select names, and
/// aggregate calls (whose arguments are compiled over the record layout).
class SelectScope : public expr::Scope {
 public:
  SelectScope(MetricPlan& plan, const spec::MetricSpec& spec, runtime::PlanContext& ctx, bool insert_only)
      : plan_(plan), spec_(spec), ctx_(ctx), insert_only_(insert_only) {}

  /// Select names visible so far (select i may use selects before it; having sees all).
  void SetVisibleSelects(size_t n) { visible_selects_ = n; }

  Result<uint32_t> ResolveField(std::string_view path) override {
    for (size_t k = 0; k < spec_.group_by.size(); ++k)
      if (spec_.group_by[k].name == path) return static_cast<uint32_t>(k);
    for (size_t s = 0; s < visible_selects_; ++s)
      if (spec_.select[s].name == path) return static_cast<uint32_t>(spec_.group_by.size() + s);
    std::string keys;
    for (const auto& g : spec_.group_by) keys += (keys.empty() ? "" : ", ") + g.name;
    return Fail(
        "'{}' is neither a group_by key{} nor inside an aggregate; a metric's select computes over groups, so use "
        "e.g. sum({}) or add it to group_by",
        path, keys.empty() ? "" : " (" + keys + ")", path);
  }

  Result<std::optional<uint32_t>> ResolveCall(const expr::Node& call) override {
    const aggregate::AggregateInfo* info = aggregate::FindAggregate(call.text);
    if (!info) return std::optional<uint32_t>();
    if (nested_) return Fail("aggregate '{}' cannot be nested inside another aggregate", call.text);
    std::string text = expr::ToString(call);
    const uint32_t base = static_cast<uint32_t>(spec_.group_by.size() + spec_.select.size());
    for (size_t a = 0; a < plan_.aggregates.size(); ++a)
      if (plan_.aggregates[a].text == text) return std::optional<uint32_t>(base + static_cast<uint32_t>(a));

    aggregate::AggregateOptions options;
    options.insert_only = insert_only_;
    int nargs = static_cast<int>(call.children.size());
    AggregateCall ac;
    ac.text = text;
    nested_ = true;
    for (size_t k = 0; k < call.children.size(); ++k) {
      // Arguments are row-level expressions; an aggregate inside one is an error.
      struct NoAggregates : runtime::LayoutScope {
        using LayoutScope::LayoutScope;
        Result<std::optional<uint32_t>> ResolveCall(const expr::Node& c) override {
          if (aggregate::FindAggregate(c.text))
            return Fail("aggregate '{}' cannot be nested inside another aggregate", c.text);
          return std::optional<uint32_t>();
        }
      } scope(ctx_.layout);
      auto program = expr::Compile(*call.children[k], scope);
      if (!program) {
        nested_ = false;
        return Fail(program.error().message);
      }
      bool must_be_constant = std::find(info->constant_args.begin(), info->constant_args.end(),
                                        static_cast<int>(k)) != info->constant_args.end();
      Value constant;
      if (must_be_constant) {
        if (!(*program)->IsConstant()) {
          nested_ = false;
          return Fail("argument {} of {}() must be a constant", k + 1, call.text);
        }
        Arena arena;
        constant = (*program)->Eval(nullptr, arena);
      }
      options.constants.push_back(constant);
      ac.args.push_back(std::move(*program));
    }
    nested_ = false;
    WEIR_ASSIGN_OR_RETURN(ac.fn, aggregate::MakeAggregate(call.text, nargs, options));
    if (!insert_only_ && !ac.fn->retractable())
      return Fail("{}() cannot take retractions, and a source of this metric sends change events (changes: true)",
                  call.text);
    ac.offset = plan_.state_size;
    plan_.state_size += ac.fn->state_size();
    plan_.aggregates.push_back(std::move(ac));
    return std::optional<uint32_t>(base + static_cast<uint32_t>(plan_.aggregates.size() - 1));
  }

 private:
  MetricPlan& plan_;
  const spec::MetricSpec& spec_;
  runtime::PlanContext& ctx_;
  bool insert_only_;
  size_t visible_selects_ = 0;
  bool nested_ = false;
};

}  // namespace

std::unique_ptr<runtime::Metric> MakeWindowMetric(const spec::MetricSpec& spec, runtime::PlanContext& ctx,
                                                  uint32_t index) {
  spec::Diagnostics& diags = ctx.diags;
  size_t errors_before = diags.error_count();
  MetricPlan plan;
  plan.schema.id = spec.id;
  plan.schema.index = index;
  plan.schema.windowed = spec.window.kind != spec::WindowKind::kNone;
  plan.schema.top_n = spec.limit > 0 || !spec.having.empty();
  plan.window = spec.window;
  plan.watermark = spec.watermark;
  plan.allowed_lateness = spec.allowed_lateness;
  plan.idle_timeout = spec.idle_timeout;
  plan.emit_early = spec.emit_early;
  plan.limit = spec.limit;
  plan.retention = spec.retention;
  plan.schema.window_size = spec.window.size;
  plan.schema.allowed_lateness = spec.allowed_lateness;
  plan.state_size = 8;  // every state row starts with the group's net record count
  for (const auto& s : ctx.sources) plan.source_ids.push_back(s.id);

  if (spec.window.kind == spec::WindowKind::kSession && (spec.limit > 0 || !spec.order_by.empty()))
    diags.Error(spec.window.location, "order_by/limit rank the groups of one window; session windows differ per "
                                      "group, so they cannot be combined with order_by or limit");
  if (spec.window.kind == spec::WindowKind::kSession) plan.schema.top_n = false;

  // Inputs: the sources named in `from`, or all of them.
  bool insert_only = true;
  for (size_t i = 0; i < ctx.sources.size(); ++i) {
    bool reads = spec.from.empty() ||
                 std::find(spec.from.begin(), spec.from.end(), ctx.sources[i].id) != spec.from.end();
    if (!reads) continue;
    if (!spec.from.empty()) plan.sources.push_back(static_cast<uint32_t>(i));
    for (uint32_t p = 0; p < ctx.sources[i].partitions; ++p)
      plan.inputs.push_back({static_cast<uint32_t>(i), p});
    insert_only = insert_only && !ctx.sources[i].may_retract;
  }

  if (!spec.where.empty()) plan.where = ctx.CompileOverLayout(spec.where);
  if (!spec.event_time.empty()) {
    plan.event_time = ctx.CompileOverLayout(spec.event_time);
    plan.event_time_text = spec.event_time.text;
  }
  for (const auto& g : spec.group_by) {
    plan.schema.key_names.push_back(g.name);
    plan.group_by.push_back(ctx.CompileOverLayout(g.expr));
  }
  auto check_name = [&](const spec::NamedExpr& ne) {
    for (auto r : kReserved)
      if (ne.name == r)
        diags.Error(ne.location, fmt::format("'{}' is a reserved column name of result rows; choose another name", r));
  };
  for (const auto& g : spec.group_by) check_name(g);

  SelectScope scope(plan, spec, ctx, insert_only);
  for (size_t s = 0; s < spec.select.size(); ++s) {
    check_name(spec.select[s]);
    plan.schema.value_names.push_back(spec.select[s].name);
    scope.SetVisibleSelects(s);
    plan.selects.push_back(ctx.Compile(spec.select[s].expr, scope));
  }
  scope.SetVisibleSelects(spec.select.size());
  if (!spec.having.empty()) plan.having = ctx.Compile(spec.having, scope);
  for (const auto& ob : spec.order_by) {
    uint32_t slot = UINT32_MAX;
    for (size_t k = 0; k < spec.group_by.size(); ++k)
      if (spec.group_by[k].name == ob.name) slot = static_cast<uint32_t>(k);
    for (size_t s = 0; s < spec.select.size(); ++s)
      if (spec.select[s].name == ob.name) slot = static_cast<uint32_t>(spec.group_by.size() + s);
    if (slot == UINT32_MAX) {
      diags.Error(spec.location, fmt::format("order_by '{}' is not a select or group_by name", ob.name));
      continue;
    }
    plan.order_by.emplace_back(slot, ob.descending);
  }
  if (diags.error_count() > errors_before) return nullptr;
  // What shapes the saved state: the window, the group keys, the aggregate calls (in order).
  plan.definition = fmt::format("window={} size={} every={} lateness={} keys=", static_cast<int>(spec.window.kind),
                                spec.window.size, spec.window.every, spec.allowed_lateness);
  for (const auto& g : spec.group_by) plan.definition += g.expr.text + ";";
  plan.definition += " aggregates=";
  for (const auto& a : plan.aggregates) plan.definition += a.text + ";";
  // With several workers, the state is partitioned by group key, a shard per worker. Without a
  // group key there is one group: it stays whole (one shard would do all the folding while the
  // others only followed the event times).
  if (ctx.workers > 1 && !spec.group_by.empty())
    return std::make_unique<ShardedMetric>(std::make_shared<const MetricPlan>(std::move(plan)),
                                           static_cast<uint32_t>(std::min<size_t>(ctx.workers, 64)));
  return std::make_unique<WindowMetric>(std::move(plan));
}

}  // namespace weir::operators
