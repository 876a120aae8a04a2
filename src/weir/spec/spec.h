// The pipeline file, loaded into typed structs and checked before anything starts.
//
//   spec::Diagnostics diags;
//   std::optional<spec::Pipeline> p = spec::LoadFile("pipeline.yaml", diags);
//   if (!diags.ok()) { fmt::print(stderr, "{}", diags.Format()); return 2; }
//
// Shape (compatible with DeltaForge's apiVersion/kind/metadata/spec):
//
//   apiVersion: weir/v1
//   kind: Pipeline
//   metadata: { name: shop, tenant: acme }
//   spec:
//     server: { listen: 127.0.0.1:8080 }
//     sources:    [ { type: http, id: ingest, config: { ... } } ]   # `source:` (one) also accepted
//     processors: [ { type: filter, where: "..." }, { type: set, fields: { name: expr } } ]
//     metrics:    [ { id, where, event_time, watermark, allowed_lateness, window, group_by,
//                     select, having, order_by, limit, emit } ]
//     sinks:      [ { type: file, id: out, from: metric:revenue, config: { ... } } ]
//
// Connector and processor settings are kept as located nodes; each connector reads its own
// `config` with a ConfigReader so that its errors are located too.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "weir/base/time.h"
#include "weir/spec/config_node.h"
#include "weir/spec/diagnostics.h"

namespace weir::spec {

/// An expression as written, with where it was written (for column-accurate errors).
struct ExprText {
  std::string text;
  Location location;  ///< location of the first character of the expression
  /// How many leading characters of `text` sit one-to-one on `location.line` from
  /// `location.column` (npos: all of them, the usual inline case). Fewer when the scalar has
  /// escapes, ${VAR} substitutions or continues on further lines.
  size_t inline_chars = std::string::npos;
  bool empty() const { return text.empty(); }
};

/// A named expression: `name: expr` in group_by, select, set.
struct NamedExpr {
  std::string name;
  ExprText expr;
  Location location;  ///< of the key
};

struct SourceSpec {
  std::string id;
  std::string type;   ///< http, file, simulator, kafka, ...
  bool enabled = true;  ///< `enabled: false` (often `${VAR:-true}`) leaves the source out
  ConfigNode config;  ///< the `config:` map (undefined if absent)
  ConfigNode node;    ///< the whole entry
  Location location;
};

struct ProcessorSpec {
  std::string id;
  std::string type;  ///< filter, set, ...
  ConfigNode node;   ///< the whole entry; processors read their own keys from it
  Location location;
  ExprText where;                 ///< `filter`: the condition
  std::vector<NamedExpr> fields;  ///< `set`: name -> expression, in file order
};

enum class WindowKind { kTumbling, kSliding, kSession, kCumulative, kNone };

struct WindowSpec {
  WindowKind kind = WindowKind::kTumbling;
  Duration size = 0;   ///< tumbling/sliding/cumulative size; session gap
  Duration every = 0;  ///< sliding slide, cumulative step; 0 otherwise
  Location location;
};

struct OrderBy {
  std::string name;  ///< a select or group_by name
  bool descending = false;
};

/// One downsampling tier: rows re-aggregated to `window`, kept for `keep`.
struct DownsampleSpec {
  Duration window = 0;
  std::optional<Duration> keep;  ///< unset: forever
  Location location;
};

/// How long results are kept, and coarser copies kept longer. Ages are measured against the
/// metric's watermark (event time), so that a replay keeps the same rows.
struct RetentionSpec {
  std::optional<Duration> keep;  ///< rows at the metric's own window; unset: forever
  std::vector<DownsampleSpec> downsample;
};

struct MetricSpec {
  std::string id;
  std::string description;
  std::vector<std::string> from;  ///< source ids; empty = every source
  ExprText where;                 ///< empty = every record
  ExprText event_time;            ///< field or expression; empty = processing time
  Duration watermark = 0;         ///< bounded out-of-orderness
  Duration allowed_lateness = 0;
  std::optional<Duration> idle_timeout;  ///< input idle this long stops holding the watermark
  WindowSpec window;
  std::vector<NamedExpr> group_by;
  std::vector<NamedExpr> select;
  ExprText having;
  std::vector<OrderBy> order_by;
  int64_t limit = 0;  ///< 0 = no limit; top-N per window with order_by
  std::optional<Duration> emit_early;  ///< partial results this often while a window is open
  RetentionSpec retention;
  Location location;
};

struct SinkSpec {
  std::string id;
  std::string type;  ///< file, stdout, kafka, ...
  std::string from;  ///< "events", "metric:<id>", "late:<id>"
  bool required = true;
  ConfigNode config;
  ConfigNode node;
  Location location;
};

struct ServerSpec {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  bool enabled = true;
  int64_t max_body_bytes = 16 << 20;  ///< larger request bodies get 413
  int threads = 1;                    ///< IO threads
};

/// `spec.durability`: where durable state lives and how hard it is pushed to disk.
struct DurabilitySpec {
  std::string dir;                           ///< data directory (--data-dir overrides)
  std::string fsync = "interval";            ///< always | interval (group commit) | never
  Duration fsync_interval = 5;               ///< group-commit window
  int64_t segment_bytes = 64 << 20;          ///< write-ahead log segment size
  Duration checkpoint_interval = 10000;      ///< how often a checkpoint is taken
  int checkpoint_keep = 3;                   ///< checkpoints kept
  int64_t max_queued_bytes = 256 << 20;      ///< input accepted but not yet processed; beyond it, 503
  int64_t max_memory = 0;                    ///< resident memory beyond which ingest answers 503; 0: no cap
};

struct Pipeline {
  std::string file;  ///< path the pipeline was loaded from
  std::string api_version;
  std::string name;
  std::string tenant;
  ServerSpec server;
  DurabilitySpec durability;
  std::vector<SourceSpec> sources;
  std::vector<ProcessorSpec> processors;
  std::vector<MetricSpec> metrics;
  std::vector<SinkSpec> sinks;
  ConfigNode root;      ///< whole document (to read sections later issues add)
  ConfigNode spec_node; ///< the `spec:` map
};

/// Loads and checks the structure of a pipeline file: required keys, types, durations, window
/// shapes, unique ids, references between metrics/sinks/sources. Expressions are only checked
/// to be non-empty here; the planner compiles them and reports their errors at their location.
/// Returns nullopt only when the file cannot be read or is not YAML at all.
std::optional<Pipeline> LoadFile(const std::string& path, Diagnostics& diags);
std::optional<Pipeline> LoadString(std::string_view yaml, const std::string& file_name, Diagnostics& diags);

/// Location of column `column` (1-based) inside an expression written at `expr.location`.
/// Handles expressions written inline on the key's line; for block scalars it is the start.
Location LocateInExpr(const ExprText& expr, uint32_t column);

/// Parses "127.0.0.1:8080", ":8080", "8080" or "[::1]:8080".
Result<std::pair<std::string, uint16_t>> ParseListen(std::string_view text);

}  // namespace weir::spec
