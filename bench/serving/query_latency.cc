// Query API latency: sends each given query N times, one after another, on one keep-alive
// connection, and prints a markdown table with the latency (from just before the request is
// written to the last byte of the answer read), the answer's size and rows, and the CPU the
// server (--pid) and this client spent per request. Driven by scripts/bench-serving (results in
// BENCHMARKS.md, "Serving").
//
//   weir_query_latency --port 18090 --pid 1234 --requests 200 --warmup 5
//       --query 'all 24h at 1m|/api/v1/metrics/readings?start=…&end=…&limit=1000000'
//       --query '24h at 1h|/api/v1/metrics/readings?start=…&end=…&window=1h'
//
// Every answer must be 200 and as large as the first one of its query (the data does not change
// while it is served); otherwise the tool fails. With --probe /health, a second connection sends
// that request every --probe-ms meanwhile and its latency is reported per query: handlers run
// inline on the server's IO thread, so this shows what a long query makes other requests wait.
#include <sys/resource.h>
#include <unistd.h>

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

double NowMs() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// utime + stime of a process (all its threads), in milliseconds; -1 if unreadable.
double ProcessCpuMs(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!pid || !std::getline(in, stat)) return -1;
  // Fields after the command name (which may hold spaces) start after the last ')'.
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) {
      stime = std::stoull(field);
      break;
    }
  }
  return 1000.0 * static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double SelfCpuMs() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ms = [](const timeval& t) { return t.tv_sec * 1000.0 + t.tv_usec / 1000.0; };
  return ms(ru.ru_utime) + ms(ru.ru_stime);
}

// Rows in an answer: "count":N of a JSON answer, lines after the header of a CSV one.
long long Rows(const weir::server::Response& r) {
  if (r.content_type.starts_with("text/csv")) {
    long long lines = std::count(r.body.begin(), r.body.end(), '\n');
    return lines > 0 ? lines - 1 : 0;
  }
  size_t at = r.body.find("\"count\":");
  return at == std::string::npos ? -1 : std::strtoll(r.body.c_str() + at + 8, nullptr, 10);
}

// p-quantile of sorted values.
double At(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1, static_cast<size_t>(p * static_cast<double>(sorted.size())))];
}

