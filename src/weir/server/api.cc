#include "weir/server/api.h"

#include <fmt/format.h>

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

std::string RowsJson(std::string_view metric, const std::vector<std::string>& rows, bool truncated) {
  std::string s = "{\"metric\":";
  AppendJsonString(s, metric);
  s += fmt::format(",\"count\":{},\"truncated\":{},\"rows\":[", rows.size(), truncated);
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

// start/end/limit/order and group-key filters; `aliases` maps seed-style names (start_time).
Response QueryMetric(runtime::Pipeline& p, const MetricSchema& m, const Request& req, bool allow_metric_param) {
  store::ResultQuery q;
  q.metric = m.id;
  Timestamp now = NowMillis();
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
      q.limit = static_cast<size_t>(n->as_int());
    } else if (name == "order") {
      if (value != "asc" && value != "desc")
        return Response::Error(400, fmt::format("parameter 'order': expected 'asc' or 'desc', found '{}'", value));
      q.newest_first = value == "desc";
    } else if (allow_metric_param && name == "metric") {
      continue;
    } else if (std::find(m.key_names.begin(), m.key_names.end(), name) != m.key_names.end()) {
      q.filters.emplace_back(name, value);
    } else {
      std::string keys;
      for (const auto& k : m.key_names) keys += ", " + k;
      return Response::Error(400, fmt::format("unknown parameter '{}'; expected start, end, limit, order{}", name, keys));
    }
  }
  if (q.start > q.end) return Response::Error(400, "parameter 'start' is after 'end'");
  auto r = p.store()->Query(q);
  if (!r) return Response::Error(400, r.error().message);
  return Response::Json(200, RowsJson(m.id, r->rows, r->truncated));
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
    s += fmt::format("],\"windowed\":{},\"href\":\"/api/v1/metrics/{}\"}}", m->windowed, m->id);
  }
  s += "]}";
  return s;
}

}  // namespace

Status RegisterApi(HttpServer& server, runtime::Pipeline& pipeline, std::function<uint64_t()> live_subscribers) {
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

  WEIR_RETURN_IF_ERROR(server.Route("GET", "/api/v1/metrics", [p](Request& req) {
    if (auto id = req.param("metric")) {
      const MetricSchema* m = FindMetric(*p, *id);
      if (!m) return UnknownMetric(*p, *id);
      return QueryMetric(*p, *m, req, true);
    }
    return Response::Json(200, MetricsListJson(*p));
  }));

  WEIR_RETURN_IF_ERROR(server.Route("GET", "/api/v1/metrics/{id}", [p](Request& req) {
    std::string_view id = *req.path_param("id");
    const MetricSchema* m = FindMetric(*p, id);
    if (!m) return UnknownMetric(*p, id);
    return QueryMetric(*p, *m, req, false);
  }));

  WEIR_RETURN_IF_ERROR(server.Route("GET", "/api/v1/metrics/{id}/late", [p](Request& req) {
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
  }));
  return Ok();
}

}  // namespace weir::server
