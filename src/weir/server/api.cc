#include "weir/server/api.h"

#include <algorithm>
#include <atomic>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <simdjson.h>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

namespace weir::server {

Result<Timestamp> ParseTimeParam(std::string_view text, Timestamp now) {
  if (text == "now") return now;
  if (!text.empty() && (text[0] == '-' || text[0] == '+') && text.size() > 1 && !std::isdigit(static_cast<unsigned char>(text.back()))) {
    auto d = ParseDuration(text.substr(1));
    if (!d) return std::unexpected(d.error());
    return text[0] == '-' ? now - *d : now + *d;
  }
  if (auto t = ParseIso8601(text)) return *t;
  if (auto n = ParseNumber(text)) return EpochNumberToTimestamp(n->to_double());
  return Fail("'{}' is not a time; use ISO-8601 (2026-02-16T10:00:00Z), epoch milliseconds, 'now' or a relative "
              "time such as -1h",
              text);
}

namespace {

// `tier`: the store id of the downsampled tier that answered (empty: the metric's own rows).
std::string RowsJson(std::string_view metric, const std::vector<std::string>& rows, bool truncated,
                     std::string_view tier = {}) {
  std::string s = "{\"metric\":";
  AppendJsonString(s, metric);
  s += fmt::format(",\"count\":{},\"truncated\":{}", rows.size(), truncated);
  if (!tier.empty()) {
    s += ",\"tier\":";
    AppendJsonString(s, tier);
  }
  s += ",\"rows\":[";
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i) s += ',';
    s += rows[i];
  }
  s += "]}";
  return s;
}

const MetricSchema* FindMetric(runtime::Pipeline& p, std::string_view id) {
  for (const MetricSchema* m : p.metric_schemas())
    if (m->id == id) return m;
  return nullptr;
}

Response UnknownMetric(runtime::Pipeline& p, std::string_view id) {
  std::string known;
  for (const MetricSchema* m : p.metric_schemas()) known += (known.empty() ? "" : ", ") + m->id;
  return Response::Error(404, fmt::format("unknown metric '{}'; metrics: {}", id, known.empty() ? "none" : known));
}

// The columns of a metric's rows, in order (for CSV and order_by): `keys` are the group keys
// kept (all of the metric's unless re-aggregated with group_by).
std::vector<std::string> Columns(const MetricSchema& m, const std::vector<std::string>& keys, bool reaggregated) {
  std::vector<std::string> cols;
  if (m.windowed) cols = {"window_start", "window_end"};
  for (const auto& k : keys) cols.push_back(k);
  for (const auto& v : m.value_names) cols.push_back(v);
  if (!reaggregated) cols.insert(cols.end(), {"revision", "final"});
  return cols;
}

