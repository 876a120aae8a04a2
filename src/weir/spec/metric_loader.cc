// Loading the `metrics:` entries of a pipeline file: window, event time, group_by, select,
// having, order_by and limit, emit, retention (the Loader walk of loader_internal.h).
#include "weir/spec/loader_internal.h"

namespace weir::spec::internal {

void Loader::LoadMetrics(const ConfigNode& node, Pipeline& p) {
  std::map<std::string, Location, std::less<>> ids;
  for (const ConfigNode& item : Items(node, "metrics")) {
    if (!IsEntry(item, "a metric")) continue;
    MetricSpec m;
    LoadMetric(item, p, m);
    if (!m.id.empty()) {
      auto [pos, inserted] = ids.emplace(m.id, m.location);
      if (!inserted)
        diags_.Error(item["id"].location(),
                     fmt::format("duplicate metric id '{}' (first defined at {})", m.id, Where(pos->second)));
    }
    p.metrics.push_back(std::move(m));
  }
}

void Loader::LoadMetric(const ConfigNode& node, const Pipeline& p, MetricSpec& m) {
  ConfigReader r(node, diags_);
  m.location = node.location();
  m.id = r.RequiredString("id");
  if (!m.id.empty() && !IsIdentifier(m.id))
    r.Error("id",
            fmt::format("invalid metric id '{}'; expected a letter or '_' followed by letters, digits or '_'", m.id));
  m.description = r.String("description", "");

  ConfigNode from = r.Child("from");
  std::vector<ConfigNode> from_items;
  if (from.is_scalar())
    from_items.push_back(from);
  else if (from.is_sequence())
    from_items = Items(from, "source ids");
  else if (from.defined())
    diags_.Error(from.location(),
                 fmt::format("expected a source id or a list of source ids, found {}", from.Describe()));
  std::vector<std::string> source_ids;
  for (const SourceSpec& s : p.sources) source_ids.push_back(s.id);
  for (const ConfigNode& f : from_items) {
    std::optional<std::string> id = Text(f, "a source id");
    if (!id) continue;
    if (std::find(source_ids.begin(), source_ids.end(), *id) == source_ids.end())
      diags_.Error(f.location(), fmt::format("unknown source '{}'{}", *id, Hint(*id, source_ids, "sources")));
    else
      m.from.push_back(std::move(*id));
  }

  m.where = OptionalExpr(r, "where");
  m.event_time = OptionalExpr(r, "event_time");
  m.watermark = r.Duration("watermark", 0);
  m.allowed_lateness = r.Duration("allowed_lateness", 0);
  m.idle_timeout = PositiveDuration(r, "idle_timeout", false);
  m.window = LoadWindow(r.Child("window"));
  m.group_by = LoadGroupBy(r.Child("group_by"));
  if (r.Require("select", "a map of name: expression")) m.select = LoadNamedExprs(r.Child("select"), "select");

  // Output names (group_by and select columns) are unique; the one written first keeps it.
  std::vector<const NamedExpr*> outputs;
  for (const NamedExpr& ne : m.group_by) outputs.push_back(&ne);
  for (const NamedExpr& ne : m.select) outputs.push_back(&ne);
  std::stable_sort(outputs.begin(), outputs.end(), [](const NamedExpr* a, const NamedExpr* b) {
    return std::pair(a->location.line, a->location.column) < std::pair(b->location.line, b->location.column);
  });
  std::map<std::string, Location, std::less<>> names;
  std::vector<std::string> name_list;
  for (const NamedExpr* ne : outputs) {
    auto [pos, inserted] = names.emplace(ne->name, ne->location);
    if (inserted)
      name_list.push_back(ne->name);
    else
      diags_.Error(ne->location,
                   fmt::format("name '{}' is already used at {}; group_by and select names must be unique", ne->name,
                               Where(pos->second)));
  }

  m.having = OptionalExpr(r, "having");
  m.order_by = LoadOrderBy(r.Child("order_by"), name_list);
  m.limit = r.Int("limit", 0, 1);

  ConfigReader emit(r.Child("emit"), diags_);
  m.emit_early = PositiveDuration(emit, "early", false);
  emit.RejectUnknownKeys();

  // retention: { keep: 7d, downsample: [ { window: 1h, keep: 90d }, … ] }
  ConfigNode ret = r.Child("retention");
  if (ret.defined()) {
    ConfigReader rr(ret, diags_);
    m.retention.keep = PositiveDuration(rr, "keep", false);
    ConfigNode tiers = rr.Child("downsample");
    if (tiers.defined() && !tiers.is_sequence()) {
      diags_.Error(tiers.location(),
                   fmt::format("expected a list of {{ window: D, keep: D }}, found {}", tiers.Describe()));
    } else if (tiers.defined()) {
      Duration previous = m.window.kind == WindowKind::kTumbling ? m.window.size : 0;
      for (size_t i = 0; i < tiers.size(); ++i) {
        ConfigReader tr(tiers[i], diags_);
        DownsampleSpec t;
        t.location = tiers[i].location();
        auto w = PositiveDuration(tr, "window", true);
        t.keep = PositiveDuration(tr, "keep", false);
        tr.RejectUnknownKeys();
        if (!w) continue;
        t.window = *w;
        if (m.window.kind != WindowKind::kTumbling)
          diags_.Error(t.location,
                       "downsampling builds coarser windows from tumbling ones; this metric's window is not tumbling");
        else if (previous > 0 && (t.window <= previous || t.window % previous != 0))
          diags_.Error(t.location, fmt::format("downsample window {} must be a multiple of, and larger than, {}",
                                               FormatDuration(t.window), FormatDuration(previous)));
        previous = t.window;
        m.retention.downsample.push_back(t);
      }
    }
    rr.RejectUnknownKeys();
  }

  r.RejectUnknownKeys();
}

WindowSpec Loader::LoadWindow(const ConfigNode& node) {
  WindowSpec w;
  w.location = node.location();
  // No window: one running result over all time, updated as records arrive.
  if (!node.yaml().IsDefined()) {
    w.kind = WindowKind::kNone;
    return w;
  }
  constexpr std::string_view kExpected =
      "a map such as { tumbling: 1m }, { sliding: 5m, every: 1m }, { session: 30m }, { cumulative: 1d, every: 1h } or "
      "'none'";
  if (node.is_scalar()) {
    std::optional<std::string> text = Text(node, kExpected);
    if (text && *text == "none")
      w.kind = WindowKind::kNone;
    else if (text)
      diags_.Error(node.location(), fmt::format("expected {}, found {}", kExpected, node.Describe()));
    return w;
  }
  if (!node.is_map()) {
    diags_.Error(node.location(), fmt::format("expected {}, found {}", kExpected, node.Describe()));
    return w;
  }
  ConfigReader r(node, diags_);
  std::vector<std::string> kinds;
  for (const std::string& k : kWindowKinds) {
    if (r.Child(k).yaml().IsDefined()) kinds.push_back(k);
  }
  bool has_every = r.Child("every").yaml().IsDefined();
  size_t before = diags_.error_count();
  r.RejectUnknownKeys();
  bool unknown_keys = diags_.error_count() > before;
  if (kinds.empty()) {
    // An unknown key is most likely a misspelt kind, already reported with a suggestion.
    if (!unknown_keys) diags_.Error(node.location(), "expected one of tumbling, sliding, session, cumulative or none");
    return w;
  }
  if (kinds.size() > 1) {
    r.Error(kinds[1], fmt::format("a window has one kind; found both '{}' and '{}'", kinds[0], kinds[1]));
    return w;
  }
  const std::string& kind = kinds[0];
  bool stepped = kind == "sliding" || kind == "cumulative";
  if (has_every && !stepped)
    r.Error("every",
            fmt::format("'every' applies to sliding and cumulative windows, not {}", kind == "none" ? "'none'" : kind));
  if (kind == "none") {
    w.kind = WindowKind::kNone;
    if (r.Require("none", "true") && !r.Bool("none", true))
      r.Error("none", "write 'none: true' (or 'window: none'), or give a window kind");
    return w;
  }
  w.kind = kind == "tumbling"  ? WindowKind::kTumbling
           : kind == "sliding" ? WindowKind::kSliding
           : kind == "session" ? WindowKind::kSession
                               : WindowKind::kCumulative;
  std::optional<Duration> size = PositiveDuration(r, kind, true);
  if (size) w.size = *size;
  if (!stepped) return w;
  std::optional<Duration> every = PositiveDuration(r, "every", true);
  if (!every) return w;
  w.every = *every;
  if (!size) return w;
  if (kind == "sliding" && *every >= *size) {
    r.Error("every", fmt::format("every ({}) must be smaller than the window size ({}); use tumbling for windows that "
                                 "do not overlap",
                                 FormatDuration(*every), FormatDuration(*size)));
  } else if (*size % *every != 0) {
    r.Error("every",
            fmt::format("every ({}) must divide the window size ({})", FormatDuration(*every), FormatDuration(*size)));
  }
  return w;
}

std::vector<NamedExpr> Loader::LoadNamedExprs(const ConfigNode& node, std::string_view what) {
  std::vector<NamedExpr> out;
  if (!node.is_map()) {
    diags_.Error(node.location(), fmt::format("expected a map of name: expression, found {}", node.Describe()));
    return out;
  }
  std::set<std::string, std::less<>> seen;
  for (const auto& kv : node.yaml()) {
    if (!kv.first.IsScalar()) continue;  // reported by CheckKeys
    std::string name = kv.first.Scalar();
    if (!seen.insert(name).second) continue;  // a repeated key, reported by CheckKeys
    std::string path = JoinPath(node.path(), name);
    NamedExpr ne;
    ne.name = name;
    ne.location = ConfigNode(kv.first, node.file(), path).location();
    ConfigNode value = node[name];
    if (name.empty()) diags_.Error(ne.location, "expected a name, found an empty string");
    if (!value.defined()) {
      diags_.Error(value.location(), "expected an expression, found nothing");
      continue;
    }
    std::optional<ExprText> e = Expr(value);
    if (!e) continue;
    if (e->empty()) diags_.Error(e->location, "expected an expression, found an empty string");
    ne.expr = std::move(*e);
    out.push_back(std::move(ne));
  }
  if (out.empty() && node.size() == 0)
    diags_.Error(node.location(), fmt::format("expected at least one name: expression in {}", what));
  return out;
}

std::vector<NamedExpr> Loader::LoadGroupBy(const ConfigNode& node) {
  if (!node.defined()) return {};
  if (node.is_map()) return LoadNamedExprs(node, "group_by");
  std::vector<ConfigNode> items;
  if (node.is_scalar())
    items.push_back(node);
  else
    items = Items(node, "group_by entries");
  std::vector<NamedExpr> out;
  for (const ConfigNode& item : items) {
    if (item.is_map() && item.size() == 1) {
      for (NamedExpr& ne : LoadNamedExprs(item, "group_by")) out.push_back(std::move(ne));
      continue;
    }
    if (item.is_scalar()) {
      std::optional<ExprText> e = Expr(item);
      if (!e) continue;
      if (!IsFieldPath(e->text)) {
        diags_.Error(item.location(), fmt::format("cannot name {}; write a field path such as properties.currency, or "
                                                  "{{ name: expression }}",
                                                  item.Describe()));
        continue;
      }
      size_t dot = e->text.rfind('.');
      NamedExpr ne;
      ne.name = dot == std::string::npos ? e->text : e->text.substr(dot + 1);
      ne.location = item.location();
      ne.expr = std::move(*e);
      out.push_back(std::move(ne));
      continue;
    }
    diags_.Error(item.location(),
                 fmt::format("expected a field path such as properties.currency or a one-entry map "
                             "{{ name: expression }}, found {}",
                             item.is_map() ? fmt::format("a map with {} entries", item.size()) : item.Describe()));
  }
  return out;
}

std::vector<OrderBy> Loader::LoadOrderBy(const ConfigNode& node, const std::vector<std::string>& names) {
  std::vector<OrderBy> out;
  if (!node.defined()) return out;
  std::vector<ConfigNode> items;
  if (node.is_scalar())
    items.push_back(node);
  else
    items = Items(node, "'name [asc|desc]' entries");
  for (const ConfigNode& item : items) {
    std::optional<std::string> text = Text(item, "'name [asc|desc]'");
    if (!text) continue;
    std::vector<std::string> words;
    std::istringstream in(*text);
    for (std::string w; in >> w;) words.push_back(std::move(w));
    OrderBy ob;
    bool ok = words.size() == 1 || words.size() == 2;
    if (ok && words.size() == 2) {
      std::string dir = words[1];
      std::transform(dir.begin(), dir.end(), dir.begin(), [](unsigned char c) { return std::tolower(c); });
      ok = dir == "asc" || dir == "desc";
      ob.descending = dir == "desc";
    }
    if (!ok) {
      diags_.Error(item.location(),
                   fmt::format("expected 'name', 'name asc' or 'name desc', found {}", item.Describe()));
      continue;
    }
    ob.name = words[0];
    if (std::find(names.begin(), names.end(), ob.name) == names.end()) {
      diags_.Error(item.location(), fmt::format("unknown name '{}' in order_by; it must be a select or group_by name{}",
                                                ob.name, Hint(ob.name, names, "names")));
      continue;
    }
    out.push_back(std::move(ob));
  }
  return out;
}

}  // namespace weir::spec::internal
