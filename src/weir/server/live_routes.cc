// The SSE and WebSocket transports of the live hub; see live_routes.h and README.md.
#include "weir/server/live_routes.h"

#include <algorithm>
#include <cstring>
#include <map>

#include <fmt/format.h>
#include <simdjson.h>

namespace weir::server {
namespace {

// What a stream request asks for: metrics, their filters, and where to resume.
struct StreamRequest {
  std::vector<const MetricSchema*> metrics;
  std::vector<LiveFilters> filters;  // per metric: the request's filters on its group keys
  std::map<std::string, uint64_t, std::less<>> positions;
};

bool HasKey(const MetricSchema& m, std::string_view key) {
  return std::find(m.key_names.begin(), m.key_names.end(), key) != m.key_names.end();
}

std::string KeyList(const std::vector<const MetricSchema*>& metrics) {
  std::vector<std::string> keys;
  for (const MetricSchema* m : metrics) {
    for (const auto& k : m->key_names) {
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    }
  }
  std::string s;
  for (const auto& k : keys) s += ", " + k;
  return s;
}

// Parses ?metrics=a,b&<key>=<value>&last_event_id=… (and the Last-Event-ID header). Without a
// metrics parameter, `all_by_default` follows every metric. Returns the error answer if any.
std::optional<Response> ParseStreamRequest(const LiveHub& hub, const Request& req, bool all_by_default,
                                           StreamRequest& out) {
  bool named = false;
  for (const auto& [name, value] : req.query) {
    if (name != "metrics" && name != "metric") continue;
    named = true;
    std::string_view list = value;
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string_view id = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      while (!id.empty() && id.front() == ' ') id.remove_prefix(1);
      while (!id.empty() && id.back() == ' ') id.remove_suffix(1);
      if (id.empty()) continue;
      const MetricSchema* m = hub.FindMetric(id);
      if (!m) return Response::Error(404, fmt::format("unknown metric '{}'; metrics: {}", id, hub.MetricList()));
      if (std::find(out.metrics.begin(), out.metrics.end(), m) == out.metrics.end()) out.metrics.push_back(m);
    }
  }
  if (!named && all_by_default) out.metrics = hub.metrics();
  if (named && out.metrics.empty()) {
    return Response::Error(400, fmt::format("parameter 'metrics' names no metric; metrics: {}", hub.MetricList()));
  }
  out.filters.assign(out.metrics.size(), {});

  std::string_view position = req.header("Last-Event-ID");
  for (const auto& [name, value] : req.query) {
    if (name == "metrics" || name == "metric") continue;
    if (name == "last_event_id") {
      if (position.empty()) position = value;  // the header, sent by a reconnecting browser, wins
      continue;
    }
    bool used = false;
    for (size_t i = 0; i < out.metrics.size(); ++i) {
      if (!HasKey(*out.metrics[i], name)) continue;
      out.filters[i].emplace_back(name, value);
      used = true;
    }
    if (!used) {
      return Response::Error(
          400, fmt::format("unknown parameter '{}'; expected metrics, last_event_id{}", name,
                           out.metrics.empty() ? std::string(" (and group keys once metrics are named)")
                                               : KeyList(out.metrics)));
    }
  }
  if (!position.empty()) {
    auto parsed = ParseLivePosition(position);
    if (!parsed) return Response::Error(400, fmt::format("Last-Event-ID: {}", parsed.error().message));
    for (auto& [metric, seq] : *parsed) {
      if (metric.empty()) {
        if (out.metrics.size() != 1) {
          return Response::Error(400, fmt::format("Last-Event-ID: a bare position ({}) needs exactly one metric; "
                                                  "use metric=seq pairs such as revenue=120;views=88",
                                                  seq));
        }
        metric = out.metrics[0]->id;
      }
      // Metrics the client no longer asks for are ignored.
      out.positions[metric] = seq;
    }
  }
  return std::nullopt;
}

Status Follow(LiveSubscription& sub, const StreamRequest& r) {
  for (size_t i = 0; i < r.metrics.size(); ++i) {
    std::optional<uint64_t> after;
    if (auto it = r.positions.find(r.metrics[i]->id); it != r.positions.end()) after = it->second;
    WEIR_RETURN_IF_ERROR(sub.Subscribe(r.metrics[i]->id, r.filters[i], after));
  }
  return Ok();
}

// Appends `text` as the data of an SSE event: one `data:` line per line of text, so that even
// raw JSON carrying line breaks arrives whole (the client joins the lines with '\n').
void AppendSseData(std::string& out, std::string_view text) {
  for (;;) {
    size_t end = text.find_first_of("\r\n");
    out += "data: ";
    out.append(text.substr(0, end));
    out += '\n';
    if (end == std::string_view::npos) return;
    size_t next = end + 1;
    if (text[end] == '\r' && next < text.size() && text[next] == '\n') ++next;
    text.remove_prefix(next);
  }
}

void AppendSseEvent(std::string& out, const LiveEvent& e) {
  if (!e.position.empty()) {
    out += "id: ";
    out += e.position;
    out += '\n';
  }
  out += e.kind == LiveEvent::Kind::kUpdate ? "event: update\n" : "event: snapshot\n";
  AppendSseData(out, e.text());
  out += '\n';
}

// One SSE client: pulls from its subscription on the connection's IO thread.
class SseClient : public std::enable_shared_from_this<SseClient> {
 public:
  SseClient(LiveHub& hub, std::shared_ptr<Stream> stream) : hub_(hub), stream_(std::move(stream)) {}

