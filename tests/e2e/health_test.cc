// /health through the weir binary, in the shape of seed 001 (status, timestamp, services,
// metrics): 200 while every required part works, 503 naming the part and the reason once one
// is down; here the HTTP source's write-ahead log, on a disk that fills up.
#include <gtest/gtest.h>

#include <simdjson.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "support/process.h"
#include "support/tmpfs.h"
#include "weir/base/time.h"
#include "weir/server/http_client.h"

namespace fs = std::filesystem;
using weir::server::HttpClient;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPipeline = R"(apiVersion: weir/v1
kind: Pipeline
metadata: { name: health }
spec:
  durability: { checkpoint: { interval: 1h }, fsync: always, segment_bytes: 64KiB }
  sources:
    - { type: http, id: ingest }
  metrics:
    - id: per_key
      event_time: ts
      watermark: 0s
      window: { tumbling: 1h }
      group_by: { k: k }
      select: { n: count() }
)";

std::string Events(int first, int n) {
  std::string body;
  for (int i = first; i < first + n; ++i)
    body += fmt::format(R"({{"ts":{},"k":"k{}","pad":"{}"}})", 1767225600000 + i, i % 4, std::string(64, 'x')) + "\n";
  return body;
}

struct Health {
  int status = 0;
  std::string body, state;  // state: the top-level "status"
  simdjson::dom::element doc;
};

// Checks seed 001's shape and returns the answer's parts.
Health Check(HttpClient& client, simdjson::dom::parser& parser) {
  Health h;
  auto r = client.Request("GET", "/health");
  EXPECT_TRUE(r) << r.error().message;
  if (!r) return h;
  h.status = r->status;
  h.body = r->body;
  EXPECT_EQ(r->header("content-type").substr(0, 16), "application/json");
  EXPECT_FALSE(parser.parse(h.body).get(h.doc)) << h.body;
  std::string_view state, timestamp;
  EXPECT_FALSE(h.doc["status"].get(state)) << h.body;
  h.state = std::string(state);
  EXPECT_FALSE(h.doc["timestamp"].get(timestamp)) << h.body;
  auto t = weir::ParseIso8601(timestamp);
  EXPECT_TRUE(t) << h.body;
  if (t) {
    EXPECT_LT(std::abs(*t - weir::NowMillis()), 60000) << h.body;
  }
  simdjson::dom::object services;
  EXPECT_FALSE(h.doc["services"].get(services)) << h.body;
  for (const char* part : {"pipeline", "store", "checkpoints", "source:ingest"}) {
    std::string_view s;
    EXPECT_FALSE(h.doc["services"][part]["status"].get(s)) << part << " " << h.body;
  }
  uint64_t n = 0;
  EXPECT_FALSE(h.doc["metrics"]["totalEvents"].get(n)) << h.body;
  EXPECT_FALSE(h.doc["metrics"]["storeBytes"].get(n)) << h.body;
  return h;
}

TEST(Health, AWriteAheadLogThatCannotWriteAnswers503NamingIt) {
  fs::path dir = fs::path(::testing::TempDir()) / ("weir_health_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::path small = dir / "small";
  auto disk = weir::testing::Tmpfs::Mount(small, "size=3m");
  if (!disk) GTEST_SKIP() << disk.error();
  std::ofstream(dir / "pipeline.yaml") << kPipeline;
  auto proc =
      weir::testing::Process::Spawn({WEIR_BINARY, "run", (dir / "pipeline.yaml").string(), "--listen", "127.0.0.1:0",
                                     "--port-file", (dir / "port").string(), "--data-dir", (small / "data").string()},
                                    {}, (dir / "weir.log").string());
  for (int i = 0; i < 500 && !fs::exists(dir / "port"); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(fs::exists(dir / "port")) << weir::testing::ReadFile((dir / "weir.log").string());
  auto client = HttpClient::Connect("127.0.0.1",
                                    static_cast<uint16_t>(std::stoi(weir::testing::ReadFile((dir / "port").string()))));
  ASSERT_TRUE(client) << client.error().message;
  simdjson::dom::parser parser;

  Health h = Check(**client, parser);
  EXPECT_EQ(h.status, 200) << h.body;
  EXPECT_EQ(h.state, "healthy") << h.body;
  simdjson::dom::object services = h.doc["services"].get_object().value();
  for (auto field : services)
    EXPECT_EQ(field.value["status"].get_string().value(), "healthy") << field.key << " " << h.body;

  // Fill the disk through the log.
  int64_t acked = 0;
  std::string refusal;
  for (int i = 0; i < 2000 && refusal.empty(); ++i) {
    auto r =
        (*client)->Request("POST", "/api/v1/events", Events(i * 100, 100), {{"Content-Type", "application/x-ndjson"}});
    ASSERT_TRUE(r) << r.error().message;
    if (r->status == 202)
      acked += 100;
    else if (r->status == 503)
      refusal = r->body;
    else
      FAIL() << r->status << " " << r->body;
  }
  ASSERT_NE(refusal.find("No space left on device"), std::string::npos) << refusal;
  ASSERT_GT(acked, 0);

  h = Check(**client, parser);
  EXPECT_EQ(h.status, 503) << h.body;
  EXPECT_EQ(h.state, "unhealthy") << h.body;
  std::string_view source_state, detail;
  EXPECT_FALSE(h.doc["services"]["source:ingest"]["status"].get(source_state)) << h.body;
  EXPECT_EQ(source_state, "unhealthy") << h.body;
  EXPECT_FALSE(h.doc["services"]["source:ingest"]["detail"].get(detail)) << h.body;
  EXPECT_NE(detail.find("write-ahead log: "), std::string_view::npos) << h.body;
  EXPECT_NE(detail.find("No space left on device"), std::string_view::npos) << h.body;
  EXPECT_EQ(h.doc["services"]["pipeline"]["status"].get_string().value(), "healthy") << h.body;  // the rest works
  EXPECT_EQ(h.doc["metrics"]["totalEvents"].get_int64().value(), acked) << h.body;
  // It stays so: later requests fail fast, and /health keeps saying why.
  auto r = (*client)->Request("POST", "/api/v1/events", Events(0, 1), {{"Content-Type", "application/x-ndjson"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(Check(**client, parser).status, 503);

  client->reset();
  proc.Signal(SIGTERM);
  proc.Wait(20s);  // the final checkpoint may fail on the full disk: the exit code is not the point here
  disk->reset();   // unmounted
  if (!HasFailure()) fs::remove_all(dir);
}

}  // namespace
