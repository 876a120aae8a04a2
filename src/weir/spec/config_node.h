// Reading a located piece of the pipeline file, with ${VAR} substitution and typed getters.
//
// Every getter records an error in the Diagnostics (with file:line:column and the key path)
// instead of throwing, and returns a fallback so that checking continues and all errors are
// reported at once. Keys that were never read can be reported as unknown, with a suggestion.
//
//   ConfigReader r(node, diags);
//   std::string topic = r.RequiredString("topic");
//   Duration every = r.Duration("interval", 1000);
//   int64_t n = r.Int("partitions", 1, /*min=*/1, /*max=*/1024);
//   r.RejectUnknownKeys();   // "unknown key 'topik' (did you mean 'topic'?)"
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "weir/base/result.h"
#include "weir/base/time.h"
#include "weir/spec/diagnostics.h"

namespace weir::spec {

/// Replaces ${VAR} and ${VAR:-default} using the process environment. $$ is a literal '$'.
/// An unset variable without a default is an error naming it.
Result<std::string> SubstituteEnv(std::string_view text);

/// A YAML node together with its file name and key path. Cheap to copy.
class ConfigNode {
 public:
  ConfigNode() = default;
  ConfigNode(YAML::Node node, std::shared_ptr<const std::string> file, std::string path)
      : node_(std::move(node)), file_(std::move(file)), path_(std::move(path)) {}

  bool defined() const { return node_.IsDefined() && !node_.IsNull(); }
  bool is_map() const { return node_.IsMap(); }
  bool is_sequence() const { return node_.IsSequence(); }
  bool is_scalar() const { return node_.IsScalar(); }

  /// Child by key; an undefined node (with the would-be path and the parent's location) if absent.
  ConfigNode operator[](std::string_view key) const;
  /// Element of a sequence.
  ConfigNode operator[](size_t index) const;
  /// Elements of a sequence, in order (empty for anything else).
  std::vector<ConfigNode> items() const;
  size_t size() const { return node_.size(); }
  /// Keys of a map, in file order.
  std::vector<std::string> keys() const;

  /// Raw scalar text, before substitution.
  std::string raw() const { return node_.IsScalar() ? node_.Scalar() : std::string(); }
  Location location() const;
  /// What the node holds, for "found ..." in messages: "a map", "a sequence", "nothing" or the
  /// scalar in quotes ('abc').
  std::string Describe() const;
  const std::string& path() const { return path_; }
  const YAML::Node& yaml() const { return node_; }
  const std::shared_ptr<const std::string>& file() const { return file_; }

 private:
  YAML::Node node_;
  std::shared_ptr<const std::string> file_;
  std::string path_;
  /// Where the node is reported when it has no mark of its own: the key of a null value, or
  /// the parent of an absent child.
  YAML::Mark fallback_mark_ = YAML::Mark::null_mark();
  YAML::Mark mark() const;
  friend class ConfigReader;
};

/// Typed, located access to the keys of one map node. Remembers which keys were read.
class ConfigReader {
 public:
  ConfigReader(ConfigNode node, Diagnostics& diags);

  const ConfigNode& node() const { return node_; }
  Diagnostics& diags() { return *diags_; }
  bool Has(std::string_view key) const;
  /// Marks `key` as read and returns its node (undefined if absent).
  ConfigNode Child(std::string_view key);

  std::string RequiredString(std::string_view key);
  std::optional<std::string> OptionalString(std::string_view key);
  std::string String(std::string_view key, std::string_view fallback);
  /// One of `choices`; anything else is an error listing them.
  std::string Enum(std::string_view key, const std::vector<std::string>& choices, std::string_view fallback);
  int64_t Int(std::string_view key, int64_t fallback, int64_t min = INT64_MIN, int64_t max = INT64_MAX);
  double Double(std::string_view key, double fallback);
  bool Bool(std::string_view key, bool fallback);
  /// "5s", "250ms", "1h30m".
  weir::Duration Duration(std::string_view key, weir::Duration fallback);
  std::optional<weir::Duration> OptionalDuration(std::string_view key);
  /// "1048576", "64KiB", "4MiB", "1GB".
  int64_t Bytes(std::string_view key, int64_t fallback);
  /// A scalar or a sequence of scalars.
  std::vector<std::string> StringList(std::string_view key);
  /// A map of scalar to scalar, in file order.
  std::vector<std::pair<std::string, std::string>> StringMap(std::string_view key);

  /// For required keys that are not plain strings (a map, a list): marks `key` as read and, if
  /// it is absent or null, records "missing required key 'k' (expected)" or "expected ...,
  /// found nothing". Returns whether it is present.
  bool Require(std::string_view key, std::string_view expected);
  /// Records an error at `key` (or at this node if the key is absent).
  void Error(std::string_view key, std::string message);
  /// Errors for every key never read through this reader, suggesting the closest known key.
  void RejectUnknownKeys(const std::vector<std::string>& also_allowed = {});

 private:
  /// Substituted scalar text of `key`, or nullopt: absent or null (no error), or not a scalar
  /// or a failed substitution (error saying `expected` and what was found).
  std::optional<std::string> Scalar(std::string_view key, std::string_view expected);

  ConfigNode node_;
  Diagnostics* diags_;
  std::set<std::string, std::less<>> read_;
};

/// Parses "64KiB"-style sizes; plain numbers are bytes.
Result<int64_t> ParseBytes(std::string_view text);

}  // namespace weir::spec
