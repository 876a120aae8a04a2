// Located configuration errors, collected so that all of them are reported at once.
//
//   Diagnostics diags;
//   diags.Error(node.location(), "expected a duration such as 5s");
//   if (!diags.ok()) fmt::print(stderr, "{}", diags.Format());
//   // pipeline.yaml:12:14: spec.metrics[0].watermark: expected a duration such as 5s
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weir::spec {

/// A place in a configuration file. Lines and columns are 1-based; 0 when unknown.
struct Location {
  std::string file;
  int line = 0;
  int column = 0;
  std::string path;  ///< key path such as "spec.metrics[0].window.tumbling"
};

struct Diagnostic {
  Location location;
  std::string message;
  bool warning = false;
};

/// Collects errors and warnings in the order found.
class Diagnostics {
 public:
  void Error(const Location& at, std::string message);
  void Warning(const Location& at, std::string message);
  bool ok() const { return errors_ == 0; }
  size_t error_count() const { return errors_; }
  const std::vector<Diagnostic>& all() const { return items_; }
  /// One line per diagnostic: "file:line:column: path: message" (warnings say "warning:").
  std::string Format() const;

 private:
  std::vector<Diagnostic> items_;
  size_t errors_ = 0;
};

/// The candidate closest to `word` by edit distance (case-insensitive, a swap of two letters
/// counts once) if it is close enough to be a likely typo, else one that `word` shortens or
/// extends ("compression" -> "compression_type"); for "did you mean ...?" hints.
std::optional<std::string> ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace weir::spec
