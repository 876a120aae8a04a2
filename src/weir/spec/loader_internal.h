// The pipeline-file loader's internals, shared by loader.cc (the document, server, durability,
// sources, processors, sinks) and metric_loader.cc (metrics: windows, group_by, select, order_by).
// Not part of the spec module's interface: use LoadString / LoadFile (spec.h).
#pragma once

#include "weir/spec/spec.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unordered_set>

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

namespace weir::spec::internal {

inline constexpr std::string_view kApiVersion = "weir/v1";
inline constexpr std::string_view kLegacyApiVersion = "deltaforge/v1";

inline bool IsIdentifier(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (!(c == '_' || std::isalpha(c) || (i > 0 && std::isdigit(c)))) return false;
  }
  return true;
}

// "properties.currency": identifiers joined by dots.
inline bool IsFieldPath(std::string_view s) {
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (!IsIdentifier(s.substr(start, dot == std::string_view::npos ? dot : dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

inline std::string JoinPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return fmt::format("{}.{}", parent, key);
}

inline std::string List(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

inline std::string Hint(std::string_view word, const std::vector<std::string>& known, std::string_view what) {
  if (std::optional<std::string> near = ClosestMatch(word, known)) return fmt::format(" (did you mean '{}'?)", *near);
  if (known.empty()) return fmt::format(" (there are no {})", what);
  return fmt::format(" (known {}: {})", what, List(known));
}

inline std::string Where(const Location& at) { return fmt::format("line {}, column {}", at.line, at.column); }

// A window map holds exactly one of these.
inline const std::vector<std::string> kWindowKinds = {"tumbling", "sliding", "session", "cumulative", "none"};

class Loader {
 public:
  Loader(std::string_view source, const std::string& file)
      : source_(source), file_(std::make_shared<const std::string>(file)) {
    size_t first = source_.starts_with("\xEF\xBB\xBF") ? 3 : 0;  // yaml-cpp does not count a BOM
    line_starts_.push_back(first);
    for (size_t i = first; i < source_.size(); ++i)
      if (source_[i] == '\n') line_starts_.push_back(i + 1);
  }

  Pipeline Load(const YAML::Node& root);

  /// Hands the diagnostics of this load to `out`, in file order.
  void Flush(Diagnostics& out) {
    std::vector<Diagnostic> items = diags_.all();
    std::stable_sort(items.begin(), items.end(), [](const Diagnostic& a, const Diagnostic& b) {
      return std::pair(a.location.line, a.location.column) < std::pair(b.location.line, b.location.column);
    });
    for (Diagnostic& d : items) {
      if (d.warning)
        out.Warning(d.location, std::move(d.message));
      else
        out.Error(d.location, std::move(d.message));
    }
    diags_ = Diagnostics();
  }

  Diagnostics& diags() { return diags_; }

  /// The source character at a yaml-cpp mark, if the mark lies in the text.
  std::optional<char> CharAt(const YAML::Mark& m) const {
    std::optional<size_t> off = Offset(m);
    if (!off || *off >= source_.size()) return std::nullopt;
    return source_[*off];
  }

 private:
  void CheckKeys(const YAML::Node& root);
  void LoadServer(const ConfigNode& node, ServerSpec& server);
  void LoadDurability(const ConfigNode& node, DurabilitySpec& durability);
  void LoadSources(ConfigReader& spec, Pipeline& p);
  void LoadProcessors(const ConfigNode& node, Pipeline& p);
  void LoadMetrics(const ConfigNode& node, Pipeline& p);
  void LoadMetric(const ConfigNode& node, const Pipeline& p, MetricSpec& m);
  WindowSpec LoadWindow(const ConfigNode& node);
  std::vector<NamedExpr> LoadGroupBy(const ConfigNode& node);
  std::vector<NamedExpr> LoadNamedExprs(const ConfigNode& node, std::string_view what);
  std::vector<OrderBy> LoadOrderBy(const ConfigNode& node, const std::vector<std::string>& names);
  void LoadSinks(const ConfigNode& node, Pipeline& p);

  /// The elements of a list; an error (and none) if `node` is present but not a sequence.
  std::vector<ConfigNode> Items(const ConfigNode& node, std::string_view what);
  /// Substituted text of a scalar node; nullopt with an error otherwise.
  std::optional<std::string> Text(const ConfigNode& node, std::string_view expected);
  /// The expression written at `node`, located at its first character; nullopt (with an
  /// error) if it is not a scalar or its ${VAR} substitution fails.
  std::optional<ExprText> Expr(const ConfigNode& node);
  /// Whether a list item is a map; an error saying what it should be otherwise.
  bool IsEntry(const ConfigNode& item, std::string_view what);
  ExprText OptionalExpr(ConfigReader& r, std::string_view key);
  ExprText RequiredExpr(ConfigReader& r, std::string_view key);
  /// A duration > 0 (that must be present when `required`); nullopt if absent or wrong, with an
  /// error when wrong or required.
  std::optional<Duration> PositiveDuration(ConfigReader& r, std::string_view key, bool required);
  /// `id`, or `config.id`; nullopt if neither is given.
  std::optional<std::string> EntryId(ConfigReader& entry, const ConfigNode& config);

  /// Gives every entry without an id `<type>`, or `<type>-2`, `<type>-3`... when taken, and
  /// reports duplicate explicit ids.
  template <class T>
  void AssignIds(std::vector<T>& entries, const std::vector<bool>& explicit_id, std::string_view what);

  std::optional<size_t> Offset(const YAML::Mark& m) const {
    if (m.is_null() || m.line < 0 || m.column < 0 || static_cast<size_t>(m.line) >= line_starts_.size())
      return std::nullopt;
    size_t off = line_starts_[m.line] + static_cast<size_t>(m.column);
    if (off > source_.size()) return std::nullopt;
    return off;
  }

  std::string_view source_;
  std::vector<size_t> line_starts_;
  std::shared_ptr<const std::string> file_;
  Diagnostics diags_;
  bool legacy_ = false;
};

}  // namespace weir::spec::internal
