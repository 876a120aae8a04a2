#include "weir/runtime/registry.h"

namespace weir::runtime {

int PlanContext::SourceIndex(std::string_view id) const {
  for (size_t i = 0; i < sources.size(); ++i)
    if (sources[i].id == id) return static_cast<int>(i);
  return -1;
}

expr::ProgramPtr PlanContext::Compile(const spec::ExprText& text, expr::Scope& scope) {
  auto program = expr::Compile(text.text, scope);
  if (!program) {
    spec::Location at = spec::LocateInExpr(text, program.error().column);
    diags.Error(at, fmt::format("in expression '{}': {}", text.text, program.error().message));
    return nullptr;
  }
  return std::move(*program);
}

expr::ProgramPtr PlanContext::CompileOverLayout(const spec::ExprText& text) {
  LayoutScope scope(layout);
  return Compile(text, scope);
}

void Registry::AddSource(std::string type, std::string description, SourceFactory f) {
  sources_[std::move(type)] = {std::move(description), std::move(f)};
}
void Registry::AddSink(std::string type, std::string description, SinkFactory f) {
  sinks_[std::move(type)] = {std::move(description), std::move(f)};
}
void Registry::AddProcessor(std::string type, std::string description, ProcessorFactory f) {
  processors_[std::move(type)] = {std::move(description), std::move(f)};
}

const SourceFactory* Registry::FindSource(std::string_view type) const {
  auto it = sources_.find(type);
  return it == sources_.end() ? nullptr : &it->second.factory;
}
const SinkFactory* Registry::FindSink(std::string_view type) const {
  auto it = sinks_.find(type);
  return it == sinks_.end() ? nullptr : &it->second.factory;
}
const ProcessorFactory* Registry::FindProcessor(std::string_view type) const {
  auto it = processors_.find(type);
  return it == processors_.end() ? nullptr : &it->second.factory;
}

namespace {
template <class M>
std::vector<std::string> Keys(const M& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) out.push_back(k);
  return out;
}
}  // namespace

std::vector<std::string> Registry::SourceTypes() const { return Keys(sources_); }
std::vector<std::string> Registry::SinkTypes() const { return Keys(sinks_); }
std::vector<std::string> Registry::ProcessorTypes() const { return Keys(processors_); }

}  // namespace weir::runtime
