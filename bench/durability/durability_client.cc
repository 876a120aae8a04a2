// Client side of scripts/bench-durability: loads a running weir over HTTP and watches it
// recover.
//
//   weir_durability_client post --port 18090 --file events.ndjson --batch 1000 --connections 4
//       sends the file as NDJSON requests of `batch` lines; prints "acked_events N", "requests R",
//       "seconds S"; exits 1 if any request is not answered 202.
//   weir_durability_client wait --port 18090 --since-ns T0 --accepted N
//       polls /health every millisecond until it answers (connection refused until weir listens),
//       then /api/v1/status until the sources have accepted N events, the queue is empty and
//       (with --log) weir's log says how many events it replayed from its write-ahead log;
//       prints "health_ms", "health_status" and "caught_up_ms", measured from T0 (CLOCK_REALTIME
//       nanoseconds, e.g. `date +%s%N` taken just before weir was started).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "weir/server/http_client.h"

namespace {

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The first integer after `key` at or after `from`; -1 if absent.
int64_t IntAfter(const std::string& s, const std::string& key, size_t from = 0) {
  size_t at = s.find(key, from);
  if (at == std::string::npos) return -1;
  return std::strtoll(s.c_str() + at + key.size(), nullptr, 10);
}

// Sum of "accepted" over every source of an /api/v1/status body.
int64_t AcceptedEvents(const std::string& status) {
  size_t sources = status.find("\"sources\":[");
  size_t end = status.find("\"checkpoints\":", sources);
  if (sources == std::string::npos) return -1;
  int64_t total = 0;
  for (size_t at = sources; (at = status.find("\"accepted\":", at)) != std::string::npos && at < end; ++at)
    total += IntAfter(status, "\"accepted\":", at);
  return total;
}

int Post(const std::string& host, int port, const std::string& file, size_t batch, int connections) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "error: cannot read %s\n", file.c_str());
    return 1;
  }
  // Bodies of `batch` lines each, prepared up front so that sending is all that is timed.
  std::vector<std::string> bodies;
  std::vector<size_t> counts;
  std::string line, body;
  size_t n = 0;
  while (std::getline(in, line)) {
    body += line;
    body += '\n';
    if (++n == batch) {
      bodies.push_back(std::move(body));
      counts.push_back(n);
      body.clear();
      n = 0;
    }
  }
  if (n) {
    bodies.push_back(std::move(body));
    counts.push_back(n);
  }
  std::atomic<size_t> next{0};
  std::atomic<int64_t> acked{0}, failed{0};
  std::mutex mu;
  std::string first_error;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&] {
      auto client = weir::server::HttpClient::Connect(host, static_cast<uint16_t>(port), std::chrono::seconds(60));
      if (!client) {
        failed++;
        std::lock_guard lock(mu);
        if (first_error.empty()) first_error = client.error().message;
        return;
      }
      const weir::server::HeaderList headers = {{"Content-Type", "application/x-ndjson"}};
      for (size_t i; (i = next++) < bodies.size();) {
        auto r = (*client)->Request("POST", "/api/v1/events", bodies[i], headers);
        if (r && r->status == 202) {
          acked += static_cast<int64_t>(counts[i]);
        } else {
          failed++;
          std::lock_guard lock(mu);
          if (first_error.empty()) first_error = r ? std::to_string(r->status) + " " + r->body : r.error().message;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("acked_events %lld\nrequests %zu\nseconds %.3f\n", static_cast<long long>(acked.load()), bodies.size(),
              seconds);
  if (failed) {
    std::fprintf(stderr, "error: %lld requests failed; first: %s\n", static_cast<long long>(failed.load()),
                 first_error.c_str());
    return 1;
  }
  return 0;
}

int Wait(const std::string& host, int port, int64_t since_ns, int64_t accepted, const std::string& log_file,
         double timeout_s) {
  const int64_t deadline = NowNanos() + static_cast<int64_t>(timeout_s * 1e9);
  std::unique_ptr<weir::server::HttpClient> client;
  int health_status = 0;
  int64_t health_ns = 0;
  while (NowNanos() < deadline) {
    auto c = weir::server::HttpClient::Connect(host, static_cast<uint16_t>(port), std::chrono::seconds(5));
    if (c) {
      auto r = (*c)->Request("GET", "/health");
      if (r) {
        health_ns = NowNanos();
        health_status = r->status;
        client = std::move(*c);
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!client) {
    std::fprintf(stderr, "error: /health did not answer within %.0f s\n", timeout_s);
    return 1;
  }
  std::printf("health_ms %.1f\nhealth_status %d\n", (health_ns - since_ns) / 1e6, health_status);
  std::fflush(stdout);
  // The log is replayed in the background (/health answers "starting" meanwhile): wait for the
  // events acknowledged before the crash (--accepted) and, once caught up, report how many weir's
  // log says it replayed.
  auto replayed_in_log = [&]() -> int64_t {
    std::ifstream in(log_file);
    int64_t events = -1;
    for (std::string line; std::getline(in, line);) {
      size_t at = line.find(") from the log");
      size_t open = line.rfind("requests (", at);
      if (at != std::string::npos && open != std::string::npos)
        events = std::strtoll(line.c_str() + open + 10, nullptr, 10);
    }
    return events;
  };
  while (NowNanos() < deadline) {
    auto r = client->Request("GET", "/api/v1/status");
    int64_t now = NowNanos();
    if (r && r->status == 200) {
      int64_t got = AcceptedEvents(r->body);
      int64_t queued = IntAfter(r->body, "\"queue\":{\"batches\":");
      // With --log, caught up means the replay is done too (its line is in the log; an empty log
      // has nothing to replay and no such line).
      int64_t replayed = log_file.empty() || accepted == 0 ? 0 : replayed_in_log();
      if (got >= accepted && queued == 0 && replayed >= 0) {
        std::printf("accepted %lld\ncaught_up_ms %.1f\n", static_cast<long long>(got), (now - since_ns) / 1e6);
        if (!log_file.empty()) std::printf("replayed_events %lld\n", static_cast<long long>(replayed));
        return 0;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::fprintf(stderr, "error: not caught up within %.0f s\n", timeout_s);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Loads weir over HTTP and watches it recover (scripts/bench-durability)"};
  app.require_subcommand(1);
  std::string host = "127.0.0.1", file;
  int port = 0, connections = 4;
  size_t batch = 1000;
  int64_t since_ns = 0, accepted = 0;
  double timeout_s = 600;
  auto* post = app.add_subcommand("post", "Send an NDJSON file in batches; every request must get 202");
  post->add_option("--host", host)->capture_default_str();
  post->add_option("--port", port)->required();
  post->add_option("--file", file)->required();
  post->add_option("--batch", batch, "lines per request")->capture_default_str();
  post->add_option("--connections", connections)->capture_default_str();
  auto* wait = app.add_subcommand("wait", "Time until /health answers and the input is processed");
  wait->add_option("--host", host)->capture_default_str();
  wait->add_option("--port", port)->required();
  wait->add_option("--since-ns", since_ns, "start time, CLOCK_REALTIME ns")->required();
  wait->add_option("--accepted", accepted, "events the sources must report")->capture_default_str();
  wait->add_option("--timeout", timeout_s, "seconds")->capture_default_str();
  std::string log_file;
  wait->add_option("--log", log_file, "weir's log (--log-level info): the replayed events it reports are awaited");
  CLI11_PARSE(app, argc, argv);
  if (*post) return Post(host, port, file, batch, std::max(1, connections));
  return Wait(host, port, since_ns, accepted, log_file, timeout_s);
}