  std::shared_ptr<LiveSubscription>& subscription() { return sub_; }
  Stream& stream() { return *stream_; }

  // Called by the hub from any thread: schedule a pump.
  static std::function<void()> Waker(std::weak_ptr<SseClient> weak) {
    return [weak] {
      if (auto c = weak.lock()) c->stream_->Post([c] { c->Pump(); });
    };
  }

  void Pump() {
    const LiveOptions& o = hub_.options();
    while (!stream_->closed()) {
      if (stream_->queued_bytes() > o.low_water_bytes) {
        // The client reads slowly: go on when it has taken most of what is queued.
        stream_->WhenDrained(o.low_water_bytes, [weak = weak_from_this()] {
          if (auto c = weak.lock()) c->Pump();
        });
        return;
      }
      events_.clear();
      bool more = sub_->Poll(events_);
      if (!events_.empty()) {
        std::string chunk;
        size_t size = 0;
        for (const auto& e : events_) size += e.text().size() + e.position.size() + 32;
        chunk.reserve(size);
        for (const auto& e : events_) AppendSseEvent(chunk, e);
        stream_->Write(std::move(chunk));
      }
      if (!more) return;
    }
  }

 private:
  LiveHub& hub_;
  std::shared_ptr<Stream> stream_;
  std::shared_ptr<LiveSubscription> sub_;
  std::vector<LiveEvent> events_;
};

void ServeSse(LiveHub& hub, Request& req, Responder done) {
  StreamRequest r;
  if (auto error = ParseStreamRequest(hub, req, true, r)) {
    done(std::move(*error));
    return;
  }
  const LiveOptions& o = hub.options();
  StreamOptions so;
  // Pumping stops at the low-water mark, so the queue exceeds it by at most one poll's worth
  // (a snapshot can be large); the limit only catches a runaway.
  so.max_queued_bytes = std::max<size_t>(64 << 20, 4 * o.low_water_bytes);
  std::shared_ptr<Stream> stream = done.StartStream(std::move(so));
  if (!stream) return;
  auto client = std::make_shared<SseClient>(hub, stream);
  client->subscription() = hub.Subscribe(SseClient::Waker(client), true);
  // Dead clients leave the hub at once: the connection notices a client going away.
  stream->OnClose([client] { client->subscription()->Cancel(); });
  stream->Write(fmt::format("retry: {}\n\n", o.retry.count()));
  // Validated above, so following cannot fail.
  if (auto st = Follow(*client->subscription(), r); !st) {
    stream->Write(fmt::format("event: error\ndata: {}\n\n", Response::Error(400, st.error().message).body));
    stream->Close();
    return;
  }
  stream->Every(o.heartbeat, [weak = std::weak_ptr<Stream>(stream)] {
    if (auto s = weak.lock()) s->Write(": heartbeat\n\n");
  });
}

// ---- WebSocket ------------------------------------------------------------------------------

std::string TypeMessage(std::string_view type, std::string_view field, std::string_view json) {
  return fmt::format(R"({{"type":"{}","{}":{}}})", type, field, json);
}

std::string ErrorMessage(std::string_view message) {
  std::string s = R"({"type":"error","message":)";
  AppendJsonString(s, message);
  s += '}';
  return s;
}

// Text of a filter value: strings as they are, numbers and booleans as JSON writes them.
std::optional<std::string> FilterText(simdjson::dom::element v) {
  switch (v.type()) {
    case simdjson::dom::element_type::STRING:
      return std::string(std::string_view(v.get_string().value()));
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE:
    case simdjson::dom::element_type::BOOL:
    case simdjson::dom::element_type::NULL_VALUE:
      return simdjson::minify(v);
    default:
      return std::nullopt;
  }
}

// One WebSocket client: messages in, updates out, on the connection's IO thread.
class WsClient : public std::enable_shared_from_this<WsClient> {
 public:
  WsClient(LiveHub& hub, std::shared_ptr<WebSocket> ws) : hub_(hub), ws_(std::move(ws)) {}

