// Runs the saved-state fuzz entry point over real checkpoints of its metrics (fed events, so
// that every aggregate, pane, session and pending deletion holds something) and thousands of
// deterministic mutations of them, so the target is exercised on every test run.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "weir/base/fuzz_mutation.h"
#include "weir/codec/json_decoder.h"
#include "weir/operators/state_fuzz.cc"  // NOLINT: the entry point under test

namespace weir::operators::state_fuzz {
namespace {

/// Saved states of each metric, unpartitioned and in two and three shards, after events that
/// leave windows open, fired, and changed by late records and retractions.
std::vector<std::string> Corpus() {
  Metrics metrics({1, 2, 3});
  codec::JsonDecoder decoder(metrics.layout, {.envelopes = true});
  std::string ndjson;
  const char* groups[] = {"a", "b", "c", "d"};
  const char* users[] = {"u1", "u2", "a-much-longer-user-name-than-fifteen-bytes", "u4"};
  for (int i = 0; i < 200; ++i) {
    int64_t ts = 1700000000000 + i * 1500 - (i % 7 == 0 ? 20000 : 0);  // some late
    std::string row = "{\"ts\":" + std::to_string(ts) + ",\"g\":\"" + groups[i % 4] + "\",\"s\":\"" + users[i % 4] +
                      "\",\"v\":" + std::to_string((i * 37) % 101) + "}";
    ndjson += row + "\n";
    if (i % 11 == 0) ndjson += "{\"op\":\"d\",\"before\":" + row + "}\n";
  }
  Sink sink;
  std::vector<std::string> states;
  for (auto& m : metrics.all) {
    auto buf = codec::PaddedBuffer::Copy(ndjson);
    Batch b(metrics.layout.width());
    b.Hold(buf);
    decoder.DecodeNdjson(*buf, b, nullptr);
    m->Process(b, sink);
    states.emplace_back();
    m->SaveState(states.back());
  }
  return states;
}

TEST(StateFuzz, SavedStatesAndMutationsNeverCrash) {
  const std::vector<std::string> corpus = Corpus();
  ASSERT_EQ(corpus.size(), 9u);
  // The real states restore.
  Metrics check;
  for (size_t i = 0; i < corpus.size(); ++i)
    EXPECT_TRUE(check.all[i % 3]->RestoreState(corpus[i])) << "state " << i;
  std::mt19937_64 rng(20261124);
  size_t runs = 0;
  for (const std::string& seed : corpus) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(seed.data()), seed.size());
    for (int m = 0; m < 300; ++m) {
      std::string s = weir::testing::Mutate(seed, rng, "");
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
      ++runs;
    }
  }
  EXPECT_EQ(runs, 2700u);
}

}  // namespace
}  // namespace weir::operators::state_fuzz
