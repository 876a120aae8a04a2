// `weir validate` and `weir run` report every error of a pipeline file in one run: those the
// loader finds (shape, durations, references) and those planning finds (expressions, types,
// connector settings), each with file:line:column and key path, in file order.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "support/process.h"

namespace fs = std::filesystem;

namespace {

// Line numbers on the right; each error is listed in kExpected below.
constexpr const char* kBroken = R"(apiVersion: weir/v1
kind: Pipeline
metadata: { name: broken }
spec:
  server: { enabled: false }
  sources:
    - type: file
      id: replay
      config: { path: missing.ndjson, check: all }
    - type: kafak
      id: stream
  processors:
    - type: filter
      where: "lowr(event_type) = 'purchase'"
    - type: set
      id: enrich
  metrics:
    - id: revenue
      event_time: timestamp
      watermark: 5 parsecs
      window: { tumbling: 1m }
      group_by: { currency: properties.currency }
      select:
        total: sum(properties.amount
  sinks:
    - { type: file, id: out, from: "metric:revenu", config: { path: out.ndjson } }
    - { type: stdout, id: console, from: events, config: { colour: true } }
)";

struct Expected {
  const char* stage;    // which stage finds it (documentation only)
  const char* prefix;   // "line:column: key path: " after the file name
  const char* message;  // a part of the message
};

// Columns worked out from kBroken by hand (1-based; an expression error points into the
// expression: `lowr` is its first character, the missing ')' one past its end).
const Expected kExpected[] = {
    {"plan", "9:23: spec.sources[0].config.path: ", "missing.ndjson' does not exist"},
    {"plan", "9:46: spec.sources[0].config.check: ", "'all'"},
    {"plan", "10:7: spec.sources[1]: ", "unknown source type 'kafak'"},
    {"plan", "14:15: spec.processors[0].where: ", "unknown function 'lowr'"},
    {"load", "15:7: spec.processors[1].fields: ", "missing required key 'fields'"},
    {"load", "20:18: spec.metrics[0].watermark: ", "5 parsecs"},
    {"plan", "24:37: spec.metrics[0].select.total: ", "expected ')' after arguments of 'sum'"},
    {"load", "26:36: spec.sinks[0].from: ", "unknown metric 'revenu' (did you mean 'revenue'?)"},
    {"plan", "27:60: spec.sinks[1].config.colour: ", "colour"},
};

class Validate : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("weir_validate_" + std::to_string(getpid()) + "_" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    file_ = (dir_ / "broken.yaml").string();
    std::ofstream(file_) << kBroken;
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  /// Runs weir with `args` + the file; returns the exit code, stderr in `err`.
  int Weir(std::vector<std::string> args, std::string& err) {
    args.insert(args.begin(), WEIR_BINARY);
    args.push_back(file_);
    auto p = weir::testing::Process::Spawn(args, {}, (dir_ / "stderr.log").string(), (dir_ / "stdout.log").string());
    EXPECT_TRUE(p.started());
    int code = p.Wait(std::chrono::seconds(30));
    err = weir::testing::ReadFile((dir_ / "stderr.log").string());
    return code;
  }

  /// Every expected error is reported, once, in file order, and nothing else is.
  void ExpectAllErrors(const std::string& err) {
    size_t last = 0;
    for (const Expected& e : kExpected) {
      std::string want = file_ + ":" + e.prefix;
      size_t at = err.find(want);
      ASSERT_NE(at, std::string::npos) << "missing (" << e.stage << " stage): " << want << "\n" << err;
      size_t eol = err.find('\n', at);
      std::string line = err.substr(at, eol - at);
      EXPECT_NE(line.find(e.message), std::string::npos) << line;
      EXPECT_EQ(err.find(want, at + 1), std::string::npos) << "reported twice: " << want << "\n" << err;
      EXPECT_GE(at, last) << "out of file order: " << line;
      last = at;
    }
    size_t n = std::size(kExpected);
    EXPECT_NE(err.find(fmt::format("{}: {} errors\n", file_, n)), std::string::npos) << err;
    size_t lines = 0;
    for (size_t at = err.find(file_ + ":"); at != std::string::npos; at = err.find(file_ + ":", at + 1)) ++lines;
    EXPECT_EQ(lines, n + 1) << "unexpected diagnostics:\n" << err;  // the errors + the count line
  }

  fs::path dir_;
  std::string file_;
};

TEST_F(Validate, ReportsLoadAndPlanErrorsInOneRun) {
  std::string err;
  EXPECT_EQ(Weir({"validate"}, err), 1);
  ExpectAllErrors(err);
  // The plan stage's own words for the set without fields repeat the loader's: left out.
  EXPECT_EQ(err.find("set needs 'fields'"), std::string::npos) << err;
  EXPECT_EQ(weir::testing::ReadFile((dir_ / "stdout.log").string()), "");
}

TEST_F(Validate, RunReportsTheSameErrorsAndDoesNotStart) {
  std::string err;
  EXPECT_EQ(Weir({"run", "--data-dir", (dir_ / "data").string()}, err), 2);
  ExpectAllErrors(err);
  EXPECT_FALSE(fs::exists(dir_ / "data"));
}

}  // namespace
