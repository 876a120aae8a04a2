// Loads a pipeline file into spec::Pipeline, collecting every located error on the way.
//
//   spec::Diagnostics diags;
//   auto p = spec::LoadString(yaml_text, "pipeline.yaml", diags);
//   // diags.Format(): "pipeline.yaml:14:17: spec.metrics[0].window.tumbling: invalid duration ..."
//
// The walk reads each structural map through a ConfigReader, so unknown keys come out with a
// "did you mean" hint, and keeps going after an error so that one run shows all of them. The
// diagnostics of one load are reported in file order.
#include "weir/spec/loader_internal.h"

namespace weir::spec {
namespace internal {

// Reports map keys that are not plain strings and keys given twice (yaml-cpp keeps both and
// lookups silently take the first). Walks every map once, aliases included; anchors can make
// the graph cyclic, hence the visited set.
void Loader::CheckKeys(const YAML::Node& root) {
  std::vector<std::pair<YAML::Node, std::string>> stack;
  std::unordered_set<int> visited;  // container start positions (an alias shares its anchor's)
  stack.emplace_back(root, std::string());
  while (!stack.empty()) {
    auto [node, path] = std::move(stack.back());
    stack.pop_back();
    if (!node.IsMap() && !node.IsSequence()) continue;
    if (!visited.insert(node.Mark().pos).second) continue;
    if (node.IsSequence()) {
      size_t i = 0;
      for (const auto& item : node) stack.emplace_back(item, fmt::format("{}[{}]", path, i++));
      continue;
    }
    std::map<std::string, YAML::Mark, std::less<>> seen;
    for (const auto& kv : node) {
      YAML::Node key = kv.first;
      if (!key.IsScalar()) {
        ConfigNode at(key, file_, path);
        diags_.Error(at.location(), fmt::format("map keys must be plain names, found {}", at.Describe()));
        continue;
      }
      std::string child = JoinPath(path, key.Scalar());
      auto [pos, inserted] = seen.emplace(key.Scalar(), key.Mark());
      if (!inserted) {
        diags_.Error(ConfigNode(key, file_, child).location(),
                     fmt::format("duplicate key '{}' (first given at line {})", key.Scalar(), pos->second.line + 1));
      }
      stack.emplace_back(kv.second, std::move(child));
    }
  }
}

std::optional<std::string> Loader::Text(const ConfigNode& node, std::string_view expected) {
  if (!node.is_scalar()) {
    diags_.Error(node.location(), fmt::format("expected {}, found {}", expected, node.Describe()));
    return std::nullopt;
  }
  Result<std::string> text = SubstituteEnv(node.raw());
  if (!text) {
    diags_.Error(node.location(), text.error().message);
    return std::nullopt;
  }
  return std::move(*text);
}

std::vector<ConfigNode> Loader::Items(const ConfigNode& node, std::string_view what) {
  std::vector<ConfigNode> out;
  if (!node.defined()) return out;
  if (!node.is_sequence()) {
    diags_.Error(node.location(), fmt::format("expected a list of {}, found {}", what, node.Describe()));
    return out;
  }
  return node.items();
}

bool Loader::IsEntry(const ConfigNode& item, std::string_view what) {
  if (item.is_map()) return true;
  diags_.Error(item.location(), fmt::format("expected a map describing {}, found {}", what, item.Describe()));
  return false;
}

std::optional<ExprText> Loader::Expr(const ConfigNode& node) {
  ExprText e;
  e.location = node.location();
  std::optional<std::string> text = Text(node, "an expression");
  if (!text) return std::nullopt;
  e.text = std::move(*text);
  e.inline_chars = 0;
  std::optional<size_t> start = Offset(node.yaml().Mark());
  if (!start) return e;
  size_t p = *start;
  const size_t n = source_.size();
  auto space = [&](size_t i) {
    return source_[i] == ' ' || source_[i] == '\t' || source_[i] == '\r' || source_[i] == '\n';
  };
  // yaml-cpp marks a node at its properties (&anchor, !tag) when it has them.
  while (p < n && (source_[p] == '&' || source_[p] == '!')) {
    while (p < n && !space(p)) ++p;
    while (p < n && space(p)) ++p;
  }
  if (p < n && (source_[p] == '"' || source_[p] == '\'')) {
    ++p;
  } else if (p < n && (source_[p] == '|' || source_[p] == '>')) {
    // Block scalar: the text starts on the first non-blank line after the header.
    while (true) {
      size_t nl = source_.find('\n', p);
      if (nl == std::string_view::npos) return e;
      p = nl + 1;
      while (p < n && (source_[p] == ' ' || source_[p] == '\t' || source_[p] == '\r')) ++p;
      if (p < n && source_[p] != '\n') break;
      if (p >= n) return e;
    }
  }
  if (p > n) return e;
  size_t line =
      static_cast<size_t>(std::upper_bound(line_starts_.begin(), line_starts_.end(), p) - line_starts_.begin()) - 1;
  e.location.line = static_cast<int>(line) + 1;
  e.location.column = static_cast<int>(p - line_starts_[line]) + 1;
  size_t k = 0;
  while (k < e.text.size() && p + k < n && source_[p + k] == e.text[k] && source_[p + k] != '\n') ++k;
  e.inline_chars = k;
  return e;
}

ExprText Loader::OptionalExpr(ConfigReader& r, std::string_view key) {
  ConfigNode node = r.Child(key);
  ExprText absent{.text = {}, .location = node.location()};
  if (!node.defined()) return absent;
  return Expr(node).value_or(std::move(absent));
}

ExprText Loader::RequiredExpr(ConfigReader& r, std::string_view key) {
  ConfigNode node = r.Child(key);
  ExprText absent{.text = {}, .location = node.location()};
  if (!r.Require(key, "an expression")) return absent;
  std::optional<ExprText> e = Expr(node);
  if (!e) return absent;
  if (e->empty()) diags_.Error(e->location, "expected an expression, found an empty string");
  return std::move(*e);
}

std::optional<Duration> Loader::PositiveDuration(ConfigReader& r, std::string_view key, bool required) {
  r.Child(key);  // a known key even when absent, for "did you mean"
  if (required ? !r.Require(key, "a duration such as 5m") : !r.Has(key)) return std::nullopt;
  std::optional<Duration> d = r.OptionalDuration(key);
  if (d && *d <= 0) {
    r.Error(key, fmt::format("expected a duration greater than 0, found '{}'", r.node()[key].raw()));
    return std::nullopt;
  }
  return d;
}

std::optional<std::string> Loader::EntryId(ConfigReader& entry, const ConfigNode& config) {
  std::optional<std::string> id = entry.OptionalString("id");
  ConfigNode where = entry.node()["id"];
  if (!id && config.is_map() && config["id"].defined()) {
    // DeltaForge files give connector ids inside `config`.
    where = config["id"];
    id = Text(where, "a string");
  }
  if (id && id->empty()) {
    diags_.Error(where.location(), "expected a non-empty id");
    return std::nullopt;
  }
  return id;
}

template <class T>
void Loader::AssignIds(std::vector<T>& entries, const std::vector<bool>& explicit_id, std::string_view what) {
  std::map<std::string, Location, std::less<>> taken;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!explicit_id[i]) continue;
    auto [pos, inserted] = taken.emplace(entries[i].id, entries[i].location);
    if (!inserted) {
      Location at = entries[i].node["id"].defined() ? entries[i].node["id"].location()
                                                    : entries[i].node["config"]["id"].location();
      diags_.Error(at,
                   fmt::format("duplicate {} id '{}' (first defined at {})", what, entries[i].id, Where(pos->second)));
    }
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    if (explicit_id[i]) continue;
    std::string base = entries[i].type.empty() ? std::string(what) : entries[i].type;
    std::string id = base;
    for (int n = 2; taken.count(id) != 0; ++n) id = fmt::format("{}-{}", base, n);
    taken.emplace(id, entries[i].location);
    entries[i].id = std::move(id);
  }
}

