// Runs every case under tests/pipelines/<case>/ through the weir binary:
//   pipeline.yaml   the pipeline; ${CASE_DIR} is the case directory, ${OUT_DIR} a fresh output
//                   directory; sources must be bounded so that `weir run` ends by itself
//   input*.ndjson   input files the pipeline reads
//   expected*.ndjson  for each, the sink output ${OUT_DIR}/<same name without "expected">.ndjson
//                   must hold exactly these lines (order-insensitive: lines are sorted)
// A case may also hold `args` (extra command-line arguments, one per line).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "support/process.h"

namespace fs = std::filesystem;

namespace {

std::vector<std::string> Cases() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(fs::path(WEIR_SOURCE_DIR) / "tests" / "pipelines"))
    if (e.is_directory() && fs::exists(e.path() / "pipeline.yaml")) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Each case runs with 1 and with 3 workers: the output must be the same.
class PipelineCase : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(PipelineCase, ProducesExpectedOutput) {
  const auto& [name, workers] = GetParam();
  fs::path dir = fs::path(WEIR_SOURCE_DIR) / "tests" / "pipelines" / name;
  fs::path out = fs::path(::testing::TempDir()) /
                 ("weir_case_" + name + "_" + std::to_string(workers) + "_" + std::to_string(getpid()));
  fs::remove_all(out);
  fs::create_directories(out);
  std::vector<std::string> argv = {WEIR_BINARY, "run", (dir / "pipeline.yaml").string(), "--data-dir",
                                   (out / "data").string(), "--workers", std::to_string(workers)};
  if (fs::exists(dir / "args"))
    for (const auto& a : weir::testing::ReadLines((dir / "args").string())) argv.push_back(a);
  auto p = weir::testing::Process::Spawn(argv, {{"CASE_DIR", dir.string()}, {"OUT_DIR", out.string()}},
                                         (out / "stderr.log").string());
  ASSERT_TRUE(p.started());
  int code = p.Wait(std::chrono::seconds(60));
  ASSERT_EQ(code, 0) << weir::testing::ReadFile((out / "stderr.log").string());

  int compared = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.rfind("expected", 0) != 0 || e.path().extension() != ".ndjson") continue;
    std::string actual_name = name.substr(8);
    if (actual_name.empty() || actual_name == ".ndjson") actual_name = "out.ndjson";
    else if (actual_name[0] == '_' || actual_name[0] == '-') actual_name = actual_name.substr(1);
    auto expected = weir::testing::ReadLines(e.path().string());
    auto actual = weir::testing::ReadLines((out / actual_name).string());
    std::sort(expected.begin(), expected.end());
    std::sort(actual.begin(), actual.end());
    EXPECT_EQ(actual, expected) << "output " << actual_name << " of case " << name << " with " << workers
                                << " workers";
    ++compared;
  }
  EXPECT_GT(compared, 0) << "case has no expected*.ndjson";
  if (!HasFailure()) fs::remove_all(out);
}

INSTANTIATE_TEST_SUITE_P(Cases, PipelineCase, ::testing::Combine(::testing::ValuesIn(Cases()), ::testing::Values(1, 3)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_workers" + std::to_string(std::get<1>(info.param));
                         });

}  // namespace
