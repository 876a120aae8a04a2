// Factories for the `type:` names a pipeline file may use, and the context they plan in.
//
// Connectors and operators register a factory under the YAML `type` they implement:
//
//   registry.AddSource("file", "replays an NDJSON file", MakeFileSource);
//
// A factory reads its own settings (ConfigReader on spec.config), reports every problem to
// ctx.diags at its location, and returns nullptr if it cannot be built.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "weir/expr/expr.h"
#include "weir/model/layout.h"
#include "weir/runtime/operator.h"
#include "weir/runtime/sink.h"
#include "weir/runtime/source.h"
#include "weir/spec/spec.h"

namespace weir::runtime {

/// What the planner knows about a source once it is built.
struct SourceInfo {
  std::string id;
  uint32_t partitions = 1;
  bool bounded = false;
  bool may_retract = false;
};

/// Shared state while a pipeline is planned.
struct PlanContext {
  const spec::Pipeline& pipeline;
  spec::Diagnostics& diags;
  Layout& layout;
  std::vector<SourceInfo> sources;  ///< filled before processors and metrics are planned
  std::string data_dir;
  /// Workers the pipeline runs with: metrics partition their state into this many shards.
  size_t workers = 1;

  /// Index of a source id, or -1.
  int SourceIndex(std::string_view id) const;
  /// Compiles an expression of the pipeline file; errors are reported at their exact column.
  expr::ProgramPtr Compile(const spec::ExprText& text, expr::Scope& scope);
  /// Same with a scope in which every field path is a slot of the layout.
  expr::ProgramPtr CompileOverLayout(const spec::ExprText& text);
};

/// A scope in which every field path names a slot of the layout (created on first use).
class LayoutScope : public expr::Scope {
 public:
  explicit LayoutScope(Layout& layout) : layout_(layout) {}
  Result<uint32_t> ResolveField(std::string_view path) override { return layout_.Intern(path); }

 private:
  Layout& layout_;
};

using SourceFactory = std::function<std::unique_ptr<Source>(const spec::SourceSpec&, PlanContext&)>;
using SinkFactory = std::function<std::unique_ptr<Sink>(const spec::SinkSpec&, PlanContext&)>;
using ProcessorFactory = std::function<std::unique_ptr<Processor>(const spec::ProcessorSpec&, PlanContext&)>;
using MetricFactory =
    std::function<std::unique_ptr<Metric>(const spec::MetricSpec&, PlanContext&, uint32_t index)>;

/// The connectors and operators a build of weir knows.
class Registry {
 public:
  void AddSource(std::string type, std::string description, SourceFactory f);
  void AddSink(std::string type, std::string description, SinkFactory f);
  void AddProcessor(std::string type, std::string description, ProcessorFactory f);
  void SetMetricFactory(MetricFactory f) { metric_ = std::move(f); }

  const SourceFactory* FindSource(std::string_view type) const;
  const SinkFactory* FindSink(std::string_view type) const;
  const ProcessorFactory* FindProcessor(std::string_view type) const;
  const MetricFactory& metric_factory() const { return metric_; }

  std::vector<std::string> SourceTypes() const;
  std::vector<std::string> SinkTypes() const;
  std::vector<std::string> ProcessorTypes() const;

 private:
  template <class F>
  struct Entry {
    std::string description;
    F factory;
  };
  std::map<std::string, Entry<SourceFactory>, std::less<>> sources_;
  std::map<std::string, Entry<SinkFactory>, std::less<>> sinks_;
  std::map<std::string, Entry<ProcessorFactory>, std::less<>> processors_;
  MetricFactory metric_;
};

}  // namespace weir::runtime
