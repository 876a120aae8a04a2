// Durability edge cases through the weir binary: a corrupt checkpoint and a torn log, overload,
// a full disk, and SIGTERM under load.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>

#include <fmt/format.h>

#include "support/process.h"
#include "support/tmpfs.h"
#include "weir/server/http_client.h"

namespace fs = std::filesystem;
using weir::server::HttpClient;

namespace {

std::string Pipeline(const std::string& extra_durability, const std::string& checkpoint_interval = "100ms") {
  return fmt::format(R"(apiVersion: weir/v1
kind: Pipeline
metadata: {{ name: durability }}
spec:
  durability: {{ checkpoint: {{ interval: {} }}{} }}
  sources:
    - {{ type: http, id: ingest }}
  metrics:
    - id: per_key
      event_time: ts
      watermark: 0s
      window: {{ tumbling: 1h }}
      group_by: {{ k: k }}
      select: {{ n: count(), total: sum(v) }}
)",
                     checkpoint_interval, extra_durability);
}

/// A batch of `n` NDJSON events with keys k0..k3, all in the first hour of 2026.
std::string Events(int first, int n) {
  std::string body;
  for (int i = first; i < first + n; ++i)
    body += fmt::format(R"({{"ts":{},"k":"k{}","v":{}}})", 1767225600000 + i, i % 4, i) + "\n";
  return body;
}
constexpr const char* kFlush = R"({"ts":1767240000000,"k":"flush","v":0})";

