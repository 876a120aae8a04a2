// Crash recovery through the weir binary: a pipeline killed with SIGKILL at random moments and
// restarted from its last checkpoint (with another number of workers each time) ends with
// exactly the results of an uninterrupted run.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "support/process.h"

namespace fs = std::filesystem;

namespace {

constexpr const char* kPipeline = R"(apiVersion: weir/v1
kind: Pipeline
metadata: { name: recovery }
spec:
  server: { enabled: false }
  durability: { checkpoint: { interval: 100ms } }
  sources:
    - { type: file, id: replay, config: { path: "${INPUT}", chunk_bytes: 64KiB } }
  metrics:
    - id: revenue
      where: event_type = 'purchase_completed'
      event_time: timestamp
      watermark: 5s
      window: { tumbling: 1m }
      group_by: { currency: properties.currency }
      select: { orders: count(), revenue: sum(properties.amount), top: max(properties.amount) }
    - id: top_products
      where: event_type = 'product_view'
      event_time: timestamp
      watermark: 5s
      window: { sliding: 2m, every: 1m }
      group_by: { product: properties.product_id }
      select: { views: count() }
      order_by: views desc
      limit: 5
    - id: sessions
      event_time: timestamp
      watermark: 5s
      window: { session: 20s }
      group_by: { user: user_id }
      select: { events: count(), users: count_distinct(user_id) }
  sinks:
    - { type: file, id: out, from: "metric:revenue", config: { path: "${OUT}" } }
)";

std::string RunWeir(const std::vector<std::string>& args, const fs::path& log) {
  auto p = weir::testing::Process::Spawn(args, {}, log.string() + ".err", log.string());
  int code = p.Wait(std::chrono::seconds(60));
  EXPECT_EQ(code, 0) << weir::testing::ReadFile(log.string() + ".err");
  return weir::testing::ReadFile(log.string());
}

// Equal, or the first line that differs (a plain EXPECT_EQ would diff megabytes line by line).
::testing::AssertionResult SameLines(const std::string& got, const std::string& want) {
  if (got == want) return ::testing::AssertionSuccess();
  std::istringstream g(got), w(want);
  std::string gl, wl;
  for (int line = 1;; ++line) {
    bool more_g = static_cast<bool>(std::getline(g, gl)), more_w = static_cast<bool>(std::getline(w, wl));
    if (!more_g && !more_w) break;
    if (gl != wl || more_g != more_w)
      return ::testing::AssertionFailure() << "line " << line << ":\n  got:  " << (more_g ? gl : "<end>")
                                           << "\n  want: " << (more_w ? wl : "<end>");
  }
  return ::testing::AssertionFailure() << "differ";
}

TEST(Recovery, KilledAndRestartedRunsMatchAnUninterruptedRun) {
  fs::path dir = fs::path(::testing::TempDir()) / ("weir_recovery_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::path input = dir / "events.ndjson";
  RunWeir({WEIR_BINARY, "simulate", "--count", "300000", "--seed", "3", "--output", input.string()}, dir / "sim.log");
  std::ofstream(dir / "pipeline.yaml") << kPipeline;
  setenv("INPUT", input.c_str(), 1);

  // Kills the run at random moments (SIGKILL, no chance to clean up) up to `max_kills` times,
  // restarting it each time, then lets it finish. Interrupted runs restart with 1, 2 or 3
  // workers in turn: a checkpoint restores into any number of state shards.
  auto run_to_end = [&](const fs::path& data, std::mt19937* rng, int max_kills, int* kills) {
    for (int attempt = 0;; ++attempt) {
      const std::string workers = rng ? std::to_string(1 + (attempt + 2) % 3) : "2";
      auto p = weir::testing::Process::Spawn(
          {WEIR_BINARY, "run", (dir / "pipeline.yaml").string(), "--data-dir", data.string(), "--workers", workers},
          {{"OUT", (data.string() + "-out.ndjson")}}, (dir / "run.err").string());
      if (rng && *kills < max_kills) {
        std::this_thread::sleep_for(std::chrono::milliseconds(30 + (*rng)() % 270));
        if (p.Wait(std::chrono::milliseconds(0)) == -1) {  // still running: Wait(0) killed it
          ++*kills;
          continue;
        }
        return;
      }
      ASSERT_EQ(p.Wait(std::chrono::seconds(60)), 0) << weir::testing::ReadFile((dir / "run.err").string());
      return;
    }
  };
  int kills = 0;
  run_to_end(dir / "clean", nullptr, 0, &kills);
  std::mt19937 rng(20261123);
  run_to_end(dir / "crashed", &rng, 6, &kills);
  EXPECT_GE(kills, 3) << "the run finished too fast to be interrupted";

  for (const char* metric : {"revenue", "top_products", "sessions"}) {
    std::string clean = RunWeir({WEIR_BINARY, "query", "--data-dir", (dir / "clean").string(), metric}, dir / "q1");
    std::string crashed = RunWeir({WEIR_BINARY, "query", "--data-dir", (dir / "crashed").string(), metric}, dir / "q2");
    EXPECT_FALSE(clean.empty());
    EXPECT_TRUE(SameLines(crashed, clean)) << metric << " after " << kills << " kills";
  }
  // The file sink, taken back to its checkpointed length at each restart, holds every row once.
  std::string clean_out = weir::testing::ReadFile((dir / "clean").string() + "-out.ndjson");
  EXPECT_FALSE(clean_out.empty());
  EXPECT_TRUE(SameLines(weir::testing::ReadFile((dir / "crashed").string() + "-out.ndjson"), clean_out));
  if (!HasFailure()) fs::remove_all(dir);
}

}  // namespace
