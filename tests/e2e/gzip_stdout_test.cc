// A bounded pipeline end to end: a gzip-compressed NDJSON file in, a metric's result rows out on
// standard output (the `stdout` sink); `weir run` ends by itself. The expected rows are counted
// here from the events the test generates.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "support/process.h"

namespace fs = std::filesystem;

namespace {

constexpr const char* kPipeline = R"(apiVersion: weir/v1
kind: Pipeline
metadata: { name: gzip-stdout }
spec:
  server: { enabled: false }
  sources:
    - { type: file, id: replay, config: { path: events.ndjson.gz } }
  metrics:
    - id: per_minute
      event_time: timestamp
      watermark: 1s
      window: { tumbling: 1m }
      group_by: { kind: kind }
      select: { n: count(), total: sum(amount) }
  sinks:
    - { type: stdout, id: console, from: "metric:per_minute" }
)";

constexpr int kEvents = 600;
constexpr int kStepMs = 250;  // 600 events over 2.5 minutes: windows 10:00, 10:01 and half of 10:02

TEST(GzipStdout, BoundedRunPrintsEveryWindowOnce) {
  fs::path dir = fs::path(::testing::TempDir()) / ("weir_gzip_stdout_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "pipeline.yaml") << kPipeline;

  // The events, gzip-compressed, and what the metric must make of them: per minute and kind,
  // the count and the sum of the amounts.
  struct Group {
    int n = 0;
    int total = 0;
  };
  std::map<std::pair<int, std::string>, Group> groups;  // (minute after 10:00, kind)
  std::string raw;
  for (int i = 0; i < kEvents; ++i) {
    int ms = i * kStepMs;
    std::string kind = fmt::format("k{}", i % 3);
    int amount = i % 7;
    raw += fmt::format(R"({{"timestamp":"2026-02-16T10:{:02}:{:02}.{:03}Z","kind":"{}","amount":{}}})", ms / 60000,
                       ms / 1000 % 60, ms % 1000, kind, amount);
    raw += '\n';
    Group& g = groups[{ms / 60000, kind}];
    ++g.n;
    g.total += amount;
  }
  const std::string gz = (dir / "events.ndjson.gz").string();
  gzFile out = gzopen(gz.c_str(), "wb");
  ASSERT_NE(out, nullptr);
  ASSERT_EQ(gzwrite(out, raw.data(), static_cast<unsigned>(raw.size())), static_cast<int>(raw.size()));
  ASSERT_EQ(gzclose(out), Z_OK);
  std::string compressed = weir::testing::ReadFile(gz);
  ASSERT_GE(compressed.size(), 2u);
  ASSERT_EQ(static_cast<unsigned char>(compressed[0]), 0x1f);  // really gzip, and smaller
  ASSERT_EQ(static_cast<unsigned char>(compressed[1]), 0x8b);
  ASSERT_LT(compressed.size(), raw.size());

  std::vector<std::string> expected;
  for (const auto& [key, g] : groups) {
    const auto& [minute, kind] = key;
    expected.push_back(fmt::format(
        R"({{"metric":"per_minute","window_start":"2026-02-16T10:{:02}:00.000Z","window_end":"2026-02-16T10:{:02}:00.000Z","kind":"{}","n":{},"total":{},"revision":1,"final":true}})",
        minute, minute + 1, kind, g.n, g.total));
  }
  ASSERT_EQ(expected.size(), 9u);  // 3 minutes x 3 kinds

  auto p = weir::testing::Process::Spawn(
      {WEIR_BINARY, "run", (dir / "pipeline.yaml").string(), "--data-dir", (dir / "data").string()}, {},
      (dir / "stderr.log").string(), (dir / "stdout.log").string());
  ASSERT_TRUE(p.started());
  ASSERT_EQ(p.Wait(std::chrono::seconds(30)), 0) << weir::testing::ReadFile((dir / "stderr.log").string());

  // Standard output holds the result rows and nothing else (logs go to stderr).
  std::string stdout_text = weir::testing::ReadFile((dir / "stdout.log").string());
  ASSERT_FALSE(stdout_text.empty());
  EXPECT_EQ(stdout_text.back(), '\n');
  std::vector<std::string> actual;
  for (size_t start = 0; start < stdout_text.size();) {
    size_t nl = stdout_text.find('\n', start);
    if (nl == std::string::npos) nl = stdout_text.size();
    actual.push_back(stdout_text.substr(start, nl - start));
    start = nl + 1;
  }
  std::sort(actual.begin(), actual.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(actual, expected);
  if (!HasFailure()) fs::remove_all(dir);
}

}  // namespace
