// Runs the checkpoint fuzz entry point over real checkpoint bodies (current version and version
// 1) and thousands of deterministic mutations of them, on every test run.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "weir/base/fuzz_mutation.h"
#include "weir/runtime/checkpoint_fuzz.cc"  // NOLINT: the entry point under test

namespace weir::runtime::checkpoint_fuzz {
namespace {

std::vector<std::string> Corpus() {
  std::vector<std::string> bodies;
  for (int shape = 0; shape < 3; ++shape) {
    Checkpoint cp;
    cp.id = 40 + shape;
    cp.created_at = 1767225600000;
    for (int p = 0; p <= shape; ++p)
      cp.positions.push_back({"source-" + std::to_string(p), uint32_t(p), 1000L * p - 1});
    if (shape > 0) cp.metrics.push_back({"revenue", 0x1234, std::string(50 * shape, '\x07')});
    if (shape > 1) cp.sources.push_back({"ingest", std::string("\x01\x00\x00\x00\x03key", 8)});
    std::string file = CheckpointStore::Encode(cp);
    bodies.push_back(file.substr(24));
  }
  // Version 1: the body without the source states.
  std::string v1 = bodies[1].substr(0, bodies[1].size() - 8);
  uint64_t one = 1;
  std::memcpy(v1.data(), &one, 8);
  bodies.push_back(v1);
  return bodies;
}

TEST(CheckpointFuzz, BodiesAndMutationsNeverCrash) {
  const auto corpus = Corpus();
  for (const auto& body : corpus) EXPECT_TRUE(CheckpointStore::Decode(Frame(body))) << body.size();
  std::mt19937_64 rng(20261207);
  size_t runs = 0;
  for (const std::string& seed : corpus) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(seed.data()), seed.size());
    for (int m = 0; m < 1000; ++m) {
      std::string s = weir::testing::Mutate(seed, rng, "");
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
      ++runs;
    }
  }
  EXPECT_EQ(runs, 4000u);
}

}  // namespace
}  // namespace weir::runtime::checkpoint_fuzz