Pipeline Loader::Load(const YAML::Node& root) {
  Pipeline p;
  p.file = *file_;
  p.root = ConfigNode(root, file_, "");
  CheckKeys(root);
  if (!p.root.defined()) {
    diags_.Error(Location{*file_, 1, 1, ""},
                 "the file is empty; expected a map with apiVersion, kind, metadata and spec");
    return p;
  }
  if (!p.root.is_map()) {
    diags_.Error(p.root.location(),
                 fmt::format("expected a map with apiVersion, kind, metadata and spec, found {}", p.root.Describe()));
    return p;
  }
  ConfigReader top(p.root, diags_);

  if (top.Require("apiVersion", fmt::format("'{}'", kApiVersion))) {
    p.api_version = top.String("apiVersion", "");
    if (p.api_version == kLegacyApiVersion) {
      legacy_ = true;
      diags_.Warning(top.node()["apiVersion"].location(),
                     fmt::format("'{}' is read for compatibility; write '{}'", kLegacyApiVersion, kApiVersion));
    } else if (p.api_version != kApiVersion && !p.api_version.empty()) {
      top.Error("apiVersion", fmt::format("expected '{}', found '{}'", kApiVersion, p.api_version));
    }
  }
  if (top.Require("kind", "'Pipeline'")) {
    std::string kind = top.String("kind", "Pipeline");
    if (kind != "Pipeline") top.Error("kind", fmt::format("expected 'Pipeline', found '{}'", kind));
  }

  ConfigReader metadata(top.Child("metadata"), diags_);
  p.name = metadata.RequiredString("name");
  p.tenant = metadata.String("tenant", "");
  metadata.RejectUnknownKeys();

  if (top.Require("spec", "a map with sources, metrics, sinks...")) {
    p.spec_node = top.Child("spec");
    ConfigReader spec(p.spec_node, diags_);
    LoadServer(spec.Child("server"), p.server);
    LoadDurability(spec.Child("durability"), p.durability);
    LoadSources(spec, p);
    LoadProcessors(spec.Child("processors"), p);
    LoadMetrics(spec.Child("metrics"), p);
    LoadSinks(spec.Child("sinks"), p);
    // DeltaForge sections: kept in spec_node for the runtime; their shape is its to check.
    spec.Child("batch");
    spec.Child("commit_policy");
    spec.RejectUnknownKeys();
  }
  top.RejectUnknownKeys();
  return p;
}