std::string Bytes(size_t n) {
  char buf[32];
  if (n >= 1000000) std::snprintf(buf, sizeof buf, "%.1f MB", n / 1e6);
  else if (n >= 1000) std::snprintf(buf, sizeof buf, "%.1f kB", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%zu B", n);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 0, pid = 0, requests = 200, warmup = 5, probe_ms = 10;
  std::vector<std::string> queries;
  std::string probe;
  CLI::App app{"Query API latency: each query N times in a row on one keep-alive connection"};
  app.add_option("--host", host)->capture_default_str();
  app.add_option("--port", port)->required();
  app.add_option("--pid", pid, "the server's process id, for its CPU time (0: not measured)");
  app.add_option("--requests", requests, "measured requests per query")->capture_default_str();
  app.add_option("--warmup", warmup, "unmeasured requests per query before those")->capture_default_str();
  app.add_option("--query", queries, "LABEL|TARGET, e.g. 'one group|/api/v1/metrics/m?key=a'")->required();
  app.add_option("--probe", probe, "a cheap GET sent every --probe-ms on a second connection meanwhile (e.g. /health)");
  app.add_option("--probe-ms", probe_ms, "interval of the probe")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto client = weir::server::HttpClient::Connect(host, static_cast<uint16_t>(port), std::chrono::seconds(60));
  if (!client) {
    std::fprintf(stderr, "error: cannot connect to %s:%d: %s\n", host.c_str(), port, client.error().message.c_str());
    return 1;
  }

  // The probe: latencies are kept only while a query's measured requests run.
  std::mutex probe_mu;
  std::vector<double> probe_lat;
  bool probe_collect = false;
  std::atomic<bool> probe_stop{false};
  std::thread probe_thread;
  if (!probe.empty()) {
    auto c = weir::server::HttpClient::Connect(host, static_cast<uint16_t>(port), std::chrono::seconds(60));
    if (!c) {
      std::fprintf(stderr, "error: cannot connect to %s:%d: %s\n", host.c_str(), port, c.error().message.c_str());
      return 1;
    }
    probe_thread = std::thread([&, pc = std::move(*c)] {
      while (!probe_stop) {
        auto start = std::chrono::steady_clock::now();
        double t0 = NowMs();
        auto r = pc->Request("GET", probe);
        double t1 = NowMs();
        if (r && r->status < 500) {
          std::lock_guard lock(probe_mu);
          if (probe_collect) probe_lat.push_back(t1 - t0);
        }
        std::this_thread::sleep_until(start + std::chrono::milliseconds(probe_ms));
      }
    });
  }

  auto finish = [&](int rc) {
    probe_stop = true;
    if (probe_thread.joinable()) probe_thread.join();
    return rc;
  };

  std::printf("| query | rows | answer size | p50 ms | p99 ms | max ms | mean ms | server CPU ms/request | client CPU ms/request |%s\n",
              probe.empty() ? "" : (" meanwhile " + probe + " every " + std::to_string(probe_ms) + " ms: p50 / p99 / max ms |").c_str());
  std::printf("|---|---|---|---|---|---|---|---|---|%s\n", probe.empty() ? "" : "---|");
  std::vector<std::string> targets;
  for (const std::string& q : queries) {
    size_t bar = q.find('|');
    if (bar == std::string::npos) {
      std::fprintf(stderr, "error: --query '%s': expected LABEL|TARGET\n", q.c_str());
      return finish(2);
    }
    std::string label = q.substr(0, bar), target = q.substr(bar + 1);
    size_t size = 0;
    long long rows = 0;
    std::vector<double> ms;
    double server0 = 0, client0 = 0;
    for (int i = 0; i < warmup + requests; ++i) {
      if (i == warmup) {
        server0 = ProcessCpuMs(pid);
        client0 = SelfCpuMs();
        std::lock_guard lock(probe_mu);
        probe_lat.clear();
        probe_collect = true;
      }
      double t0 = NowMs();
      auto r = (*client)->Request("GET", target);
      double t1 = NowMs();
      if (!r || r->status != 200) {
        std::fprintf(stderr, "error: %s: %s\n", target.c_str(),
                     r ? (std::to_string(r->status) + " " + r->body.substr(0, 300)).c_str() : r.error().message.c_str());
        return finish(1);
      }
      if (i == 0) {
        size = r->body.size();
        rows = Rows(*r);
      } else if (r->body.size() != size) {
        std::fprintf(stderr, "error: %s: answer size changed from %zu to %zu\n", target.c_str(), size, r->body.size());
        return finish(1);
      }
      if (i >= warmup) ms.push_back(t1 - t0);
    }
    std::vector<double> probed;
    {
      std::lock_guard lock(probe_mu);
      probe_collect = false;
      probed.swap(probe_lat);
    }
    std::sort(probed.begin(), probed.end());
    double server_ms = pid ? (ProcessCpuMs(pid) - server0) / requests : -1;
    double client_ms = (SelfCpuMs() - client0) / requests;
    double mean = 0;
    for (double v : ms) mean += v;
    mean /= static_cast<double>(ms.size());
    std::sort(ms.begin(), ms.end());
    char server_text[32] = "-", probe_text[64] = "";
    if (server_ms >= 0) std::snprintf(server_text, sizeof server_text, "%.2f", server_ms);
    if (!probe.empty())
      std::snprintf(probe_text, sizeof probe_text, " %.2f / %.2f / %.2f (n=%zu) |", At(probed, 0.50), At(probed, 0.99),
                    probed.empty() ? 0.0 : probed.back(), probed.size());
    std::printf("| %s | %lld | %s | %.2f | %.2f | %.2f | %.2f | %s | %.2f |%s\n", label.c_str(), rows, Bytes(size).c_str(),
                At(ms, 0.50), At(ms, 0.99), ms.back(), mean, server_text, client_ms, probe_text);
    std::fflush(stdout);
    targets.push_back("- " + label + ": `GET " + target + "`");
  }
  finish(0);
  std::printf("\n");
  for (const auto& t : targets) std::printf("%s\n", t.c_str());
  return 0;
}
