// `weir bench PIPELINE --input FILE`: runs a bounded pipeline over the file into a scratch store
// and reports events, times, peak RSS and result rows; the rows are those `weir run` stores.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <regex>

#include <fmt/format.h>

#include "support/process.h"

namespace fs = std::filesystem;
using weir::testing::Process;

namespace {

struct Ran {
  int code;
  std::string out, err;
};

Ran Weir(const std::vector<std::string>& argv, const fs::path& dir, const std::string& name,
         const std::map<std::string, std::string>& env = {}) {
  const std::string out = (dir / (name + ".out")).string(), err = (dir / (name + ".err")).string();
  auto p = Process::Spawn(argv, env, err, out);
  int code = p.Wait(std::chrono::seconds(120));
  return {code, weir::testing::ReadFile(out), weir::testing::ReadFile(err)};
}

std::string Field(const std::string& text, const std::string& label) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(label + R"( +([^\n]+))"))) return "";
  return m[1];
}

TEST(BenchCommand, ReportsTheRunAndTheRowsRunStores) {
  fs::path dir = fs::path(::testing::TempDir()) / fmt::format("weir_bench_command_{}", getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path input = dir / "events.ndjson";
  ASSERT_EQ(Weir({WEIR_BINARY, "simulate", "--count", "100000", "--seed", "3", "--output", input.string()}, dir, "sim").code, 0);
  const std::string q1 = (fs::path(WEIR_SOURCE_DIR) / "bench/queries/q1_revenue_per_minute.yaml").string();

  for (const char* workers : {"1", "2"}) {
    Ran bench = Weir({WEIR_BINARY, "bench", q1, "--input", input.string(), "--workers", workers}, dir, "bench");
    ASSERT_EQ(bench.code, 0) << bench.err;
    EXPECT_EQ(Field(bench.out, "events"), "100000") << bench.out;
    EXPECT_NE(Field(bench.out, "wall").find(" s"), std::string::npos) << bench.out;
    EXPECT_NE(Field(bench.out, "CPU").find("user"), std::string::npos) << bench.out;
    EXPECT_GT(std::stod(Field(bench.out, "events/CPU-s")), 0) << bench.out;
    EXPECT_GT(std::stod(Field(bench.out, "peak RSS")), 1) << bench.out;

    // The same pipeline under `weir run`, then its rows read back.
    const fs::path data = dir / fmt::format("data{}", workers);
    ASSERT_EQ(Weir({WEIR_BINARY, "run", q1, "--workers", workers, "--data-dir", data.string()}, dir, "run",
                   {{"BENCH_INPUT", input.string()}})
                  .code,
              0);
    Ran rows = Weir({WEIR_BINARY, "query", "--data-dir", data.string(), "revenue_per_minute"}, dir, "query");
    ASSERT_EQ(rows.code, 0) << rows.err;
    const size_t stored = static_cast<size_t>(std::count(rows.out.begin(), rows.out.end(), '\n'));
    EXPECT_GT(stored, 5u);
    EXPECT_EQ(Field(bench.out, "result rows"), fmt::format("revenue_per_minute {}", stored)) << bench.out;
  }
}

TEST(BenchCommand, RefusesAPipelineThatNeverEnds) {
  fs::path dir = fs::path(::testing::TempDir()) / fmt::format("weir_bench_command_unbounded_{}", getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path input = dir / "events.ndjson";
  ASSERT_EQ(Weir({WEIR_BINARY, "simulate", "--count", "10", "--output", input.string()}, dir, "sim").code, 0);
  Ran bench = Weir({WEIR_BINARY, "bench", (fs::path(WEIR_SOURCE_DIR) / "examples/quickstart.yaml").string(), "--input",
                    input.string()},
                   dir, "bench");
  EXPECT_EQ(bench.code, 2);
  EXPECT_NE(bench.err.find("needs every source to be bounded"), std::string::npos) << bench.err;
}

}  // namespace