  std::shared_ptr<LiveSubscription>& subscription() { return sub_; }

  static std::function<void()> Waker(std::weak_ptr<WsClient> weak) {
    return [weak] {
      if (auto c = weak.lock()) c->ws_->Post([c] { c->Pump(); });
    };
  }

  void Pump() {
    const LiveOptions& o = hub_.options();
    while (!ws_->closed()) {
      if (ws_->queued_bytes() > o.low_water_bytes) {
        ws_->WhenDrained(o.low_water_bytes, [weak = weak_from_this()] {
          if (auto c = weak.lock()) c->Pump();
        });
        return;
      }
      events_.clear();
      bool more = sub_->Poll(events_);
      for (const auto& e : events_) ws_->Send(e.text());
      if (!more) return;
    }
  }

  void OnMessage(std::string_view text) {
    if (auto error = Handle(text)) ws_->Send(ErrorMessage(*error));
  }

  void SendSubscriptions() {
    std::string list = "[";
    for (const auto& m : sub_->metrics()) {
      if (list.size() > 1) list += ',';
      AppendJsonString(list, m);
    }
    list += ']';
    ws_->Send(TypeMessage("subscribed", "metrics", list));
  }

 private:
  // Reads a metric list: ["a","b"] or "a". Unknown ids are an error.
  std::optional<std::string> Metrics(simdjson::dom::element v, std::string_view field,
                                     std::vector<const MetricSchema*>& out) {
    auto add = [&](simdjson::dom::element e) -> std::optional<std::string> {
      std::string_view id;
      if (e.get_string().get(id)) return fmt::format("'{}' must list metric ids (strings)", field);
      const MetricSchema* m = hub_.FindMetric(id);
      if (!m) return fmt::format("unknown metric '{}' in '{}'; metrics: {}", id, field, hub_.MetricList());
      if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
      return std::nullopt;
    };
    simdjson::dom::array list;
    if (!v.get_array().get(list)) {
      for (simdjson::dom::element e : list) {
        if (auto err = add(e)) return err;
      }
      return std::nullopt;
    }
    return add(v);
  }

