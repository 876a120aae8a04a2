// Runs the fuzz entry point over a corpus of valid and broken inputs and thousands of
// deterministic mutations of them, so the target is exercised on every test run.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "weir/base/fuzz_mutation.h"
#include "weir/codec/json_decoder_fuzz.cc"  // NOLINT: the entry point under test

namespace {

const std::vector<std::string> kCorpus = {
    R"({"a":{"b":{"c":1}},"status":"x","properties":{"amount":"12.5"}})",
    R"({"op":"u","before":{"status":"a"},"after":{"status":"b"},"ts_ms":5})",
    R"({"payload":{"op":"d","before":{"status":"a"}}})",
    R"({"events":[{"a":1},2,{"x":{"y":[1,2,{"z":null}]}}]})",
    "{\"a\":\"\\u00e9\\n\\\"\"}\n{\"a\":true}\n\n{bad}\n[1]\n",
    R"([{"a":1},{"a":2}])",
    R"({"a":1e400,"x":{"y":-0.0},"status":18446744073709551616})",
    "{\"a\":\"\xff\xfe\"}",
    "",
    "   ",
    "{",
    R"({"a":{"b":"not an object","b":{"c":2}}})",
    // Long lines, for prefix reads: the needed fields around the 128- and 256-byte cuts.
    "{\"status\":\"" + std::string(100, 's') + "\",\"a\":{\"b\":{\"c\":\"\xc3\xa9\xc3\xa9\"}},\"ts_ms\":12345," +
        "\"properties\":{\"amount\":12.5},\"tail\":\"" + std::string(300, 't') + "\"}\n{\"x\":{\"y\":[" +
        std::string(200, '1') + "]},\"ts_ms\":\"2026-01-01T00:00:00Z\",\"op\":\"" + std::string(250, 'o') + "\"}",
    // Lines the gate keeps (`status` "ok" in the first bytes): long prefix reads.
    "{\"status\":\"ok\",\"ts_ms\":\"2026-01-01T00:00:00.250Z\",\"pad\":\"" + std::string(150, 'p') +
        "\",\"a\":{\"b\":{\"c\":7}},\"properties\":{\"amount\":1.5},\"x\":{\"y\":1},\"tail\":\"" +
        std::string(200, 't') + "\"}\n{\"ts_ms\":9,\"status\":\"ok\",\"a\":\"" + std::string(230, 'a') +
        "\",\"properties\":{\"amount\":2},\"tail\":\"" + std::string(100, 't') + "\"}",
};

TEST(JsonDecoderFuzz, CorpusAndMutationsNeverCrash) {
  std::mt19937_64 rng(12345);
  const std::string alphabet = "{}[]\":,\\ \n0123456789.eE+-truefalsenullabcop";
  size_t runs = 0;
  for (const std::string& seed : kCorpus) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(seed.data()), seed.size());
    for (int m = 0; m < 400; ++m) {
      std::string s = weir::testing::Mutate(seed, rng, alphabet);
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
      ++runs;
    }
  }
  EXPECT_GT(runs, 4000u);
}

}  // namespace
