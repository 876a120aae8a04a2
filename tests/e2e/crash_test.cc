// Durability through the weir binary: events posted over HTTP while weir is killed with SIGKILL
// at random moments (and restarted) end up counted exactly once, with results identical to a
// run without kills. The client retries a request that got no answer with the same
// Idempotency-Key, as a producer should.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>

#include <fmt/format.h>

#include "support/process.h"
#include "weir/server/http_client.h"

namespace fs = std::filesystem;

namespace {

constexpr const char* kPipeline = R"(apiVersion: weir/v1
kind: Pipeline
metadata: { name: crash }
spec:
  durability: { fsync: interval, checkpoint: { interval: 150ms } }
  sources:
    - { type: http, id: ingest }
  metrics:
    - id: revenue
      where: kind = 'buy'
      event_time: ts
      watermark: 2s
      window: { tumbling: 10s }
      group_by: { currency: cur }
      select: { orders: count(), revenue: sum(amount), largest: max(amount), buyers: count_distinct(user) }
    - id: events_by_kind
      event_time: ts
      watermark: 2s
      window: { sliding: 20s, every: 10s }
      group_by: { kind: kind }
      select: { events: count() }
)";

uint16_t FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

/// The input: `n` NDJSON requests of 50 events each, deterministic.
std::vector<std::string> Requests(int n) {
  std::vector<std::string> out;
  std::mt19937_64 rng(99);
  const char* kinds[] = {"view", "view", "buy", "cart"};
  const char* curs[] = {"USD", "EUR", "JPY"};
  int64_t t = 1767225600000;
  for (int r = 0; r < n; ++r) {
    std::string body;
    for (int i = 0; i < 50; ++i) {
      t += 7 + static_cast<int64_t>(rng() % 20);
      int64_t ts = t - static_cast<int64_t>(rng() % 1500);
      body += fmt::format(R"({{"kind":"{}","ts":{},"cur":"{}","amount":{}.{:02},"user":"u{}"}})", kinds[rng() % 4], ts,
                          curs[rng() % 3], rng() % 500, rng() % 100, rng() % 300);
      body += '\n';
    }
    out.push_back(std::move(body));
  }
  // Closes every window.
  out.push_back(fmt::format(R"({{"kind":"end","ts":{}}})", t + 3600000) + "\n");
  return out;
}

class Weir {
 public:
  Weir(fs::path dir, uint16_t port) : dir_(std::move(dir)), port_(port) {}
  void Start() {
    std::lock_guard lock(mu_);
    proc_ = weir::testing::Process::Spawn({WEIR_BINARY, "run", (dir_ / "pipeline.yaml").string(), "--listen",
                                           fmt::format("127.0.0.1:{}", port_), "--data-dir", (dir_ / "data").string()},
                                          {}, (dir_ / fmt::format("weir-{}.log", starts_++)).string());
  }
  void Kill() {
    std::lock_guard lock(mu_);
    proc_.Kill();
  }
  int Stop() {
    std::lock_guard lock(mu_);
    proc_.Signal(SIGTERM);
    return proc_.Wait(std::chrono::seconds(30));
  }

 private:
  fs::path dir_;
  uint16_t port_;
  std::mutex mu_;
  weir::testing::Process proc_;
  int starts_ = 0;
};

/// Posts every request, retrying (same key) until it gets 202.
void PostAll(uint16_t port, const std::vector<std::string>& requests, const std::string& run) {
  std::unique_ptr<weir::server::HttpClient> client;
  for (size_t i = 0; i < requests.size(); ++i) {
    for (int attempt = 0;; ++attempt) {
      ASSERT_LT(attempt, 2000) << "request " << i << " never accepted";
      if (!client) {
        auto c = weir::server::HttpClient::Connect("127.0.0.1", port, std::chrono::milliseconds(500));
        if (!c) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          continue;
        }
        client = std::move(*c);
      }
      auto r = client->Request("POST", "/api/v1/events", requests[i],
                               {{"Content-Type", "application/x-ndjson"}, {"Idempotency-Key", getenv("CRASH_NO_KEYS") ? std::string() : run + std::to_string(i)}});
      if (!r) {
        client.reset();
        continue;
      }
      if (r->status == 202) break;
      ASSERT_EQ(r->status, 503) << r->body;  // starting up or full: retry
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

std::string Query(const fs::path& data, const char* metric) {
  auto out = (data.parent_path() / (std::string(metric) + ".ndjson")).string();
  auto p = weir::testing::Process::Spawn({WEIR_BINARY, "query", "--data-dir", data.string(), metric}, {}, "", out);
  EXPECT_EQ(p.Wait(std::chrono::seconds(30)), 0);
  return weir::testing::ReadFile(out);
}

TEST(Crash, KilledTwentyTimesWhileIngestingGivesTheSameResults) {
  fs::path root = fs::path(::testing::TempDir()) / ("weir_crash_" + std::to_string(getpid()));
  fs::remove_all(root);
  auto requests = Requests(400);

  auto run = [&](const std::string& name, int kills) -> fs::path {
    fs::path dir = root / name;
    fs::create_directories(dir);
    std::ofstream(dir / "pipeline.yaml") << kPipeline;
    uint16_t port = FreePort();
    Weir weir(dir, port);
    weir.Start();
    std::atomic<bool> done{false};
    std::atomic<int> killed{0};
    std::thread killer([&] {
      std::mt19937 rng(7);
      while (!done && killed < kills) {
        std::this_thread::sleep_for(std::chrono::milliseconds(40 + rng() % 160));
        if (done) break;
        weir.Kill();
        ++killed;
        weir.Start();
      }
    });
    PostAll(port, requests, name);
    done = true;
    killer.join();
    EXPECT_EQ(weir.Stop(), 0);
    EXPECT_GE(killed, kills) << "the client finished before all kills happened";
    return dir / "data";
  };

  fs::path clean = run("clean", 0);
  fs::path crashed = run("crashed", 20);
  for (const char* metric : {"revenue", "events_by_kind"}) {
    std::string a = Query(clean, metric), b = Query(crashed, metric);
    EXPECT_FALSE(a.empty());
    EXPECT_EQ(a, b) << metric;
  }
  if (!HasFailure() && !getenv("CRASH_KEEP")) fs::remove_all(root);
}

}  // namespace
