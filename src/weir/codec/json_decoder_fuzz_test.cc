// Runs the fuzz entry point over a corpus of valid and broken inputs and thousands of
// deterministic mutations of them, so the target is exercised on every test run.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

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
};

TEST(JsonDecoderFuzz, CorpusAndMutationsNeverCrash) {
  std::mt19937_64 rng(12345);
  const std::string alphabet = "{}[]\":,\\ \n0123456789.eE+-truefalsenullabcop";
  size_t runs = 0;
  for (const std::string& seed : kCorpus) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(seed.data()), seed.size());
    for (int m = 0; m < 400; ++m) {
      std::string s = seed;
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) {
        size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
        switch (rng() % 4) {
          case 0: s.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
          case 1: if (pos < s.size()) s.erase(pos, 1); break;
          case 2: if (pos < s.size()) s[pos] = static_cast<char>(rng() % 256); break;
          case 3: s.insert(pos, s.substr(0, std::min<size_t>(s.size(), rng() % 16))); break;
        }
      }
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
      ++runs;
    }
  }
  EXPECT_GT(runs, 4000u);
}

}  // namespace