class Server {
 public:
  Server(fs::path dir, fs::path data) : dir_(std::move(dir)), data_(std::move(data)) {}
  void Start() {
    fs::remove(dir_ / "port");
    proc_ =
        weir::testing::Process::Spawn({WEIR_BINARY, "run", (dir_ / "pipeline.yaml").string(), "--listen", "127.0.0.1:0",
                                       "--port-file", (dir_ / "port").string(), "--data-dir", data_.string()},
                                      {}, (dir_ / fmt::format("weir-{}.log", starts_++)).string());
    for (int i = 0; i < 1000 && !fs::exists(dir_ / "port"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_TRUE(fs::exists(dir_ / "port")) << Log();
    port_ = static_cast<uint16_t>(std::stoi(weir::testing::ReadFile((dir_ / "port").string())));
  }
  std::unique_ptr<HttpClient> Client() {
    auto c = HttpClient::Connect("127.0.0.1", port_);
    EXPECT_TRUE(c) << c.error().message;
    return c ? std::move(*c) : nullptr;
  }
  weir::server::Response Post(std::string_view body, std::string key = "") {
    auto c = Client();
    weir::server::HeaderList h = {{"Content-Type", "application/x-ndjson"}};
    if (!key.empty()) h.emplace_back("Idempotency-Key", key);
    auto r = c->Request("POST", "/api/v1/events", body, h);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : weir::server::Response{};
  }
  std::string Status() {
    auto r = Client()->Request("GET", "/api/v1/status");
    return r ? r->body : "";
  }
  int Stop(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    proc_.Signal(SIGTERM);
    return proc_.Wait(timeout);
  }
  std::string Log() const { return weir::testing::ReadFile((dir_ / fmt::format("weir-{}.log", starts_ - 1)).string()); }
  pid_t pid() const { return proc_.pid(); }
  std::string Query(const char* metric) {
    auto out = (dir_ / "query.ndjson").string();
    auto p = weir::testing::Process::Spawn({WEIR_BINARY, "query", "--data-dir", data_.string(), metric}, {}, "", out);
    EXPECT_EQ(p.Wait(std::chrono::seconds(30)), 0);
    return weir::testing::ReadFile(out);
  }

 private:
  fs::path dir_, data_;
  weir::testing::Process proc_;
  uint16_t port_ = 0;
  int starts_ = 0;
};

fs::path TestDir() {
  fs::path dir =
      fs::path(::testing::TempDir()) /
      fmt::format("weir_durability_{}_{}", getpid(), ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// The newest checkpoint is damaged and the log's last record is torn: weir starts from the
// previous checkpoint, says what it skipped, and loses nothing that is still intact.
TEST(Durability, CorruptCheckpointAndTornLogRecoverWhatIsIntact) {
  fs::path dir = TestDir();
  std::ofstream(dir / "pipeline.yaml") << Pipeline("");
  Server weir(dir, dir / "data");
  weir.Start();
  for (int i = 0; i < 20; ++i) ASSERT_EQ(weir.Post(Events(i * 50, 50)).status, 202);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // a checkpoint covers these
  for (int i = 20; i < 40; ++i) ASSERT_EQ(weir.Post(Events(i * 50, 50)).status, 202);
  ASSERT_EQ(weir.Post(Events(2000, 7)).status, 202);  // the record that will be torn
  ASSERT_EQ(weir.Stop(), 0) << weir.Log();

  // Damage: flip a byte in the newest checkpoint; cut the log's last record in half.
  std::vector<fs::path> ckpts;
  for (const auto& e : fs::directory_iterator(dir / "data" / "checkpoints")) ckpts.push_back(e.path());
  std::sort(ckpts.begin(), ckpts.end());
  ASSERT_GE(ckpts.size(), 2u);
  {
    std::fstream f(ckpts.back(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(ckpts.back()) / 2));
    f.put('\x5a');
  }
  std::vector<fs::path> segments;
  for (const auto& e : fs::directory_iterator(dir / "data" / "wal" / "ingest"))
    if (e.path().extension() == ".wal") segments.push_back(e.path());
  std::sort(segments.begin(), segments.end());
  ASSERT_FALSE(segments.empty());
  fs::resize_file(segments.back(), fs::file_size(segments.back()) - 100);

  weir.Start();
  std::string status;
  for (int i = 0; i < 100; ++i) {  // the status is published by the pipeline thread, shortly after start
    status = weir.Status();
    if (status.find("\"recovery\"") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(status.find("checksum mismatch"), std::string::npos) << status;  // the skipped checkpoint
  EXPECT_NE(status.find("\"recovery\":\"WAL cut"), std::string::npos) << status;
  ASSERT_EQ(weir.Post(kFlush).status, 202);
  ASSERT_EQ(weir.Stop(), 0) << weir.Log();

  // Everything but the torn request: 2000 events, 500 per key, v summed.
  std::string rows = weir.Query("per_key");
  for (int k = 0; k < 4; ++k) {
    int64_t total = 0;
    for (int i = k; i < 2000; i += 4) total += i;
    EXPECT_NE(rows.find(fmt::format(R"("k":"k{}","n":500,"total":{},)", k, total)), std::string::npos) << rows;
  }
}

// The newest checkpoint is damaged and the older one it falls back to is several log segments
// behind: the log was kept back to the oldest checkpoint on disk, so nothing acknowledged is
// missing; and a client retrying requests (same Idempotency-Key) after the restart is answered
// without counting them twice, whether the checkpoint covers the request or the log replays it.
TEST(Durability, FallingBackToAnOlderCheckpointFindsItsLogAndRetriesCountOnce) {
  fs::path dir = TestDir();
  // Checkpoints only on the way out; small segments, so the log spans many.
  std::ofstream(dir / "pipeline.yaml") << Pipeline(", segment_bytes: 64KiB", "1h");
  Server weir(dir, dir / "data");
  weir.Start();
  for (int i = 0; i < 40; ++i) ASSERT_EQ(weir.Post(Events(i * 50, 50), fmt::format("a{}", i)).status, 202);
  ASSERT_EQ(weir.Stop(), 0) << weir.Log();  // checkpoint 1 covers 2000 events
  weir.Start();
  for (int i = 40; i < 80; ++i) ASSERT_EQ(weir.Post(Events(i * 50, 50), fmt::format("b{}", i)).status, 202);
  ASSERT_EQ(weir.Stop(), 0) << weir.Log();  // checkpoint 2 covers 4000

  std::vector<fs::path> ckpts;
  for (const auto& e : fs::directory_iterator(dir / "data" / "checkpoints")) ckpts.push_back(e.path());
  std::sort(ckpts.begin(), ckpts.end());
  ASSERT_EQ(ckpts.size(), 2u);
  {
    std::fstream f(ckpts.back(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(ckpts.back()) / 2));
    f.put('\x5a');
  }
  int segments = 0;
  for (const auto& e : fs::directory_iterator(dir / "data" / "wal" / "ingest"))
    segments += e.path().extension() == ".wal";
  EXPECT_GE(segments, 2) << "the log should span the segments after checkpoint 1";

  weir.Start();
  // Retries: one the restored checkpoint covers, one the log replays.
  for (int i : {3, 39, 41, 79}) {
    auto r = weir.Post(Events(i * 50, 50), fmt::format("{}{}", i < 40 ? 'a' : 'b', i));
    EXPECT_EQ(r.status, 202);
    EXPECT_EQ(r.body, R"({"accepted":50,"rejected":0})") << i;
  }
  std::string status = weir.Status();
  EXPECT_NE(status.find("checksum mismatch"), std::string::npos) << status;
  EXPECT_EQ(status.find("replay_gap"), std::string::npos) << status;
  ASSERT_EQ(weir.Post(kFlush).status, 202);
  ASSERT_EQ(weir.Stop(), 0) << weir.Log();

  std::string rows = weir.Query("per_key");
  for (int k = 0; k < 4; ++k) {
    int64_t total = 0;
    for (int i = k; i < 4000; i += 4) total += i;
    EXPECT_NE(rows.find(fmt::format(R"("k":"k{}","n":1000,"total":{},)", k, total)), std::string::npos) << rows;
  }
}

// A checkpoint's size and duration are reported in /api/v1/status and /metrics, and the size is
// that of the file on disk.
TEST(Durability, CheckpointSizeAndDurationAreReported) {
  fs::path dir = TestDir();
  std::ofstream(dir / "pipeline.yaml") << Pipeline("");
  Server weir(dir, dir / "data");
  weir.Start();
  ASSERT_EQ(weir.Post(Events(0, 100)).status, 202);
  auto number = [](const std::string& text, const std::string& after) -> int64_t {
    size_t at = text.find(after);
    return at == std::string::npos ? -1 : std::stoll(text.substr(at + after.size()));
  };
  std::string status;
  for (int i = 0; i < 100 && number(status, "\"taken\":") < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    status = weir.Status();
  }
  ASSERT_GE(number(status, "\"taken\":"), 1) << status;
  ASSERT_EQ(weir.Stop(), 0) << weir.Log();  // nothing changed since: no further checkpoint
  int64_t id = number(status, "\"last_id\":"), bytes = number(status, "\"last_bytes\":");
  fs::path file = dir / "data" / "checkpoints" / fmt::format("ckpt-{:020}.ckpt", id);
  ASSERT_TRUE(fs::exists(file)) << status;
  EXPECT_EQ(bytes, static_cast<int64_t>(fs::file_size(file)));
  EXPECT_GE(number(status, "\"last_duration_ms\":"), number(status, "\"last_pause_ms\":")) << status;
  EXPECT_GE(number(status, "\"last_pause_ms\":"), 0) << status;

  weir.Start();  // restored from that checkpoint; the next one is reported the same way in /metrics
  ASSERT_EQ(weir.Post(Events(100, 100)).status, 202);
  std::string metrics;
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto r = weir.Client()->Request("GET", "/metrics");
    metrics = r ? r->body : "";
    if (metrics.find("weir_checkpoints_total 1") != std::string::npos) break;
  }
  ASSERT_NE(metrics.find("weir_checkpoints_total 1"), std::string::npos) << metrics;
  ASSERT_EQ(weir.Stop(), 0) << weir.Log();
  file = dir / "data" / "checkpoints" / fmt::format("ckpt-{:020}.ckpt", id + 1);
  ASSERT_TRUE(fs::exists(file));
  EXPECT_NE(metrics.find(fmt::format("weir_checkpoint_bytes {}\n", fs::file_size(file))), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("weir_checkpoint_duration_seconds "), std::string::npos) << metrics;
}

// Far more load than the pipeline's queue takes: weir refuses with 503 and Retry-After, memory
// stays bounded, and every event it accepted is counted.
TEST(Durability, OverloadIsRefusedAndEverythingAcceptedIsCounted) {
  fs::path dir = TestDir();
  constexpr int64_t kMaxMemoryMiB = 256;  // the cap the pipeline is given, and the test holds it to
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer's shadow memory puts any process above such a cap: no memory cap here.
  std::ofstream(dir / "pipeline.yaml") << Pipeline(", fsync: never, max_queued_bytes: 256KiB");
  (void)kMaxMemoryMiB;
#else
  std::ofstream(dir / "pipeline.yaml") << Pipeline(
      fmt::format(", fsync: never, max_queued_bytes: 256KiB, max_memory: {}MiB", kMaxMemoryMiB));
#endif
  Server weir(dir, dir / "data");
  weir.Start();
  std::atomic<int64_t> accepted{0}, refused{0};
  std::atomic<bool> retry_after{true};
  int64_t max_rss_kb = 0;
  std::vector<std::thread> clients;
  std::atomic<int> finished{0};
  const std::string body = Events(0, 2000);  // ~80 KB per request
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&] {
      struct Done {
        std::atomic<int>& n;
        ~Done() { ++n; }
      } done{finished};
      auto client = weir.Client();
      for (int i = 0; i < 150; ++i) {
        auto r = client->Request("POST", "/api/v1/events", body, {{"Content-Type", "application/x-ndjson"}});
        if (!r) return;
        if (r->status == 202)
          accepted += 2000;
        else if (r->status == 503) {
          ++refused;
          if (r->header("retry-after").empty()) retry_after = false;
        }
      }
    });
  }
  while (true) {
    std::ifstream st(fmt::format("/proc/{}/status", weir.pid()));
    for (std::string line; std::getline(st, line);)
      if (line.rfind("VmRSS:", 0) == 0) max_rss_kb = std::max<int64_t>(max_rss_kb, std::stoll(line.substr(6)));
    if (finished == 4) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto& t : clients) t.join();
  EXPECT_GT(refused, 0) << "the load never exceeded the queue";
  EXPECT_GT(accepted, 0);
  EXPECT_TRUE(retry_after) << "a 503 without Retry-After";
#if defined(__SANITIZE_ADDRESS__)
  (void)max_rss_kb;  // AddressSanitizer's shadow memory and quarantine make RSS meaningless here
#else
  EXPECT_LT(max_rss_kb, kMaxMemoryMiB * 1024) << "resident memory grew past the configured cap";
#endif
  ASSERT_EQ(weir.Post(kFlush).status, 202);
  ASSERT_EQ(weir.Stop(), 0) << weir.Log();
  std::string rows = weir.Query("per_key");
  for (int k = 0; k < 4; ++k)
    EXPECT_NE(rows.find(fmt::format(R"("k":"k{}","n":{},)", k, accepted / 4)), std::string::npos) << rows;
}

// State grows (a new group per event) until weir's resident memory passes durability.max_memory:
// ingest then answers 503 naming the cap, and every event accepted before is in the state.
TEST(Durability, MemoryCapRefusesIngestNamingItAndKeepsWhatWasAccepted) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's shadow memory makes resident memory meaningless here";
#endif
  fs::path dir = TestDir();
  std::ofstream(dir / "pipeline.yaml") << Pipeline(", fsync: never, max_memory: 40MiB", "1h");
  Server weir(dir, dir / "data");
  weir.Start();
  int64_t accepted = 0;
  std::string refused, retry_after;
  for (int i = 0; i < 400 && refused.empty(); ++i) {
    std::string body;
    for (int e = 0; e < 2000; ++e)
      body += fmt::format(R"({{"ts":{},"k":"key-{:08}","v":1}})", 1767225600000 + e, i * 2000 + e) + "\n";
    auto r = weir.Post(body);
    if (r.status == 202)
      accepted += 2000;
    else if (r.status == 503) {
      refused = r.body;
      retry_after = r.header("retry-after");
    } else
      FAIL() << r.status << " " << r.body;
    if (i % 10 == 9) std::this_thread::sleep_for(std::chrono::milliseconds(150));  // let the cap be checked
  }
  EXPECT_NE(refused.find("max_memory"), std::string::npos) << refused;
  EXPECT_FALSE(retry_after.empty()) << "a 503 without Retry-After";
  EXPECT_GT(accepted, 0);
  // Processed and counted: one state row per accepted event.
  std::string status;
  for (int i = 0; i < 100; ++i) {
    status = weir.Status();
    if (status.find(fmt::format("\"state_rows\":{},", accepted)) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(status.find(fmt::format("\"accepted\":{},", accepted)), std::string::npos) << status;
  EXPECT_NE(status.find(fmt::format("\"state_rows\":{},", accepted)), std::string::npos) << status;
  EXPECT_NE(status.find("\"over\":true"), std::string::npos) << status;
  ASSERT_EQ(weir.Stop(), 0) << weir.Log();
}

// The disk fills up: ingest answers 503 naming the reason, and nothing acknowledged is lost.
TEST(Durability, FullDiskAnswers503AndLosesNothingAcknowledged) {
  fs::path dir = TestDir();
  fs::path small = dir / "small";
  auto disk = weir::testing::Tmpfs::Mount(small, "size=3m");
  if (!disk) GTEST_SKIP() << disk.error();
  // No checkpoint while filling: the log keeps everything and the disk runs out.
  std::ofstream(dir / "pipeline.yaml") << Pipeline(", fsync: always, segment_bytes: 64KiB", "1h");
  Server weir(dir, small / "data");
  weir.Start();
  int64_t acked = 0;
  std::string reason;
  for (int i = 0; i < 2000 && reason.empty(); ++i) {
    auto r = weir.Post(Events(i * 100, 100));
    if (r.status == 202)
      acked += 100;
    else if (r.status == 503)
      reason = r.body;
    else
      FAIL() << r.status << " " << r.body;
  }
  EXPECT_NE(reason.find("No space left on device"), std::string::npos) << reason;
  // Later requests fail fast with the same reason.
  EXPECT_EQ(weir.Post(Events(0, 1)).status, 503);
  weir.Stop();
  // Move the data to a disk with room and finish: every acknowledged event is there.
  fs::copy(small / "data", dir / "data", fs::copy_options::recursive);
  Server again(dir, dir / "data");
  again.Start();
  ASSERT_EQ(again.Post(kFlush).status, 202);
  ASSERT_EQ(again.Stop(), 0) << again.Log();
  std::string rows = again.Query("per_key");
  int64_t counted = 0;
  for (int k = 0; k < 4; ++k) {
    std::string pattern = fmt::format(R"("k":"k{}","n":)", k);
    size_t at = rows.find(pattern);
    if (at != std::string::npos) counted += std::stoll(rows.substr(at + pattern.size()));
  }
  EXPECT_GE(counted, acked) << rows;
  EXPECT_GT(acked, 0);
}

// The log's directory is read-only when weir starts: weir runs, ingest answers 503 naming the
// reason, and once the directory is writable again ingest resumes by itself.
TEST(Durability, ReadOnlyLogDirectoryAnswers503UntilItIsWritable) {
  fs::path dir = TestDir();
  fs::path wal = dir / "data" / "wal" / "ingest";
  auto disk = weir::testing::Tmpfs::Mount(wal, "size=4m", MS_RDONLY);
  if (!disk) GTEST_SKIP() << disk.error();
  std::ofstream(dir / "pipeline.yaml") << Pipeline("");
  Server weir(dir, dir / "data");
  weir.Start();
  auto refused = weir.Post(Events(0, 10));
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.body.find("Read-only file system"), std::string::npos) << refused.body;
  EXPECT_FALSE(refused.header("retry-after").empty());
  auto health = weir.Client()->Request("GET", "/health");
  ASSERT_TRUE(health);
  EXPECT_NE(health->body.find("Read-only file system"), std::string::npos) << health->body;

  ASSERT_TRUE((*disk)->Remount("size=4m")) << std::strerror(errno);
  int status = 0;
  for (int i = 0; i < 60 && status != 202; ++i) {  // retried at most once a second
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = weir.Post(Events(100, 10)).status;
  }
  ASSERT_EQ(status, 202) << weir.Log();
  ASSERT_EQ(weir.Post(kFlush).status, 202);
  ASSERT_EQ(weir.Stop(), 0) << weir.Log();
  std::string rows = weir.Query("per_key");
  for (int k = 0; k < 4; ++k) {  // events 100..109 only
    int n = 0;
    int64_t total = 0;
    for (int i = 100 + k; i < 110; i += 4) ++n, total += i;
    EXPECT_NE(rows.find(fmt::format(R"("k":"k{}","n":{},"total":{},)", k, n, total)), std::string::npos) << rows;
  }
}

// SIGTERM while clients are sending: weir stops accepting, drains, checkpoints and exits 0 in
// bounded time.
TEST(Durability, SigtermUnderLoadExitsCleanlyAndQuickly) {
  fs::path dir = TestDir();
  std::ofstream(dir / "pipeline.yaml") << Pipeline("", "1h");  // no checkpoint but the final one
  Server weir(dir, dir / "data");
  weir.Start();
  std::atomic<bool> stop{false};
  std::thread client([&] {
    auto c = weir.Client();
    for (int i = 0; !stop; ++i) {
      auto r = c->Request("POST", "/api/v1/events", Events(i * 10, 10), {{"Content-Type", "application/x-ndjson"}});
      if (!r) break;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(weir.Stop(std::chrono::seconds(10)), 0) << weir.Log();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  stop = true;
  client.join();
  EXPECT_NE(weir.Log().find("stopping"), std::string::npos);
  // The final checkpoint covers everything acknowledged: a restart restores it and has nothing
  // to replay.
  int checkpoints = 0;
  for (const auto& e : fs::directory_iterator(dir / "data" / "checkpoints"))
    checkpoints += e.path().extension() == ".ckpt";
  EXPECT_EQ(checkpoints, 1);
  weir.Start();
  std::string status = weir.Status();
  EXPECT_NE(status.find("\"restored_from\":1"), std::string::npos) << status;
  ASSERT_EQ(weir.Stop(), 0) << weir.Log();
  EXPECT_EQ(weir.Log().find("replayed"), std::string::npos) << weir.Log();
}

}  // namespace