void Loader::LoadServer(const ConfigNode& node, ServerSpec& server) {
  ConfigReader r(node, diags_);
  if (std::optional<std::string> listen = r.OptionalString("listen")) {
    Result<std::pair<std::string, uint16_t>> hp = ParseListen(*listen);
    if (hp) {
      server.host = std::move(hp->first);
      server.port = hp->second;
    } else {
      r.Error("listen", hp.error().message);
    }
  }
  server.enabled = r.Bool("enabled", true);
  server.max_body_bytes = r.Bytes("max_body_bytes", server.max_body_bytes);
  if (server.max_body_bytes < 1024) r.Error("max_body_bytes", "must be at least 1KiB");
  server.threads = static_cast<int>(r.Int("threads", server.threads, 1, 64));
  r.RejectUnknownKeys();
}

void Loader::LoadDurability(const ConfigNode& node, DurabilitySpec& d) {
  ConfigReader r(node, diags_);
  d.dir = r.String("dir", "");
  d.fsync = r.Enum("fsync", {"always", "interval", "never"}, d.fsync);
  d.fsync_interval = r.Duration("fsync_interval", d.fsync_interval);
  d.segment_bytes = r.Bytes("segment_bytes", d.segment_bytes);
  if (d.segment_bytes < (1 << 16)) r.Error("segment_bytes", "must be at least 64KiB");
  ConfigReader ck(r.Child("checkpoint"), diags_);
  d.checkpoint_interval = ck.Duration("interval", d.checkpoint_interval);
  if (d.checkpoint_interval < 100) ck.Error("interval", "must be at least 100ms");
  d.checkpoint_keep = static_cast<int>(ck.Int("keep", d.checkpoint_keep, 1, 100));
  ck.RejectUnknownKeys();
  d.max_queued_bytes = r.Bytes("max_queued_bytes", d.max_queued_bytes);
  d.max_memory = r.Bytes("max_memory", d.max_memory);
  if (d.max_memory != 0 && d.max_memory < (16 << 20)) r.Error("max_memory", "must be at least 16MiB (or 0: no cap)");
  r.RejectUnknownKeys();
}

void Loader::LoadSources(ConfigReader& spec, Pipeline& p) {
  ConfigNode many = spec.Child("sources");
  ConfigNode one = spec.Child("source");
  std::vector<ConfigNode> items;
  if (many.defined() && one.defined()) {
    diags_.Error(one.location(), "write either 'source' (one map) or 'sources' (a list), not both");
    items = Items(many, "sources");
  } else if (many.defined()) {
    items = Items(many, "sources");
  } else if (one.defined()) {
    if (one.is_map())
      items.push_back(one);
    else
      diags_.Error(one.location(), fmt::format("expected a map (use 'sources' for a list), found {}", one.Describe()));
  }
  std::vector<bool> explicit_id;
  for (const ConfigNode& item : items) {
    if (!IsEntry(item, "a source")) continue;
    ConfigReader r(item, diags_);
    SourceSpec s;
    s.node = item;
    s.location = item.location();
    s.type = r.RequiredString("type");
    s.enabled = r.Bool("enabled", true);
    s.config = r.Child("config");
    ConfigReader config(s.config, diags_);  // reports a `config` that is not a map
    std::optional<std::string> id = EntryId(r, s.config);
    explicit_id.push_back(id.has_value());
    if (id) s.id = std::move(*id);
    r.RejectUnknownKeys();
    p.sources.push_back(std::move(s));
  }
  AssignIds(p.sources, explicit_id, "source");
}

