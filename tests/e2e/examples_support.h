// Running the pipelines under examples/ on simulated input, and reading the same simulated
// events back for brute-force checks (tests/e2e/examples_test.cc, tests/e2e/seed004_test.cc).
//
//   fs::path dir = weir::testing::ExampleTempDir("ecommerce");
//   auto events = weir::testing::SimulateShop(40000, 42, dir);   // as `weir simulate` writes them
//   for (const ShopEvent& e : events) if (e.type == "purchase_completed") ...
#pragma once

#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "support/process.h"
#include "weir/base/time.h"

namespace weir::testing {

inline std::filesystem::path Examples() { return std::filesystem::path(WEIR_SOURCE_DIR) / "examples"; }

/// A fresh directory for one test's files.
inline std::filesystem::path ExampleTempDir(std::string_view name) {
  std::filesystem::path d =
      std::filesystem::path(::testing::TempDir()) / fmt::format("weir_examples_{}_{}", name, getpid());
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

/// Runs the weir binary to its end (expecting exit code 0) and returns what it printed.
inline std::string RunWeir(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                           const std::filesystem::path& out) {
  auto p = Process::Spawn(argv, env, out.string() + ".err", out.string());
  EXPECT_EQ(p.Wait(std::chrono::seconds(120)), 0) << ReadFile(out.string() + ".err");
  return ReadFile(out.string());
}

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    if (nl > at) out.push_back(text.substr(at, nl - at));
    at = nl + 1;
  }
  return out;
}

/// The environment that runs an example on `events` simulated events only, as fast as
/// possible and deterministically (see the simulator source in examples/*.yaml).
inline std::map<std::string, std::string> BoundedExampleEnv(int events, const std::filesystem::path& dir) {
  return {{"SIM_COUNT", std::to_string(events)},
          {"SIM_RATE", "0"},
          {"SIM_REALTIME", "false"},
          {"HTTP_INGEST", "false"},
          {"WEIR_LISTEN", "127.0.0.1:0"},
          {"LATE_FILE", (dir / "late.ndjson").string()}};
}

/// One event of the ecommerce scenario, with the fields the examples aggregate.
struct ShopEvent {
  std::string type, user, country, platform, currency;  ///< currency: purchases and refunds
  Timestamp time = 0;
  double amount = 0;  ///< purchases and refunds
};

/// The events `weir simulate --scenario ecommerce` writes (the example's simulator source with
/// the same seed, count and event-time rate generates the same ones).
inline std::vector<ShopEvent> SimulateShop(int count, int seed, const std::filesystem::path& dir,
                                           int events_per_second = 1000) {
  std::string text = RunWeir({WEIR_BINARY, "simulate", "--scenario", "ecommerce", "--count", std::to_string(count),
                              "--seed", std::to_string(seed), "--rate", std::to_string(events_per_second)},
                             {}, dir / "events.ndjson");
  std::vector<ShopEvent> out;
  simdjson::dom::parser parser;
  for (const auto& line : Lines(text)) {
    simdjson::dom::element e = parser.parse(line);
    ShopEvent s;
    s.type = std::string(e["event_type"].get_string().value());
    s.user = std::string(e["user_id"].get_string().value());
    auto t = ParseIso8601(e["timestamp"].get_string().value());
    EXPECT_TRUE(t) << line;
    s.time = t ? *t : 0;
    simdjson::dom::element props = e["properties"], v;
    if (!props["country"].get(v)) s.country = std::string(v.get_string().value());
    if (!props["currency"].get(v)) s.currency = std::string(v.get_string().value());
    if (!props["amount"].get(v)) s.amount = v.get_double().value();
    if (!e["metadata"]["platform"].get(v)) s.platform = std::string(v.get_string().value());
    out.push_back(std::move(s));
  }
  EXPECT_EQ(out.size(), static_cast<size_t>(count));
  return out;
}

}  // namespace weir::testing