std::string CsvField(simdjson::dom::element e) {
  std::string s;
  switch (e.type()) {
    case simdjson::dom::element_type::STRING: {
      std::string_view v = e.get_string().value_unsafe();
      if (v.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(v);
      s = "\"";
      for (char c : v) {
        if (c == '"') s += '"';
        s += c;
      }
      return s + "\"";
    }
    case simdjson::dom::element_type::NULL_VALUE: return "";
    default: return simdjson::minify(e);
  }
}

/// Rows (JSON objects) as CSV with a header line.
Result<std::string> ToCsv(const std::vector<std::string>& rows, const std::vector<std::string>& cols) {
  std::string out;
  for (size_t i = 0; i < cols.size(); ++i) out += (i ? "," : "") + cols[i];
  out += "\n";
  simdjson::dom::parser parser;
  for (const auto& row : rows) {
    simdjson::dom::element doc;
    if (auto err = parser.parse(row).get(doc)) return Fail("stored row is not JSON: {}", simdjson::error_message(err));
    for (size_t i = 0; i < cols.size(); ++i) {
      if (i) out += ',';
      simdjson::dom::element v;
      if (!doc[cols[i]].get(v)) out += CsvField(v);
    }
    out += "\n";
  }
  return out;
}

/// Sorts rows by one field (numbers by value, the rest as text); missing fields last.
Status SortRows(std::vector<std::string>& rows, const std::string& field, bool desc) {
  struct Keyed {
    bool present, number;
    double num;
    std::string text;
    size_t index;
  };
  std::vector<Keyed> keys;
  simdjson::dom::parser parser;
  for (size_t i = 0; i < rows.size(); ++i) {
    simdjson::dom::element doc, v;
    if (parser.parse(rows[i]).get(doc)) return Fail("stored row is not JSON");
    Keyed k{false, false, 0, {}, i};
    if (!doc[field].get(v)) {
      k.present = !v.is_null();
      if (v.is_number()) {
        k.number = true;
        k.num = v.get_double().value_unsafe();
      } else {
        k.text = simdjson::minify(v);
      }
    }
    keys.push_back(std::move(k));
  }
  std::stable_sort(keys.begin(), keys.end(), [&](const Keyed& a, const Keyed& b) {
    if (a.present != b.present) return a.present;
    if (a.number != b.number) return a.number;
    bool less = a.number ? a.num < b.num : a.text < b.text;
    bool greater = a.number ? b.num < a.num : b.text < a.text;
    return desc ? greater : less;
  });
  std::vector<std::string> sorted;
  sorted.reserve(rows.size());
  for (const auto& k : keys) sorted.push_back(std::move(rows[k.index]));
  rows = std::move(sorted);
  return Ok();
}

// The downsampled level that answers for rows older than the metric's own (levels[0].from):
// the finest whose window divides `want` (0: any window) and whose rows reach back to `start`,
// else the one that reaches back furthest; nullptr when no level's window fits.
const runtime::RetentionLevel* PickTier(const std::vector<runtime::RetentionLevel>& levels, Timestamp start,
                                        Duration want) {
  const runtime::RetentionLevel* pick = nullptr;
  for (size_t k = 1; k < levels.size(); ++k) {
    if (want && want % levels[k].window != 0) continue;
    if (levels[k].from <= start) return &levels[k];
    if (!pick || levels[k].from < pick->from) pick = &levels[k];
  }
  return pick;
}

// start/end/limit/order/window/group_by/order_by/format and group-key filters; seed-style
// aliases start_time/end_time; `metric` when the route is /api/v1/metrics?metric=.
Response QueryMetric(runtime::Pipeline& p, const MetricSchema& m, const Request& req, bool allow_metric_param) {
  store::ResultQuery q;
  q.metric = m.id;
  Timestamp now = NowMillis();
  runtime::ReaggregateRequest re;
  re.group_by = m.key_names;  // unless group_by says otherwise
  bool reaggregate = false;
  std::string_view reaggregate_param;  // the parameter that asked for re-aggregation
  std::string format = "json", order_field;
  bool order_desc = false;
  size_t limit = 100000;
  for (const auto& [name, value] : req.query) {
    if (name == "start" || name == "start_time" || name == "from") {
      auto t = ParseTimeParam(value, now);
      if (!t) return Response::Error(400, fmt::format("parameter '{}': {}", name, t.error().message));
      q.start = *t;
    } else if (name == "end" || name == "end_time" || name == "to") {
      auto t = ParseTimeParam(value, now);
      if (!t) return Response::Error(400, fmt::format("parameter '{}': {}", name, t.error().message));
      q.end = *t;
    } else if (name == "limit") {
      auto n = ParseNumber(value);
      if (!n || !n->is_int() || n->as_int() <= 0 || n->as_int() > 1'000'000)
        return Response::Error(400, fmt::format("parameter 'limit': expected an integer from 1 to 1000000, found '{}'", value));
      limit = static_cast<size_t>(n->as_int());
    } else if (name == "order") {
      if (value != "asc" && value != "desc")
        return Response::Error(400, fmt::format("parameter 'order': expected 'asc' or 'desc', found '{}'", value));
      q.newest_first = value == "desc";
    } else if (name == "window") {
      auto d = ParseDuration(value);
      if (!d || *d <= 0) return Response::Error(400, fmt::format("parameter 'window': {}", d ? "must be positive" : d.error().message));
      if (m.window_size > 0 && (*d < m.window_size || *d % m.window_size != 0))
        return Response::Error(400,
                               fmt::format("parameter 'window': window {} cannot be built from metric '{}' windows "
                                           "of {}: it must be a multiple of {}",
                                           value, m.id, FormatDuration(m.window_size), FormatDuration(m.window_size)));
      re.window = *d;
      reaggregate = true;
      reaggregate_param = "window";
    } else if (name == "group_by") {
      re.group_by.clear();
      for (size_t at = 0; at <= value.size();) {
        size_t comma = value.find(',', at);
        if (comma == std::string::npos) comma = value.size();
        std::string k = value.substr(at, comma - at);
        if (!k.empty()) {
          if (std::find(m.key_names.begin(), m.key_names.end(), k) == m.key_names.end()) {
            std::string known;
            for (const auto& n : m.key_names) known += (known.empty() ? "" : ", ") + n;
            return Response::Error(400, fmt::format("parameter 'group_by': '{}' is not a group key of metric '{}' "
                                                    "(group keys: {})",
                                                    k, m.id, known.empty() ? "none" : known));
          }
          re.group_by.push_back(k);
        }
        at = comma + 1;
      }
      reaggregate = true;
      if (reaggregate_param.empty()) reaggregate_param = "group_by";
    } else if (name == "order_by") {
      std::string_view v = value;
      order_field = std::string(v.substr(0, v.find(' ')));
      std::string_view dir = v.find(' ') == std::string_view::npos ? "" : v.substr(v.find(' ') + 1);
      if (dir != "" && dir != "asc" && dir != "desc")
        return Response::Error(400, fmt::format("parameter 'order_by': expected 'field [asc|desc]', found '{}'", value));
      order_desc = dir == "desc";
    } else if (name == "format") {
      if (value != "json" && value != "csv")
        return Response::Error(400, fmt::format("parameter 'format': expected 'json' or 'csv', found '{}'", value));
      format = value;
    } else if (allow_metric_param && name == "metric") {
      continue;
    } else if (std::find(m.key_names.begin(), m.key_names.end(), name) != m.key_names.end()) {
      q.filters.emplace_back(name, value);
    } else {
      std::string keys;
      for (const auto& k : m.key_names) keys += ", " + k;
      return Response::Error(
          400, fmt::format("unknown parameter '{}'; expected start, end, window, group_by, order_by, order, limit, "
                           "format{}",
                           name, keys));
    }
  }
  if (q.start > q.end) return Response::Error(400, "parameter 'start' is after 'end'");
  std::vector<std::string> rows;
  bool truncated = false;
  // Rows older than the metric's own retention live in downsampled tiers. A range that reaches
  // back before the metric's oldest rows is answered from the finest tier that covers it
  // (re-aggregating the recent rows to the tier's window, unless a window is asked for), and
  // the answer names the tier. No rows move between tiers while such a query (or one that
  // re-aggregates) reads them; plain reads of a metric without tiers take no lock.
  std::vector<runtime::RetentionLevel> levels = p.RetentionLevels(m.id);
  std::shared_lock<std::shared_mutex> tiers_still;
  if (reaggregate || levels.size() > 1) {
    tiers_still = p.LockRetention();
    levels = p.RetentionLevels(m.id);  // as of the lock
  }
  const runtime::RetentionLevel* tier = nullptr;
  if (levels.size() > 1 && q.start < levels[0].from) {
    tier = PickTier(levels, q.start, re.window);
    if (tier && !re.window) {
      re.window = tier->window;
      reaggregate = true;
    }
  }
  if (!order_field.empty()) {
    std::vector<std::string> cols = Columns(m, re.group_by, reaggregate);
    if (std::find(cols.begin(), cols.end(), order_field) == cols.end())
      return Response::Error(400, fmt::format("parameter 'order_by': unknown column '{}'; columns: {}", order_field,
                                              fmt::join(cols, ", ")));
  }
  if (reaggregate) {
    const runtime::Metric* metric = p.metric(m.id);
    if (!metric) return Response::Error(404, fmt::format("unknown metric '{}'", m.id));
    if (re.window && q.start != kMinTimestamp) q.start = AlignDown(q.start, re.window);
    q.with_states = true;
    q.json_rows = false;
    q.limit = 10'000'000;
    std::vector<store::StoredState> states;
    if (tier) {
      store::ResultQuery tq = q;
      tq.metric = tier->id;
      tq.end = std::min(q.end, tier->upto);
      auto tr = p.store()->Query(tq);
      if (!tr) return Response::Error(400, tr.error().message);
      states = std::move(tr->states);
      q.start = std::max(q.start, tier->upto);
    }
    if (q.start < q.end) {
      auto r = p.store()->Query(q);
      if (!r) return Response::Error(400, r.error().message);
      states.insert(states.end(), std::make_move_iterator(r->states.begin()), std::make_move_iterator(r->states.end()));
    }
    auto merged = metric->Reaggregate(states, re);
    if (!merged) {
      if (reaggregate_param.empty()) return Response::Error(500, merged.error().message);
      return Response::Error(400, fmt::format("parameter '{}': {}", reaggregate_param, merged.error().message));
    }
    rows = std::move(*merged);
    if (q.newest_first) std::reverse(rows.begin(), rows.end());
  } else {
    q.limit = limit;
    auto r = p.store()->Query(q);
    if (!r) return Response::Error(400, r.error().message);
    rows = std::move(r->rows);
    truncated = r->truncated;
  }
  std::string tier_id = tier ? tier->id : std::string();
  if (tiers_still.owns_lock()) tiers_still.unlock();
  if (!order_field.empty()) {
    if (auto st = SortRows(rows, order_field, order_desc); !st) return Response::Error(500, st.error().message);
  }
  if (rows.size() > limit) {
    rows.resize(limit);
    truncated = true;
  }
  Response resp;
  if (format == "csv") {
    auto csv = ToCsv(rows, Columns(m, re.group_by, reaggregate));
    if (!csv) return Response::Error(500, csv.error().message);
    resp = Response::Text(200, std::move(*csv));
    resp.content_type = "text/csv; charset=utf-8";
  } else {
    resp = Response::Json(200, RowsJson(m.id, rows, truncated, tier_id));
  }
  if (!tier_id.empty()) resp.headers.emplace_back("X-Weir-Tier", tier_id);
  return resp;
}

std::string MetricsListJson(runtime::Pipeline& p) {
  std::string s = "{\"metrics\":[";
  bool first = true;
  for (const MetricSchema* m : p.metric_schemas()) {
    if (!first) s += ',';
    first = false;
    s += "{\"id\":";
    AppendJsonString(s, m->id);
    s += ",\"group_by\":[";
    for (size_t i = 0; i < m->key_names.size(); ++i) {
      if (i) s += ',';
      AppendJsonString(s, m->key_names[i]);
    }
    s += "],\"select\":[";
    for (size_t i = 0; i < m->value_names.size(); ++i) {
      if (i) s += ',';
      AppendJsonString(s, m->value_names[i]);
    }
    s += fmt::format("],\"windowed\":{},\"window_ms\":{},\"top_n\":{},\"href\":\"/api/v1/metrics/{}\"}}", m->windowed,
                     m->window_size, m->top_n, m->id);
  }
  s += "]}";
  return s;
}

}  // namespace

