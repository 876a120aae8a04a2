#include "weir/runtime/checkpoint.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "weir/base/hash.h"

namespace weir::runtime {
namespace {

namespace fs = std::filesystem;

fs::path TestDir() {
  fs::path dir =
      fs::path(::testing::TempDir()) /
      fmt::format("weir_ckpt_{}_{}", getpid(), ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(dir);
  return dir;
}

Checkpoint Sample(uint64_t id) {
  Checkpoint cp;
  cp.id = id;
  cp.created_at = 1767225600000 + static_cast<int64_t>(id);
  cp.positions = {{"ingest", 0, static_cast<int64_t>(id * 100)}, {"orders", 3, -7}, {"sink:out", 0, 42}};
  cp.metrics = {{"revenue", 0xfeedULL, std::string("state\0bytes", 11)}, {"views", 1, ""}};
  cp.sources = {{"ingest", fmt::format("keys of {}", id)}};
  return cp;
}

std::vector<std::string> Files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

void ExpectSame(const Checkpoint& a, const Checkpoint& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.created_at, b.created_at);
  ASSERT_EQ(a.positions.size(), b.positions.size());
  for (size_t i = 0; i < a.positions.size(); ++i) {
    EXPECT_EQ(a.positions[i].source, b.positions[i].source);
    EXPECT_EQ(a.positions[i].partition, b.positions[i].partition);
    EXPECT_EQ(a.positions[i].position, b.positions[i].position);
  }
  ASSERT_EQ(a.metrics.size(), b.metrics.size());
  for (size_t i = 0; i < a.metrics.size(); ++i) {
    EXPECT_EQ(a.metrics[i].metric, b.metrics[i].metric);
    EXPECT_EQ(a.metrics[i].fingerprint, b.metrics[i].fingerprint);
    EXPECT_EQ(a.metrics[i].state, b.metrics[i].state);
  }
  ASSERT_EQ(a.sources.size(), b.sources.size());
  for (size_t i = 0; i < a.sources.size(); ++i) {
    EXPECT_EQ(a.sources[i].source, b.sources[i].source);
    EXPECT_EQ(a.sources[i].state, b.sources[i].state);
  }
}

TEST(CheckpointStore, RoundTripsEverythingAndKeepsTheNewestN) {
  fs::path dir = TestDir();
  CheckpointStore store(dir.string(), 3);
  for (uint64_t id = 1; id <= 5; ++id) {
    auto bytes = store.Write(Sample(id));
    ASSERT_TRUE(bytes) << bytes.error().message;
    EXPECT_EQ(*bytes, CheckpointStore::Encode(Sample(id)).size());
  }
  EXPECT_EQ(Files(dir), (std::vector<std::string>{"ckpt-00000000000000000003.ckpt", "ckpt-00000000000000000004.ckpt",
                                                  "ckpt-00000000000000000005.ckpt"}));
  std::vector<std::string> skipped;
  auto latest = store.LoadLatest(&skipped);
  ASSERT_TRUE(latest && *latest);
  ExpectSame(**latest, Sample(5));
  EXPECT_TRUE(skipped.empty());
  EXPECT_EQ((*latest)->PositionOf("orders", 3), -7);
  EXPECT_FALSE((*latest)->PositionOf("orders", 0));
  EXPECT_EQ((*latest)->StateOf("ingest"), "keys of 5");
  EXPECT_EQ((*latest)->StateOf("orders"), "");
}

TEST(CheckpointStore, DamagedNewerCheckpointsAreSkippedAndNamed) {
  fs::path dir = TestDir();
  CheckpointStore store(dir.string(), 4);
  for (uint64_t id = 1; id <= 4; ++id) ASSERT_TRUE(store.Write(Sample(id)));
  // 4: one byte flipped in the body; 3: cut short; a leftover temporary file is ignored.
  fs::path four = dir / "ckpt-00000000000000000004.ckpt", three = dir / "ckpt-00000000000000000003.ckpt";
  {
    std::fstream f(four, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('\x7f');
  }
  fs::resize_file(three, fs::file_size(three) - 5);
  std::ofstream(dir / "ckpt-00000000000000000009.ckpt.tmp") << "half written";
  std::vector<std::string> skipped;
  auto latest = store.LoadLatest(&skipped);
  ASSERT_TRUE(latest && *latest);
  ExpectSame(**latest, Sample(2));
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_NE(skipped[0].find("00004.ckpt: checkpoint checksum mismatch"), std::string::npos) << skipped[0];
  EXPECT_NE(skipped[1].find("00003.ckpt: checkpoint is"), std::string::npos) << skipped[1];
  EXPECT_NE(skipped[1].find("truncated"), std::string::npos) << skipped[1];
}

TEST(CheckpointStore, NothingOrOnlyDamagedMeansNoCheckpoint) {
  fs::path dir = TestDir();
  CheckpointStore store(dir.string(), 3);
  auto none = store.LoadLatest(nullptr);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  ASSERT_TRUE(store.Write(Sample(1)));
  std::ofstream(dir / "ckpt-00000000000000000001.ckpt", std::ios::trunc) << "WEIRCKPT";
  std::vector<std::string> skipped;
  auto damaged = store.LoadLatest(&skipped);
  ASSERT_TRUE(damaged);
  EXPECT_FALSE(*damaged);
  EXPECT_EQ(skipped.size(), 1u);
}

// Files written before source states existed (version 1) still restore.
TEST(CheckpointStore, ReadsVersionOne) {
  Checkpoint cp = Sample(7);
  cp.sources.clear();
  std::string v2 = CheckpointStore::Encode(cp);
  std::string body = v2.substr(24, v2.size() - 24 - 8);  // without the (empty) source states
  uint64_t one = 1;
  std::memcpy(body.data(), &one, 8);
  std::string v1 = v2.substr(0, 8);
  uint64_t size = body.size(), sum = Hash64(body);
  v1.append(reinterpret_cast<const char*>(&size), 8).append(reinterpret_cast<const char*>(&sum), 8).append(body);
  auto decoded = CheckpointStore::Decode(v1);
  ASSERT_TRUE(decoded) << decoded.error().message;
  ExpectSame(*decoded, cp);
  uint64_t three = 3;
  std::memcpy(body.data(), &three, 8);
  sum = Hash64(body);
  std::memcpy(v1.data() + 16, &sum, 8);
  std::memcpy(v1.data() + 24, &three, 8);
  auto unknown = CheckpointStore::Decode(v1);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("unknown checkpoint version 3"), std::string::npos);
}

// Positions are read from the head of every file, damaged body or not: a source keeps its log
// back to the oldest of them.
TEST(CheckpointStore, PeeksThePositionsOfEveryFile) {
  fs::path dir = TestDir();
  CheckpointStore store(dir.string(), 3);
  for (uint64_t id = 1; id <= 3; ++id) ASSERT_TRUE(store.Write(Sample(id)));
  fs::path two = dir / "ckpt-00000000000000000002.ckpt";
  fs::resize_file(two, fs::file_size(two) - 3);  // the body no longer checks out
  std::ofstream(dir / "ckpt-00000000000000000004.ckpt") << "not a checkpoint";
  auto peeked = store.PeekPositions();
  ASSERT_EQ(peeked.size(), 4u);
  for (uint64_t id = 1; id <= 3; ++id) {
    EXPECT_EQ(peeked[id - 1].first, id);
    ASSERT_EQ(peeked[id - 1].second.size(), 3u);
    EXPECT_EQ(peeked[id - 1].second[0].source, "ingest");
    EXPECT_EQ(peeked[id - 1].second[0].position, static_cast<int64_t>(id * 100));
  }
  EXPECT_EQ(peeked[3].first, 4u);
  EXPECT_TRUE(peeked[3].second.empty());
}

}  // namespace
}  // namespace weir::runtime