  // Applies one client message; returns the error to report, if any. Nothing is applied from
  // a message with an error.
  std::optional<std::string> Handle(std::string_view text) {
    constexpr std::string_view kExample = R"(such as {"subscribe":["revenue_per_minute"]})";
    simdjson::dom::element doc;
    if (auto err = parser_.parse(text.data(), text.size()).get(doc)) {
      return fmt::format("message is not JSON ({}); send an object {}", simdjson::error_message(err), kExample);
    }
    simdjson::dom::object obj;
    if (doc.get_object().get(obj)) return fmt::format("message must be a JSON object, {}", kExample);

    std::vector<const MetricSchema*> subscribe, unsubscribe;
    std::vector<std::pair<const MetricSchema*, uint64_t>> resume;
    std::optional<uint64_t> bare_resume;
    LiveFilters filters;
    bool any = false;
    for (auto field : obj) {
      std::string_view key = field.key;
      any = true;
      if (key == "subscribe") {
        if (auto err = Metrics(field.value, key, subscribe)) return err;
      } else if (key == "unsubscribe") {
        if (auto err = Metrics(field.value, key, unsubscribe)) return err;
      } else if (key == "resume") {
        uint64_t seq;
        if (!field.value.get_uint64().get(seq)) {
          bare_resume = seq;
          continue;
        }
        simdjson::dom::object positions;
        if (field.value.get_object().get(positions)) {
          return R"('resume' must be a seq number or an object of metric: seq, such as {"resume":{"views":120}})";
        }
        for (auto p : positions) {
          const MetricSchema* m = hub_.FindMetric(p.key);
          if (!m) return fmt::format("unknown metric '{}' in 'resume'; metrics: {}", p.key, hub_.MetricList());
          if (p.value.get_uint64().get(seq)) {
            return fmt::format("'resume.{}' must be a non-negative integer seq", std::string_view(p.key));
          }
          resume.emplace_back(m, seq);
        }
      } else if (key == "filter" || key == "filters") {
        simdjson::dom::object f;
        if (field.value.get_object().get(f)) return R"('filter' must be an object of group key: value, such as {"country":"DE"})";
        for (auto kv : f) {
          auto value = FilterText(kv.value);
          if (!value) return fmt::format("'filter.{}' must be a string, number or boolean", std::string_view(kv.key));
          filters.emplace_back(std::string(kv.key), std::move(*value));
        }
      } else {
        return fmt::format("unknown field '{}'; expected subscribe, unsubscribe, resume or filter", key);
      }
    }
    if (!any) return fmt::format("empty message; send an object {}", kExample);

    if (bare_resume) {
      // A bare number resumes the one metric the message (or else the connection) follows.
      std::vector<std::string> current = sub_->metrics();
      const MetricSchema* target = nullptr;
      if (subscribe.size() == 1) {
        target = subscribe[0];
      } else if (subscribe.empty() && current.size() == 1) {
        target = hub_.FindMetric(current[0]);
      }
      if (!target) {
        return R"('resume' with a bare seq needs exactly one metric; name them: {"resume":{"views":120}})";
      }
      resume.emplace_back(target, *bare_resume);
    }
    // Metrics to (re)follow: those subscribed and those resumed.
    std::vector<const MetricSchema*> follow = subscribe;
    for (const auto& [m, seq] : resume) {
      if (std::find(follow.begin(), follow.end(), m) == follow.end()) follow.push_back(m);
    }
    if (!filters.empty() && follow.empty()) {
      return "'filter' applies to the metrics of the same message's 'subscribe'; send them together";
    }
    for (const auto& [name, value] : filters) {
      bool used = std::any_of(follow.begin(), follow.end(), [&](const MetricSchema* m) { return HasKey(*m, name); });
      if (!used) return fmt::format("'filter.{}' is not a group key of {}", name, follow.size() == 1 ? "that metric" : "those metrics");
    }

    for (const MetricSchema* m : unsubscribe) sub_->Unsubscribe(m->id);
    for (const MetricSchema* m : follow) {
      LiveFilters own;
      for (const auto& f : filters) {
        if (HasKey(*m, f.first)) own.push_back(f);
      }
      std::optional<uint64_t> after;
      for (const auto& [rm, seq] : resume) {
        if (rm == m) after = seq;
      }
      if (auto st = sub_->Subscribe(m->id, own, after); !st) return st.error().message;
    }
    SendSubscriptions();
    return std::nullopt;
  }