void Loader::LoadProcessors(const ConfigNode& node, Pipeline& p) {
  std::vector<bool> explicit_id;
  for (const ConfigNode& item : Items(node, "processors")) {
    if (!IsEntry(item, "a processor")) continue;
    ConfigReader r(item, diags_);
    ProcessorSpec proc;
    proc.node = item;
    proc.location = item.location();
    proc.type = r.RequiredString("type");
    std::optional<std::string> id = r.OptionalString("id");
    if (id && id->empty()) {
      r.Error("id", "expected a non-empty id");
      id.reset();
    }
    explicit_id.push_back(id.has_value());
    if (id) proc.id = std::move(*id);
    // Only the built-in processors are checked here; the others read their own keys from `node`.
    if (proc.type == "filter") {
      proc.where = RequiredExpr(r, "where");
      r.RejectUnknownKeys();
    } else if (proc.type == "set") {
      if (r.Require("fields", "a map of name: expression")) proc.fields = LoadNamedExprs(r.Child("fields"), "fields");
      r.RejectUnknownKeys();
    }
    p.processors.push_back(std::move(proc));
  }
  AssignIds(p.processors, explicit_id, "processor");
}

void Loader::LoadSinks(const ConfigNode& node, Pipeline& p) {
  std::vector<std::string> metric_ids;
  for (const MetricSpec& m : p.metrics)
    if (!m.id.empty()) metric_ids.push_back(m.id);
  std::vector<bool> explicit_id;
  for (const ConfigNode& item : Items(node, "sinks")) {
    if (!IsEntry(item, "a sink")) continue;
    ConfigReader r(item, diags_);
    SinkSpec s;
    s.node = item;
    s.location = item.location();
    s.type = r.RequiredString("type");
    s.config = r.Child("config");
    ConfigReader config(s.config, diags_);
    std::optional<std::string> id = EntryId(r, s.config);
    explicit_id.push_back(id.has_value());
    if (id) s.id = std::move(*id);

    // DeltaForge sinks take every event and have no `from`.
    s.from = legacy_ ? r.String("from", "events") : r.RequiredString("from");
    if (!s.from.empty() && s.from != "events") {
      size_t colon = s.from.find(':');
      std::string_view prefix = std::string_view(s.from).substr(0, colon == std::string::npos ? 0 : colon);
      std::string metric = colon == std::string::npos ? std::string() : s.from.substr(colon + 1);
      if (prefix != "metric" && prefix != "late") {
        r.Error("from", fmt::format("expected 'events', 'metric:<id>' or 'late:<id>', found '{}'", s.from));
      } else if (std::find(metric_ids.begin(), metric_ids.end(), metric) == metric_ids.end()) {
        r.Error("from", fmt::format("unknown metric '{}'{}", metric, Hint(metric, metric_ids, "metrics")));
      }
    }

    // DeltaForge files say `required` inside `config`.
    if (r.Has("required") || !config.Has("required"))
      s.required = r.Bool("required", true);
    else
      s.required = config.Bool("required", true);
    r.RejectUnknownKeys();
    p.sinks.push_back(std::move(s));
  }
  AssignIds(p.sinks, explicit_id, "sink");
}

// Records where each document starts. Parsing with it checks the whole stream (every document)
// for syntax errors without building nodes.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

}  // namespace internal

using internal::DocumentStarts;
using internal::Loader;