struct ApiWorkers::Impl {
  boost::asio::thread_pool pool;
  std::atomic<bool> stopped{false};
  explicit Impl(int threads) : pool(static_cast<size_t>(std::max(1, threads))) {}
};

ApiWorkers::ApiWorkers(int threads) : impl_(std::make_unique<Impl>(threads)) {}
ApiWorkers::~ApiWorkers() { Stop(); }

void ApiWorkers::Run(std::function<void()> task) {
  if (impl_->stopped) return;
  boost::asio::post(impl_->pool, std::move(task));
}

void ApiWorkers::Stop() {
  if (impl_->stopped.exchange(true)) return;
  impl_->pool.stop();
  impl_->pool.join();
}

namespace {

// A SyncHandler run on the API workers (when there are any), answering through the Responder.
Handler OnWorkers(ApiWorkers* workers, SyncHandler fn) {
  return [workers, fn = std::move(fn)](Request& req, Responder done) {
    if (!workers) {
      done(fn(req));
      return;
    }
    auto request = std::make_shared<Request>(std::move(req));
    auto responder = std::make_shared<Responder>(std::move(done));
    workers->Run([request, responder, fn] {
      try {
        (*responder)(fn(*request));
      } catch (const std::exception& e) {
        (*responder)(Response::Error(500, fmt::format("query failed: {}", e.what())));
      }
    });
  };
}

}  // namespace

