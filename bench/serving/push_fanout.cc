// Live push without a pipeline: weir::server::LiveHub and the SSE route on a real HttpServer,
// fed hand-made result rows. Measures, per row, the time from LiveHub::OnResults (called here,
// standing in for the pipeline thread) until every one of C clients has read the row's update
// from its SSE stream (the clients are read one after another, so the figure is the time until
// the last one has it: the fan-out cost). Driven by scripts/bench-serving (BENCHMARKS.md,
// "Serving"); it replaces the former timed test LiveRoutes.DISABLED_PushLatency.
//
//   weir_push_fanout --clients 1,50 --rows 2000
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "weir/base/log.h"
#include "weir/server/http_client.h"
#include "weir/server/http_server.h"
#include "weir/server/live_hub.h"
#include "weir/server/live_routes.h"

namespace {

using namespace std::chrono_literals;
using weir::server::HttpClient;

constexpr weir::Timestamp kWindow = 1771237800000;  // 2026-02-16T10:30:00Z

// The next SSE event block that is an event ("event: …"); retry lines and comments are skipped.
bool NextEvent(HttpClient& c, std::string& event) {
  for (int i = 0; i < 1000; ++i) {
    auto block = c.ReadEvent(10s);
    if (!block || !block->has_value()) return false;
    const std::string& b = **block;
    size_t at = b.find("event: ");
    if (at == std::string::npos) continue;
    event = b.substr(at + 7, b.find('\n', at) - at - 7);
    return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> client_counts = {1, 50};
  int rows = 2000;
  CLI::App app{"LiveHub -> SSE fan-out latency with 1 and N clients (no pipeline)"};
  app.add_option("--clients", client_counts, "client counts to measure, one run each")->delimiter(',')->capture_default_str();
  app.add_option("--rows", rows, "rows emitted (one at a time) per run")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  weir::InitLogging("warn");  // stderr; spdlog's default would print to stdout, into the table

  weir::MetricSchema views;
  views.id = "views";
  views.index = 0;
  views.key_names = {"country"};
  views.value_names = {"views"};
  weir::server::LiveHub hub({&views});
  auto server = weir::server::HttpServer::Make({.host = "127.0.0.1", .port = 0});
  if (!server) {
    std::fprintf(stderr, "error: %s\n", server.error().message.c_str());
    return 1;
  }
  if (auto st = weir::server::RegisterLiveRoutes(**server, hub); !st) {
    std::fprintf(stderr, "error: %s\n", st.error().message.c_str());
    return 1;
  }
  if (auto st = (*server)->Start(); !st) {
    std::fprintf(stderr, "error: %s\n", st.error().message.c_str());
    return 1;
  }

  uint64_t seq = 0;
  auto emit = [&](std::string_view country, int64_t n) {
    weir::ResultBatch b;
    b.schema = &views;
    b.cells = {weir::Value::String(b.arena.Copy(country)), weir::Value::Int(n)};
    weir::ResultRow row;
    row.window_start = kWindow;
    row.window_end = kWindow + 60000;
    row.seq = ++seq;
    row.final = false;
    row.keys = b.cells.data();
    row.values = b.cells.data() + 1;
    b.rows.push_back(row);
    hub.OnResults(b);
  };

  std::printf("| SSE clients | rows | OnResults → update read by every client: p50 µs | p99 µs | max µs |\n");
  std::printf("|---|---|---|---|---|\n");
  int rc = 0;
  for (int clients : client_counts) {
    std::vector<std::unique_ptr<HttpClient>> streams;
    for (int i = 0; i < clients; ++i) {
      auto c = HttpClient::Connect("127.0.0.1", (*server)->port());
      if (!c) {
        std::fprintf(stderr, "error: connect: %s\n", c.error().message.c_str());
        return 1;
      }
      // Resume from the newest row: updates only, no snapshot.
      auto head = (*c)->StartStream("GET", fmt::format("/api/v1/stream?metrics=views&last_event_id=views%3D{}", seq));
      if (!head || head->status != 200) {
        std::fprintf(stderr, "error: cannot open the stream\n");
        return 1;
      }
      streams.push_back(std::move(*c));
    }
    std::vector<double> us;
    us.reserve(static_cast<size_t>(rows));
    std::string event;
    for (int i = 0; i < rows; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      emit(i % 2 ? "DE" : "FR", i);
      for (auto& s : streams) {
        if (!NextEvent(*s, event) || event != "update") {
          std::fprintf(stderr, "error: expected an update, got '%s'\n", event.c_str());
          rc = 1;
          break;
        }
      }
      if (rc) break;
      us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
    if (rc) break;
    std::sort(us.begin(), us.end());
    auto at = [&](double p) { return us[std::min(us.size() - 1, static_cast<size_t>(p * static_cast<double>(us.size())))]; };
    std::printf("| %d | %d | %.0f | %.0f | %.0f |\n", clients, rows, at(0.50), at(0.99), us.back());
    std::fflush(stdout);
  }
  (*server)->Stop();
  return rc;
}