  LiveHub& hub_;
  std::shared_ptr<WebSocket> ws_;
  std::shared_ptr<LiveSubscription> sub_;
  std::vector<LiveEvent> events_;
  simdjson::dom::parser parser_;
};

std::optional<Response> AcceptWebSocket(LiveHub& hub, Request& req, const std::shared_ptr<WebSocket>& ws) {
  // The query may name metrics to follow at once, with filters and a position, as for SSE.
  StreamRequest r;
  if (auto error = ParseStreamRequest(hub, req, false, r)) return error;
  auto client = std::make_shared<WsClient>(hub, ws);
  client->subscription() = hub.Subscribe(WsClient::Waker(client), false);
  ws->OnMessage([client](std::string_view text) { client->OnMessage(text); });
  ws->OnClose([client] { client->subscription()->Cancel(); });
  if (auto st = Follow(*client->subscription(), r); !st) {
    client->subscription()->Cancel();
    return Response::Error(400, st.error().message);
  }
  if (!r.metrics.empty()) client->SendSubscriptions();
  ws->Every(hub.options().heartbeat, [weak = std::weak_ptr<WebSocket>(ws)] {
    if (auto s = weak.lock()) s->Send(fmt::format(R"({{"type":"heartbeat","time":"{}"}})", FormatIso8601(NowMillis())));
  });
  return std::nullopt;
}

// The window start of a row as AppendResultJson writes it: {"metric":…,"window_start":"…",…
std::optional<Timestamp> WindowStartOf(std::string_view row) {
  constexpr std::string_view kField = ",\"window_start\":\"";
  size_t at = row.find(kField);
  if (at == std::string_view::npos) return std::nullopt;
  at += kField.size();
  size_t end = row.find('"', at);
  if (end == std::string_view::npos) return std::nullopt;
  return ParseIso8601(row.substr(at, end - at));
}

Result<std::vector<std::string>> ReadSnapshot(const store::ResultStore& store, const MetricSchema& m,
                                              const LiveFilters& filters, size_t limit) {
  store::ResultQuery q;
  q.metric = m.id;
  q.filters = filters;
  if (m.windowed) {
    q.newest_first = true;
    q.limit = 1;
    WEIR_ASSIGN_OR_RETURN(store::QueryResult newest, store.Query(q));
    if (newest.rows.empty()) return std::vector<std::string>();
    std::optional<Timestamp> start = WindowStartOf(newest.rows[0]);
    if (!start) return Fail("stored row of '{}' has no window_start", m.id);
    q.newest_first = false;
    q.start = *start;
    q.end = *start + 1;
  }
  q.limit = limit;
  WEIR_ASSIGN_OR_RETURN(store::QueryResult latest, store.Query(q));
  return std::move(latest.rows);
}

}  // namespace

SnapshotSource StoreSnapshotSource(store::ResultStore& store) {
  return [&store](const MetricSchema& m, const LiveFilters& filters, size_t limit) {
    return ReadSnapshot(store, m, filters, limit);
  };
}

Status RegisterLiveRoutes(HttpServer& server, LiveHub& hub) {
  LiveHub* h = &hub;
  WEIR_RETURN_IF_ERROR(server.Route("GET", "/api/v1/stream", [h](Request& req, Responder done) {
    ServeSse(*h, req, std::move(done));
  }));
  auto accept = [h](Request& req, const std::shared_ptr<WebSocket>& ws) { return AcceptWebSocket(*h, req, ws); };
  WEIR_RETURN_IF_ERROR(server.RouteWebSocket("/api/v1/ws", accept));
  WEIR_RETURN_IF_ERROR(server.RouteWebSocket("/api/v1/stream/metrics", accept));
  WEIR_RETURN_IF_ERROR(server.Route("GET", "/api/v1/live", [h](Request&) { return Response::Json(200, h->StatsJson()); }));
  return Ok();
}

Status RegisterLiveRoutes(HttpServer& server, LiveHub& hub, runtime::Pipeline& pipeline) {
  // The store opens when the pipeline starts, after the routes are registered.
  runtime::Pipeline* p = &pipeline;
  hub.SetSnapshotSource([p](const MetricSchema& m, const LiveFilters& filters,
                            size_t limit) -> Result<std::vector<std::string>> {
    store::ResultStore* store = p->store();
    if (!store) return Fail("the result store is not open");
    return ReadSnapshot(*store, m, filters, limit);
  });
  return RegisterLiveRoutes(server, hub);
}

}  // namespace weir::server