Status RegisterApi(HttpServer& server, runtime::Pipeline& pipeline, std::function<uint64_t()> live_subscribers,
                   ApiWorkers* workers) {
  runtime::Pipeline* p = &pipeline;
  for (runtime::IngestEndpoint* ep : pipeline.ingest_endpoints()) {
    WEIR_RETURN_IF_ERROR(server.Route("POST", ep->path(), [ep](Request& req, Responder done) {
      runtime::IngestRequest in{std::move(req.body), std::string(req.header("content-type")),
                                std::string(req.header("idempotency-key"))};
      // std::function needs a copyable target; the Responder is move-only.
      auto responder = std::make_shared<Responder>(std::move(done));
      ep->Ingest(std::move(in), [responder](runtime::IngestReply r) {
        Response resp = Response::Json(r.status, std::move(r.body));
        if (r.retry_after_s > 0) resp.headers.emplace_back("Retry-After", std::to_string(r.retry_after_s));
        (*responder)(std::move(resp));
      });
    }));
  }

  // The shape seed 001's services report: status, timestamp, services, metrics.
  WEIR_RETURN_IF_ERROR(server.Route("GET", "/health", [p](Request&) {
    auto [services, down] = p->HealthJson();
    std::string s = "{\"status\":";
    s += down ? "\"unhealthy\"" : "\"healthy\"";
    s += ",\"timestamp\":";
    AppendJson(s, Value::Time(NowMillis()));
    s += ",\"services\":" + services;
    s += fmt::format(",\"metrics\":{{\"totalEvents\":{},\"storeBytes\":{}}}}}", p->accepted_events(),
                     p->store() ? p->store()->SizeBytes() : 0);
    return Response::Json(down ? 503 : 200, std::move(s));
  }));

  WEIR_RETURN_IF_ERROR(server.Route("GET", "/metrics", [p, live_subscribers](Request&) {
    Response r = Response::Text(200, p->MetricsText(live_subscribers ? live_subscribers() : 0));
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }));

  WEIR_RETURN_IF_ERROR(server.Route("GET", "/api/v1/status", [p](Request&) { return Response::Json(200, p->StatusJson()); }));

  WEIR_RETURN_IF_ERROR(server.Route("GET", "/api/v1/metrics", OnWorkers(workers, [p](Request& req) {
    if (auto id = req.param("metric")) {
      const MetricSchema* m = FindMetric(*p, *id);
      if (!m) return UnknownMetric(*p, *id);
      return QueryMetric(*p, *m, req, true);
    }
    return Response::Json(200, MetricsListJson(*p));
  })));

  WEIR_RETURN_IF_ERROR(server.Route("GET", "/api/v1/metrics/{id}", OnWorkers(workers, [p](Request& req) {
    std::string_view id = *req.path_param("id");
    const MetricSchema* m = FindMetric(*p, id);
    if (!m) return UnknownMetric(*p, id);
    return QueryMetric(*p, *m, req, false);
  })));

  WEIR_RETURN_IF_ERROR(server.Route("GET", "/api/v1/metrics/{id}/late", OnWorkers(workers, [p](Request& req) {
    std::string_view id = *req.path_param("id");
    const MetricSchema* m = FindMetric(*p, id);
    if (!m) return UnknownMetric(*p, id);
    Timestamp now = NowMillis(), start = kMinTimestamp, end = kMaxTimestamp;
    size_t limit = 1000;
    for (const auto& [name, value] : req.query) {
      if (name == "start" || name == "end") {
        auto t = ParseTimeParam(value, now);
        if (!t) return Response::Error(400, fmt::format("parameter '{}': {}", name, t.error().message));
        (name == "start" ? start : end) = *t;
      } else if (name == "limit") {
        auto n = ParseNumber(value);
        if (!n || !n->is_int() || n->as_int() <= 0)
          return Response::Error(400, fmt::format("parameter 'limit': expected a positive integer, found '{}'", value));
        limit = static_cast<size_t>(n->as_int());
      } else {
        return Response::Error(400, fmt::format("unknown parameter '{}'; expected start, end, limit", name));
      }
    }
    auto r = p->store()->QueryLate(m->id, start, end, limit);
    if (!r) return Response::Error(500, r.error().message);
    return Response::Json(200, RowsJson(m->id, r->rows, r->truncated));
  })));
  return Ok();
}

}  // namespace weir::server