std::optional<Pipeline> LoadString(std::string_view yaml, const std::string& file_name, Diagnostics& diags) {
  auto syntax_error = [&](const YAML::Mark& mark, std::string_view message) {
    Location at{file_name, 0, 0, ""};
    if (!mark.is_null()) {
      at.line = mark.line + 1;
      at.column = mark.column + 1;
    }
    diags.Error(at, fmt::format("YAML syntax error: {}", message));
  };
  Loader loader(yaml, file_name);
  const std::string text(yaml);
  YAML::Node root;
  size_t documents = 0;
  try {
    // yaml-cpp 0.7's LoadAll never returns on some malformed input (a lone ',' where a node
    // should start): the parser does not consume the token and yields an empty document per
    // turn, allocating until memory runs out (jbeder/yaml-cpp#1040, fixed after 0.8). So the
    // documents are walked here, stopping when one starts where the previous one did.
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentStarts starts;
    while (parser.HandleNextDocument(starts)) {
      size_t n = starts.starts.size();
      if (n >= 2 && starts.starts[n - 1].pos == starts.starts[n - 2].pos) {
        std::optional<char> c = loader.CharAt(starts.starts[n - 1]);
        syntax_error(starts.starts[n - 1],
                     c ? fmt::format("unexpected '{}'", *c) : std::string("unexpected character"));
        return std::nullopt;
      }
    }
    documents = starts.starts.size();
    if (documents > 0) root = YAML::Load(text);
    if (documents > 1) {
      loader.diags().Error(Location{file_name, starts.starts[1].line + 1, starts.starts[1].column + 1, ""},
                           fmt::format("expected one YAML document, found {}; remove the '---' separators", documents));
    }
  } catch (const YAML::Exception& e) {
    syntax_error(e.mark, e.msg);
    return std::nullopt;
  } catch (const std::exception& e) {
    diags.Error(Location{file_name, 0, 0, ""}, fmt::format("cannot parse the YAML: {}", e.what()));
    return std::nullopt;
  }

  std::optional<Pipeline> p;
  try {
    p = loader.Load(root);
  } catch (const std::exception& e) {
    // Nothing in the walk is expected to throw; if yaml-cpp still does, the user gets an error
    // rather than a crash.
    loader.diags().Error(Location{file_name, 0, 0, ""}, fmt::format("cannot read the pipeline: {}", e.what()));
    p.reset();
  }
  loader.Flush(diags);
  return p;
}

std::optional<Pipeline> LoadFile(const std::string& path, Diagnostics& diags) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags.Error(Location{path, 0, 0, ""}, fmt::format("cannot open the pipeline file: {}", std::strerror(errno)));
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    diags.Error(Location{path, 0, 0, ""}, "cannot read the pipeline file");
    return std::nullopt;
  }
  return LoadString(text.str(), path, diags);
}

Location LocateInExpr(const ExprText& expr, uint32_t column) {
  Location at = expr.location;
  if (at.line == 0 || column == 0) return at;
  size_t index = column - 1;
  size_t mapped = std::min(expr.inline_chars, expr.text.size());
  // A block scalar's text ends with its line break, which is not a column anyone points at.
  size_t body = expr.text.size();
  while (body > 0 && expr.text[body - 1] == '\n') --body;
  // One past the end is where "unexpected end of expression" points.
  if (index < mapped || (index == body && mapped >= body)) at.column += static_cast<int>(index);
  return at;
}

Result<std::pair<std::string, uint16_t>> ParseListen(std::string_view text) {
  constexpr std::string_view kForms = "expected host:port such as 127.0.0.1:8080, :8080, 8080 or [::1]:8080";
  if (text.empty()) return Fail("empty listen address; {}", kForms);
  std::string host;
  std::string_view port;
  if (text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return Fail("missing ']' in listen address '{}'; {}", text, kForms);
    host = std::string(text.substr(1, close - 1));
    bool ok = !host.empty() && std::all_of(host.begin(), host.end(), [](unsigned char c) {
      return std::isxdigit(c) || c == ':' || c == '.' || c == '%' || std::isalnum(c);
    });
    if (!ok || host.find(':') == std::string::npos)
      return Fail("invalid IPv6 address '{}' in listen address '{}'", host, text);
    std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest[0] != ':') return Fail("expected ':port' after ']' in listen address '{}'", text);
    port = rest.substr(1);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      host = "127.0.0.1";  // only a port: keep the default, local-only interface
      port = text;
    } else {
      std::string_view h = text.substr(0, colon);
      if (h.find(':') != std::string_view::npos)
        return Fail("write IPv6 addresses in brackets, as [::1]:8080; found '{}'", text);
      host = h.empty() ? "0.0.0.0" : std::string(h);  // ":8080" listens on every interface
      port = text.substr(colon + 1);
    }
    bool ok = std::all_of(host.begin(), host.end(),
                          [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '-' || c == '_'; });
    if (!ok) return Fail("invalid host '{}' in listen address '{}'; {}", host, text, kForms);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
    return Fail("invalid port '{}' in listen address '{}'; expected a number from 0 to 65535", port, text);
  return std::pair<std::string, uint16_t>(std::move(host), static_cast<uint16_t>(value));
}

}  // namespace weir::spec
