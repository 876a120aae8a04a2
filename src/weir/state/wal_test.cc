// Tests for the write-ahead log: round trips, group commit, recovery of damaged tails, the
// corruption policy, retention, replay from a checkpoint and the failed state.
#include "weir/state/wal.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace weir::state {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct Rec {
  Lsn lsn = 0;
  Lsn next = 0;
  uint32_t tag = 0;
  std::string payload;
};

Result<std::vector<Rec>> ReadFrom(const Wal& wal, Lsn from, uint64_t* skipped = nullptr) {
  WEIR_ASSIGN_OR_RETURN(auto reader, wal.Read(from));
  std::vector<Rec> out;
  WalRecord rec;
  for (;;) {
    WEIR_ASSIGN_OR_RETURN(bool more, reader->Next(rec));
    if (!more) break;
    out.push_back({rec.lsn, rec.next, rec.tag, std::string(rec.payload)});
  }
  if (skipped != nullptr) *skipped = reader->skipped_bytes();
  return out;
}

std::string Payload(int i) {
  return fmt::format("event-{}-", i) + std::string(static_cast<size_t>(i % 97), char('a' + i % 26));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Segment starts found in a directory, sorted.
std::vector<Lsn> SegmentStarts(const std::string& dir) {
  std::vector<Lsn> starts;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(".wal")) starts.push_back(std::stoull(name.substr(0, 20)));
  }
  std::sort(starts.begin(), starts.end());
  return starts;
}

class WalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "weir-wal-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/wal";
  }
  void TearDown() override { fs::remove_all(root_); }

  WalOptions Options(FsyncMode mode = FsyncMode::kNever) {
    WalOptions o;
    o.dir = dir_;
    o.fsync = mode;
    return o;
  }

  std::unique_ptr<Wal> MustOpen(const WalOptions& o) {
    auto wal = Wal::Open(o);
    EXPECT_TRUE(wal.has_value()) << wal.error().message;
    return wal ? std::move(*wal) : nullptr;
  }

  std::string SegmentPath(Lsn start) const { return dir_ + "/" + Wal::SegmentFileName(start); }

  /// Writes `payloads` with kNever into a fresh log, closes it and returns each record's LSN
  /// plus the end.
  std::vector<Lsn> WriteRecords(const std::vector<std::string>& payloads, size_t segment_bytes = 64 << 20) {
    WalOptions o = Options();
    o.segment_bytes = segment_bytes;
    auto wal = MustOpen(o);
    std::vector<Lsn> lsns{0};
    for (size_t i = 0; i < payloads.size(); ++i) {
      auto next = wal->AppendSync(static_cast<uint32_t>(i), payloads[i]);
      EXPECT_TRUE(next.has_value());
      lsns.push_back(*next);
    }
    return lsns;
  }

  std::string root_;
  std::string dir_;
};

TEST_F(WalTest, SegmentFileNamesAreTheirStartLsn) {
  EXPECT_EQ(Wal::SegmentFileName(0), "00000000000000000000.wal");
  EXPECT_EQ(Wal::SegmentFileName(1234567), "00000000000001234567.wal");
}

TEST_F(WalTest, RoundTripAcrossSegmentRolls) {
  WalOptions o = Options();
  o.segment_bytes = 1024;
  std::vector<Rec> expected;
  {
    auto wal = MustOpen(o);
    EXPECT_EQ(wal->recovery().action, RecoveryAction::kClean);
    Lsn lsn = 0;
    for (int i = 0; i < 300; ++i) {
      const std::string p = Payload(i);
      auto next = wal->AppendSync(static_cast<uint32_t>(1000 + i), p);
      ASSERT_TRUE(next.has_value()) << next.error().message;
      EXPECT_EQ(*next, lsn + kWalHeaderBytes + p.size());
      expected.push_back({lsn, *next, static_cast<uint32_t>(1000 + i), p});
      lsn = *next;
    }
    EXPECT_EQ(wal->end_lsn(), lsn);
    auto got = ReadFrom(*wal, 0);
    ASSERT_TRUE(got.has_value()) << got.error().message;
    ASSERT_EQ(got->size(), expected.size());
    EXPECT_GT(wal->stats().segments, 10u);
  }
  // Segment files are contiguous, named by their first LSN and never larger than asked.
  const std::vector<Lsn> starts = SegmentStarts(dir_);
  ASSERT_GT(starts.size(), 10u);
  for (size_t i = 0; i + 1 < starts.size(); ++i) {
    const uint64_t size = fs::file_size(SegmentPath(starts[i]));
    EXPECT_EQ(starts[i] + size, starts[i + 1]);
    EXPECT_LE(size, 1024u);
  }
  auto wal = MustOpen(o);
  EXPECT_EQ(wal->recovery().action, RecoveryAction::kClean);
  EXPECT_EQ(wal->first_lsn(), 0u);
  EXPECT_EQ(wal->end_lsn(), expected.back().next);
  auto got = ReadFrom(*wal, 0);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  ASSERT_EQ(got->size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ((*got)[i].lsn, expected[i].lsn);
    EXPECT_EQ((*got)[i].next, expected[i].next);
    EXPECT_EQ((*got)[i].tag, expected[i].tag);
    EXPECT_EQ((*got)[i].payload, expected[i].payload);
  }
}

TEST_F(WalTest, OversizedRecordsAndEmptyPayloads) {
  WalOptions o = Options();
  o.segment_bytes = 100;
  o.max_record_bytes = 1000;
  auto wal = MustOpen(o);
  ASSERT_EQ(*wal->AppendSync(1, "small"), kWalHeaderBytes + 5);
  // Bigger than a segment: it gets a segment of its own.
  const std::string big(500, 'x');
  auto big_next = wal->AppendSync(2, big);
  ASSERT_TRUE(big_next.has_value());
  EXPECT_TRUE(fs::exists(SegmentPath(kWalHeaderBytes + 5)));
  // Bigger than max_record_bytes: refused, and the WAL stays usable.
  auto refused = wal->AppendSync(3, std::string(1001, 'y'));
  ASSERT_FALSE(refused.has_value());
  EXPECT_THAT(refused.error().message, HasSubstr("max_record_bytes"));
  auto empty_next = wal->AppendSync(4, "");
  ASSERT_TRUE(empty_next.has_value()) << empty_next.error().message;
  EXPECT_EQ(*empty_next, *big_next + kWalHeaderBytes);
  auto got = ReadFrom(*wal, 0);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[1].payload, big);
  EXPECT_EQ((*got)[2].tag, 4u);
  EXPECT_EQ((*got)[2].payload, "");
}

TEST_F(WalTest, ConcurrentAppendersGetEachCallbackOnceInLsnOrder) {
  WalOptions o = Options(FsyncMode::kInterval);
  o.fsync_interval = 1;
  o.segment_bytes = 64 << 10;
  auto wal = MustOpen(o);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  struct Shared {
    std::vector<std::atomic<int>> calls = std::vector<std::atomic<int>>(kThreads * kPerThread);
    std::vector<Lsn> next_of = std::vector<Lsn>(kThreads * kPerThread);
    std::vector<Lsn> order;
    std::atomic<int> errors{0};
    std::mutex mu;
    std::vector<std::thread::id> callback_threads;
  } shared;
  std::vector<std::thread::id> appender_ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      appender_ids[t] = std::this_thread::get_id();
      for (int i = 0; i < kPerThread; ++i) {
        const int id = t * kPerThread + i;
        wal->Append(static_cast<uint32_t>(t), fmt::format("{}:{}", t, i), [s = &shared, id](Status st, Lsn next) {
          if (!st) s->errors++;
          s->calls[id]++;
          s->next_of[id] = next;
          std::lock_guard g(s->mu);
          s->order.push_back(next);
          if (s->callback_threads.empty() || s->callback_threads.back() != std::this_thread::get_id()) {
            s->callback_threads.push_back(std::this_thread::get_id());
          }
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  // Callbacks run in LSN order, so once this one is done every earlier one is too.
  ASSERT_TRUE(wal->AppendSync(99, "last").has_value());

  EXPECT_EQ(shared.errors.load(), 0);
  for (int id = 0; id < kThreads * kPerThread; ++id) ASSERT_EQ(shared.calls[id].load(), 1) << "record " << id;
  std::lock_guard g(shared.mu);
  ASSERT_EQ(shared.order.size(), size_t(kThreads * kPerThread));
  EXPECT_TRUE(std::is_sorted(shared.order.begin(), shared.order.end()));
  EXPECT_EQ(std::adjacent_find(shared.order.begin(), shared.order.end()), shared.order.end());
  ASSERT_EQ(shared.callback_threads.size(), 1u) << "callbacks come from the flusher thread only";
  for (const auto& id : appender_ids) EXPECT_NE(shared.callback_threads[0], id);

  auto got = ReadFrom(*wal, 0);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  ASSERT_EQ(got->size(), size_t(kThreads * kPerThread + 1));
  std::vector<int> last_seq(kThreads, -1);
  Lsn expect_lsn = 0;
  for (size_t k = 0; k + 1 < got->size(); ++k) {
    const Rec& r = (*got)[k];
    EXPECT_EQ(r.lsn, expect_lsn);
    expect_lsn = r.next;
    const int t = std::stoi(r.payload.substr(0, r.payload.find(':')));
    const int i = std::stoi(r.payload.substr(r.payload.find(':') + 1));
    ASSERT_EQ(r.tag, uint32_t(t));
    EXPECT_EQ(i, last_seq[t] + 1) << "thread " << t << "'s records are in its append order";
    last_seq[t] = i;
    EXPECT_EQ(shared.next_of[t * kPerThread + i], r.next) << "the callback reported this record's next LSN";
  }
}

class WalFsyncModeTest : public WalTest, public ::testing::WithParamInterface<FsyncMode> {};

TEST_P(WalFsyncModeTest, AcknowledgesAfterTheModeIsSatisfied) {
  const FsyncMode mode = GetParam();
  WalOptions o = Options(mode);
  o.fsync_interval = 2;
  {
    auto wal = MustOpen(o);
    std::atomic<int> ok{0};
    std::atomic<int> not_visible{0};
    std::atomic<uint64_t> fsyncs_at_first_callback{~0ull};
    for (int i = 0; i < 2000; ++i) {
      wal->Append(7, Payload(i), [&, w = wal.get()](Status st, Lsn next) {
        if (st) ok++;
        // A record is readable once acknowledged.
        if (w->end_lsn() < next) not_visible++;
        uint64_t unset = ~0ull;
        fsyncs_at_first_callback.compare_exchange_strong(unset, w->stats().fsyncs);
      });
    }
    ASSERT_TRUE(wal->AppendSync(7, "sync").has_value());
    EXPECT_EQ(ok.load(), 2000);
    EXPECT_EQ(not_visible.load(), 0);
    const WalStats s = wal->stats();
    EXPECT_EQ(s.appends, 2001u);
    EXPECT_GE(s.groups, 1u);
    if (mode == FsyncMode::kNever) {
      EXPECT_EQ(s.fsyncs, 0u);
      EXPECT_EQ(fsyncs_at_first_callback.load(), 0u);
    } else {
      // One fdatasync per group commit, and the first acknowledgement came after one.
      EXPECT_EQ(s.fsyncs, s.groups);
      EXPECT_GE(fsyncs_at_first_callback.load(), 1u);
      EXPECT_GT(s.last_fsync_nanos, 0);
    }
    wal->Close();
    // Close syncs what kNever left unsynced.
    EXPECT_EQ(wal->stats().fsyncs, mode == FsyncMode::kNever ? 1u : s.fsyncs);
  }
  auto wal = MustOpen(o);
  EXPECT_EQ(wal->recovery().action, RecoveryAction::kClean);
  auto got = ReadFrom(*wal, 0);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  ASSERT_EQ(got->size(), 2001u);
  EXPECT_EQ((*got)[1999].payload, Payload(1999));
}

INSTANTIATE_TEST_SUITE_P(Modes, WalFsyncModeTest,
                         ::testing::Values(FsyncMode::kAlways, FsyncMode::kInterval, FsyncMode::kNever),
                         [](const auto& info) {
                           switch (info.param) {
                             case FsyncMode::kAlways:
                               return std::string("Always");
                             case FsyncMode::kInterval:
                               return std::string("Interval");
                             case FsyncMode::kNever:
                               return std::string("Never");
                           }
                           return std::string("Unknown");
                         });

TEST_F(WalTest, IntervalModeCommitsABurstAsOneGroup) {
  WalOptions o = Options(FsyncMode::kInterval);
  o.fsync_interval = 400;
  auto wal = MustOpen(o);
  // After an idle spell the first record is synced at once...
  ASSERT_TRUE(wal->AppendSync(1, "first").has_value());
  const WalStats before = wal->stats();
  EXPECT_EQ(before.fsyncs, 1u);
  // ...and a burst right after it waits for the window and shares one fdatasync.
  std::atomic<int> ok{0};
  for (int i = 0; i < 200; ++i) {
    wal->Append(1, Payload(i), [&](Status st, Lsn) { ok += st.has_value(); });
  }
  ASSERT_TRUE(wal->AppendSync(1, "last").has_value());
  EXPECT_EQ(ok.load(), 200);
  const WalStats after = wal->stats();
  // 1 expected; 2 if this thread was descheduled for the whole window mid-burst.
  EXPECT_LE(after.fsyncs - before.fsyncs, 2u);
  EXPECT_LE(after.groups - before.groups, 2u);
}

TEST_F(WalTest, RecoveryCutsATornLastRecordAtEveryOffset) {
  const std::vector<Lsn> lsns = WriteRecords({std::string(30, 'a'), std::string(40, 'b'), std::string(50, 'c')});
  const std::string pristine = ReadFile(SegmentPath(0));
  const Lsn last = lsns[2];
  ASSERT_EQ(pristine.size(), lsns[3]);
  for (Lsn cut = last; cut < lsns[3]; ++cut) {
    SCOPED_TRACE(fmt::format("cut at {}", cut));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    WriteFile(SegmentPath(0), std::string_view(pristine).substr(0, cut));
    auto wal = MustOpen(Options());
    ASSERT_NE(wal, nullptr);
    const RecoveryReport& r = wal->recovery();
    EXPECT_EQ(r.action, cut == last ? RecoveryAction::kClean : RecoveryAction::kCutTornRecord);
    EXPECT_EQ(r.bytes_cut, cut - last);
    EXPECT_EQ(wal->end_lsn(), last);
    EXPECT_EQ(fs::file_size(SegmentPath(0)), last);
    auto next = wal->AppendSync(9, "new");
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(*next, last + kWalHeaderBytes + 3);
    auto got = ReadFrom(*wal, 0);
    ASSERT_TRUE(got.has_value()) << got.error().message;
    ASSERT_EQ(got->size(), 3u);
    EXPECT_EQ((*got)[1].payload, std::string(40, 'b'));
    EXPECT_EQ((*got)[2].payload, "new");
  }
}

TEST_F(WalTest, RecoveryCutsAZeroFilledTail) {
  const std::vector<Lsn> lsns = WriteRecords({"one", "two", "three"});
  WriteFile(SegmentPath(0), ReadFile(SegmentPath(0)) + std::string(4096, '\0'));
  auto wal = MustOpen(Options());
  EXPECT_EQ(wal->recovery().action, RecoveryAction::kCutZeroTail);
  EXPECT_EQ(wal->recovery().bytes_cut, 4096u);
  EXPECT_EQ(wal->recovery().cut_at, lsns[3]);
  EXPECT_EQ(wal->recovery().records_scanned, 3u);
  EXPECT_EQ(wal->end_lsn(), lsns[3]);
  EXPECT_EQ(fs::file_size(SegmentPath(0)), lsns[3]);
  auto got = ReadFrom(*wal, 0);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(got->size(), 3u);
}

TEST_F(WalTest, RecoveryCutsAGarbageTail) {
  const std::vector<Lsn> lsns = WriteRecords({"one", "two", "three"});
  std::mt19937 rng(42);
  std::string garbage(1000, '\0');
  for (char& c : garbage) c = static_cast<char>(rng() | 1);  // never all zero
  WriteFile(SegmentPath(0), ReadFile(SegmentPath(0)) + garbage);
  auto wal = MustOpen(Options());
  EXPECT_EQ(wal->recovery().action, RecoveryAction::kCutCorruptTail);
  EXPECT_EQ(wal->recovery().bytes_cut, 1000u);
  EXPECT_EQ(wal->end_lsn(), lsns[3]);
  EXPECT_THAT(wal->recovery().ToString(), HasSubstr("cut 1000 bytes"));
  auto got = ReadFrom(*wal, 0);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(got->size(), 3u);
}

TEST_F(WalTest, RecoveryCutsALastRecordWithAnyByteFlipped) {
  const std::vector<Lsn> lsns = WriteRecords({std::string(30, 'a'), std::string(40, 'b'), std::string(50, 'c')});
  const std::string pristine = ReadFile(SegmentPath(0));
  for (Lsn at = lsns[2]; at < lsns[3]; ++at) {
    SCOPED_TRACE(fmt::format("flipped byte {}", at));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::string bad = pristine;
    bad[at] = static_cast<char>(bad[at] ^ 0x01);
    WriteFile(SegmentPath(0), bad);
    auto wal = MustOpen(Options());
    ASSERT_NE(wal, nullptr);
    const RecoveryAction a = wal->recovery().action;
    EXPECT_TRUE(a == RecoveryAction::kCutCorruptTail || a == RecoveryAction::kCutTornRecord) << RecoveryActionName(a);
    EXPECT_EQ(wal->end_lsn(), lsns[2]);
    auto got = ReadFrom(*wal, 0);
    ASSERT_TRUE(got.has_value()) << got.error().message;
    ASSERT_EQ(got->size(), 2u);
  }
}

TEST_F(WalTest, ARecordCopiedToAnotherPositionIsNotValidThere) {
  // The checksum is seeded with the LSN: a stale or duplicated copy of a whole record (an old
  // block reappearing after a crash) must not replay as a second event.
  const std::vector<Lsn> lsns = WriteRecords({"one", "two", "three"});
  const std::string bytes = ReadFile(SegmentPath(0));
  WriteFile(SegmentPath(0), bytes + bytes.substr(lsns[2]));
  auto wal = MustOpen(Options());
  EXPECT_EQ(wal->recovery().action, RecoveryAction::kCutCorruptTail);
  EXPECT_EQ(wal->recovery().reason, "checksum mismatch");
  EXPECT_EQ(wal->end_lsn(), lsns[3]);
  auto got = ReadFrom(*wal, 0);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(got->size(), 3u);
}

std::vector<std::string> TenPayloads() {
  std::vector<std::string> p;
  for (int i = 0; i < 10; ++i) p.push_back(Payload(i + 10));
  return p;
}

TEST_F(WalTest, CorruptionInTheMiddleIsQuarantinedNotDropped) {
  const std::vector<Lsn> lsns = WriteRecords(TenPayloads());
  const Lsn bad = lsns[3];
  const Lsn old_end = lsns[10];
  std::string bytes = ReadFile(SegmentPath(0));
  bytes[bad + kWalHeaderBytes + 2] ^= 0x40;  // damage record 3's payload
  WriteFile(SegmentPath(0), bytes);
  const std::string quarantine = fmt::format("{}/{:020}.corrupt", dir_, bad);
  {
    auto wal = MustOpen(Options());
    const RecoveryReport& r = wal->recovery();
    EXPECT_EQ(r.action, RecoveryAction::kQuarantined);
    EXPECT_EQ(r.cut_at, bad);
    EXPECT_EQ(r.bytes_cut, old_end - bad);
    EXPECT_EQ(r.records_after, 6u);
    EXPECT_EQ(r.reason, "checksum mismatch");
    EXPECT_EQ(r.quarantine_path, quarantine);
    // The bytes from the bad record on are kept, byte for byte, for inspection.
    EXPECT_EQ(ReadFile(quarantine), bytes.substr(bad));
    EXPECT_EQ(fs::file_size(SegmentPath(0)), bad);
    // LSNs never repeat: appending resumes after the quarantined range, in a new segment.
    EXPECT_EQ(r.end_lsn, old_end);
    EXPECT_EQ(wal->end_lsn(), old_end);
    auto next = wal->AppendSync(1, "after");
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(*next, old_end + kWalHeaderBytes + 5);
    EXPECT_TRUE(fs::exists(SegmentPath(old_end)));
    uint64_t skipped = 0;
    auto got = ReadFrom(*wal, 0, &skipped);
    ASSERT_TRUE(got.has_value()) << got.error().message;
    ASSERT_EQ(got->size(), 4u);
    EXPECT_EQ((*got)[2].payload, Payload(12));
    EXPECT_EQ((*got)[3].lsn, old_end);
    EXPECT_EQ((*got)[3].payload, "after");
    EXPECT_EQ(skipped, old_end - bad);
  }
  auto wal = MustOpen(Options());
  EXPECT_EQ(wal->recovery().action, RecoveryAction::kClean);
  EXPECT_TRUE(wal->recovery().missing.empty());
  auto got = ReadFrom(*wal, 0);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(got->size(), 4u);
  // Positions inside the quarantined range name no record.
  auto inside = wal->Read(bad + 1);
  ASSERT_FALSE(inside.has_value());
  EXPECT_THAT(inside.error().message, HasSubstr("holds no records"));
  auto from_bad = ReadFrom(*wal, bad);
  ASSERT_TRUE(from_bad.has_value()) << from_bad.error().message;
  ASSERT_EQ(from_bad->size(), 1u);
  EXPECT_EQ((*from_bad)[0].payload, "after");
}

TEST_F(WalTest, CorruptionAtTheFirstRecordLeavesAnEmptySegmentThatReplayPasses) {
  const std::vector<Lsn> lsns = WriteRecords(TenPayloads());
  std::string bytes = ReadFile(SegmentPath(0));
  bytes[kWalHeaderBytes + 1] ^= 0x08;
  WriteFile(SegmentPath(0), bytes);
  {
    auto wal = MustOpen(Options());
    EXPECT_EQ(wal->recovery().action, RecoveryAction::kQuarantined);
    EXPECT_EQ(wal->recovery().records_after, 9u);
    EXPECT_EQ(fs::file_size(SegmentPath(0)), 0u);
    ASSERT_TRUE(wal->AppendSync(1, "fresh").has_value());
  }
  auto wal = MustOpen(Options());
  uint64_t skipped = 0;
  auto got = ReadFrom(*wal, 0, &skipped);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].lsn, lsns[10]);
  EXPECT_EQ((*got)[0].payload, "fresh");
  EXPECT_EQ(skipped, lsns[10]);
}

TEST_F(WalTest, CorruptionInTheMiddleWithFailPolicyRefusesToOpen) {
  const std::vector<Lsn> lsns = WriteRecords(TenPayloads());
  std::string bytes = ReadFile(SegmentPath(0));
  bytes[lsns[3] + 1] ^= 0x40;  // damage record 3's magic
  WriteFile(SegmentPath(0), bytes);
  WalOptions o = Options();
  o.on_corruption = CorruptionPolicy::kFail;
  auto wal = Wal::Open(o);
  ASSERT_FALSE(wal.has_value());
  EXPECT_THAT(wal.error().message, HasSubstr(fmt::format("corrupt at LSN {}", lsns[3])));
  EXPECT_THAT(wal.error().message, HasSubstr("6 valid records follow"));
  EXPECT_EQ(ReadFile(SegmentPath(0)), bytes);
  EXPECT_EQ(SegmentStarts(dir_), std::vector<Lsn>{0});
  EXPECT_FALSE(fs::exists(fmt::format("{}/{:020}.corrupt", dir_, lsns[3])));
}

TEST_F(WalTest, AnInterruptedQuarantineIsCompletedOnTheNextOpen) {
  const std::vector<Lsn> lsns = WriteRecords(TenPayloads());
  std::string bytes = ReadFile(SegmentPath(0));
  bytes[lsns[5] + kWalHeaderBytes] ^= 0x01;
  WriteFile(SegmentPath(0), bytes);
  MustOpen(Options())->Close();
  // As if the process died after cutting the segment but before starting the next one.
  ASSERT_TRUE(fs::remove(SegmentPath(lsns[10])));
  auto wal = MustOpen(Options());
  EXPECT_EQ(wal->end_lsn(), lsns[10]);
  EXPECT_TRUE(fs::exists(SegmentPath(lsns[10])));
  auto got = ReadFrom(*wal, 0);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(got->size(), 5u);
}

TEST_F(WalTest, CorruptionInASealedSegmentStopsReplayLoudly) {
  std::vector<std::string> payloads;
  for (int i = 0; i < 50; ++i) payloads.push_back(Payload(i));
  const std::vector<Lsn> lsns = WriteRecords(payloads, 512);
  std::string first = ReadFile(SegmentPath(0));
  first[lsns[1] + kWalHeaderBytes] ^= 0x01;
  WriteFile(SegmentPath(0), first);
  auto wal = MustOpen(Options());
  EXPECT_EQ(wal->recovery().action, RecoveryAction::kClean);  // only the newest segment is rescanned
  auto reader = wal->Read(0);
  ASSERT_TRUE(reader.has_value());
  WalRecord rec;
  auto r1 = (*reader)->Next(rec);
  ASSERT_TRUE(r1.has_value() && *r1);
  auto r2 = (*reader)->Next(rec);
  ASSERT_FALSE(r2.has_value());
  EXPECT_THAT(r2.error().message, HasSubstr(SegmentPath(0)));
  EXPECT_THAT(r2.error().message, HasSubstr(fmt::format("LSN {}", lsns[1])));
  EXPECT_THAT(r2.error().message, HasSubstr("checksum mismatch"));
  EXPECT_FALSE((*reader)->Next(rec).has_value()) << "errors are sticky";
  // Replay from a later segment is unaffected.
  const std::vector<Lsn> starts = SegmentStarts(dir_);
  auto later = ReadFrom(*wal, starts[1]);
  ASSERT_TRUE(later.has_value()) << later.error().message;
  EXPECT_EQ(later->back().payload, Payload(49));
}

TEST_F(WalTest, AMissingSegmentIsReportedAndReplayRefusesToCrossIt) {
  std::vector<std::string> payloads;
  for (int i = 0; i < 50; ++i) payloads.push_back(Payload(i));
  WriteRecords(payloads, 512);
  const std::vector<Lsn> starts = SegmentStarts(dir_);
  ASSERT_GE(starts.size(), 4u);
  ASSERT_TRUE(fs::remove(SegmentPath(starts[1])));
  auto wal = MustOpen(Options());
  ASSERT_EQ(wal->recovery().missing.size(), 1u);
  EXPECT_EQ(wal->recovery().missing[0], (LsnRange{starts[1], starts[2]}));
  auto all = ReadFrom(*wal, 0);
  ASSERT_FALSE(all.has_value());
  EXPECT_THAT(all.error().message, HasSubstr(fmt::format("LSNs [{}, {}) are missing", starts[1], starts[2])));
  auto later = ReadFrom(*wal, starts[2]);
  ASSERT_TRUE(later.has_value()) << later.error().message;
  EXPECT_EQ(later->back().payload, Payload(49));
}

TEST_F(WalTest, TruncateBeforeDeletesWholeSegmentsOnly) {
  WalOptions o = Options();
  o.segment_bytes = 512;
  std::vector<Lsn> next;
  {
    auto wal = MustOpen(o);
    for (int i = 0; i < 100; ++i) next.push_back(*wal->AppendSync(0, Payload(i)));
    const Lsn checkpoint = next[59];  // records 0..59 are applied
    const std::vector<Lsn> before = SegmentStarts(dir_);
    const Lsn keep_from = *std::prev(std::upper_bound(before.begin(), before.end(), checkpoint));
    ASSERT_TRUE(wal->TruncateBefore(checkpoint).has_value());
    EXPECT_EQ(wal->first_lsn(), keep_from);
    const std::vector<Lsn> after = SegmentStarts(dir_);
    EXPECT_EQ(after.front(), keep_from);
    EXPECT_EQ(after.size(), size_t(before.end() - std::find(before.begin(), before.end(), keep_from)));
    auto replay = ReadFrom(*wal, checkpoint);
    ASSERT_TRUE(replay.has_value()) << replay.error().message;
    ASSERT_EQ(replay->size(), 40u);
    EXPECT_EQ(replay->front().payload, Payload(60));
    auto gone = wal->Read(0);
    ASSERT_FALSE(gone.has_value());
    EXPECT_THAT(gone.error().message, HasSubstr("truncated"));
    // Truncating at the end keeps the segment being written.
    ASSERT_TRUE(wal->TruncateBefore(wal->end_lsn()).has_value());
    EXPECT_EQ(wal->stats().segments, 1u);
    EXPECT_EQ(SegmentStarts(dir_).size(), 1u);
    EXPECT_FALSE(wal->TruncateBefore(wal->end_lsn() + 1).has_value());
    ASSERT_TRUE(wal->AppendSync(0, "more").has_value());
  }
  auto wal = MustOpen(o);
  EXPECT_EQ(wal->first_lsn(), SegmentStarts(dir_).front());
  auto rest = ReadFrom(*wal, wal->first_lsn());
  ASSERT_TRUE(rest.has_value()) << rest.error().message;
  EXPECT_EQ(rest->back().payload, "more");
}

TEST_F(WalTest, ReadsFromACheckpointAndFollowsNewAppends) {
  WalOptions o = Options(FsyncMode::kAlways);
  o.segment_bytes = 2048;
  auto wal = MustOpen(o);
  std::vector<Lsn> next;
  for (int i = 0; i < 100; ++i) next.push_back(*wal->AppendSync(static_cast<uint32_t>(i), Payload(i)));
  auto from_cp = ReadFrom(*wal, next[39]);
  ASSERT_TRUE(from_cp.has_value()) << from_cp.error().message;
  ASSERT_EQ(from_cp->size(), 60u);
  EXPECT_EQ(from_cp->front().tag, 40u);
  EXPECT_EQ(from_cp->front().lsn, next[39]);
  EXPECT_EQ(from_cp->back().next, next[99]);

  // A position inside a record is caught by the LSN-seeded checksum.
  auto mid = wal->Read(next[39] + 1);
  ASSERT_TRUE(mid.has_value());
  WalRecord rec;
  auto bad = (*mid)->Next(rec);
  ASSERT_FALSE(bad.has_value());
  EXPECT_THAT(bad.error().message, HasSubstr("start of a record"));

  EXPECT_FALSE(wal->Read(wal->end_lsn() + 1).has_value());
  auto tail = wal->Read(wal->end_lsn());
  ASSERT_TRUE(tail.has_value());
  auto none = (*tail)->Next(rec);
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(*none);
  ASSERT_TRUE(wal->AppendSync(5, "late").has_value());
  auto one = (*tail)->Next(rec);
  ASSERT_TRUE(one.has_value() && *one);
  EXPECT_EQ(rec.payload, "late");
  EXPECT_EQ(rec.lsn, next[99]);
  auto end = (*tail)->Next(rec);
  ASSERT_TRUE(end.has_value());
  EXPECT_FALSE(*end);
}

TEST_F(WalTest, AReaderFollowsConcurrentAppendsAcrossRolls) {
  WalOptions o = Options(FsyncMode::kInterval);
  o.fsync_interval = 1;
  o.segment_bytes = 16 << 10;
  auto wal = MustOpen(o);
  constexpr int kRecords = 20000;
  std::thread writer([&] {
    for (int i = 0; i < kRecords; ++i) wal->Append(0, std::to_string(i), nullptr);
  });
  auto reader = wal->Read(0);
  ASSERT_TRUE(reader.has_value());
  WalRecord rec;
  Lsn expect_lsn = 0;
  int seen = 0;
  bool ok = true;
  while (seen < kRecords && ok) {
    auto more = (*reader)->Next(rec);
    if (!more.has_value()) {
      ADD_FAILURE() << more.error().message;
      break;
    }
    if (!*more) {
      std::this_thread::yield();
      continue;
    }
    ok = rec.lsn == expect_lsn && rec.payload == std::to_string(seen);
    EXPECT_TRUE(ok) << "record " << seen << " at " << rec.lsn;
    expect_lsn = rec.next;
    ++seen;
  }
  writer.join();
  EXPECT_EQ(seen, kRecords);
  EXPECT_GT(wal->stats().segments, 5u);
}

TEST_F(WalTest, AnInjectedWriteErrorFailsTheWalUntilReopened) {
  WalOptions o = Options(FsyncMode::kInterval);
  o.fsync_interval = 1;
  o.test_fail_after_bytes = 2000;
  const std::string payload(77, 'p');  // 97-byte records: the failing write stops mid-record
  std::vector<Lsn> acked;
  {
    auto wal = MustOpen(o);
    for (int i = 0; i < 10; ++i) {
      auto next = wal->AppendSync(1, payload);
      ASSERT_TRUE(next.has_value()) << next.error().message;
      acked.push_back(*next);
    }
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::optional<std::string>> results;  // nullopt: ok
    for (int i = 0; i < 40; ++i) {
      wal->Append(1, payload, [&](Status st, Lsn next) {
        std::lock_guard g(mu);
        if (st) {
          acked.push_back(next);
        }
        results.push_back(st ? std::nullopt : std::optional<std::string>(st.error().message));
        cv.notify_all();
      });
    }
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return results.size() == 40; });
    }
    const auto first_error = std::find_if(results.begin(), results.end(), [](const auto& r) { return r.has_value(); });
    ASSERT_NE(first_error, results.end());
    EXPECT_THAT(**first_error, HasSubstr("No space left on device"));
    EXPECT_THAT(**first_error, HasSubstr(SegmentPath(0)));
    for (auto it = first_error; it != results.end(); ++it) {
      ASSERT_TRUE(it->has_value()) << "nothing after the failure is acknowledged";
      EXPECT_EQ(**it, **first_error);
    }
    for (Lsn n : acked) EXPECT_LE(n, 2000u);
    EXPECT_TRUE(wal->stats().failed);
    // Later appends fail at once, inline, with the same error.
    const auto caller = std::this_thread::get_id();
    std::thread::id callback_thread;
    std::string message;
    wal->Append(1, "x", [&](Status st, Lsn) {
      callback_thread = std::this_thread::get_id();
      message = st ? "" : st.error().message;
    });
    EXPECT_EQ(callback_thread, caller);
    EXPECT_EQ(message, **first_error);
    auto sync = wal->AppendSync(1, "y");
    ASSERT_FALSE(sync.has_value());
    EXPECT_EQ(sync.error().message, **first_error);
  }
  // Reopened (without the fault) the torn write is cut and every acknowledged record is there.
  o.test_fail_after_bytes.reset();
  auto wal = MustOpen(o);
  EXPECT_EQ(wal->recovery().action, RecoveryAction::kCutTornRecord);
  EXPECT_EQ(wal->recovery().cut_at + wal->recovery().bytes_cut, 2000u);
  auto got = ReadFrom(*wal, 0);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  ASSERT_GE(got->size(), acked.size());
  for (size_t i = 0; i < acked.size(); ++i) EXPECT_EQ((*got)[i].next, acked[i]);
  EXPECT_TRUE(wal->AppendSync(1, "works again").has_value());
}

TEST_F(WalTest, ASegmentThatCannotBeCreatedFailsTheWal) {
  WalOptions o = Options(FsyncMode::kAlways);
  o.segment_bytes = 100;
  const std::string p(30, 'z');  // 50-byte records: the third one starts a segment at LSN 100
  {
    auto wal = MustOpen(o);
    fs::create_directory(SegmentPath(100));  // the OS refuses to create the segment file there
    ASSERT_TRUE(wal->AppendSync(1, p).has_value());
    ASSERT_TRUE(wal->AppendSync(1, p).has_value());
    auto third = wal->AppendSync(1, p);
    ASSERT_FALSE(third.has_value());
    EXPECT_THAT(third.error().message, HasSubstr("cannot create segment"));
    EXPECT_THAT(third.error().message, HasSubstr(SegmentPath(100)));
    EXPECT_THAT(third.error().message, HasSubstr("File exists"));
    auto fourth = wal->AppendSync(1, p);
    ASSERT_FALSE(fourth.has_value());
    EXPECT_EQ(fourth.error().message, third.error().message);
    EXPECT_EQ(wal->end_lsn(), 100u);
  }
  // A directory where a segment should be stops Open too.
  auto blocked = Wal::Open(o);
  ASSERT_FALSE(blocked.has_value());
  EXPECT_THAT(blocked.error().message, HasSubstr("not a regular file"));
  fs::remove(SegmentPath(100));
  auto wal = MustOpen(o);
  EXPECT_EQ(wal->end_lsn(), 100u);
  auto got = ReadFrom(*wal, 0);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(got->size(), 2u);
}

TEST_F(WalTest, OpenRejectsAFileAsDirectoryAndASecondInstance) {
  WriteFile(root_ + "/plain", "x");
  WalOptions file_dir = Options();
  file_dir.dir = root_ + "/plain";
  EXPECT_FALSE(Wal::Open(file_dir).has_value());

  auto first = MustOpen(Options());
  auto second = Wal::Open(Options());
  ASSERT_FALSE(second.has_value());
  EXPECT_THAT(second.error().message, HasSubstr("already open"));
  first->Close();
  EXPECT_TRUE(Wal::Open(Options()).has_value());
}

TEST_F(WalTest, CloseWritesAndAcknowledgesPendingAppends) {
  WalOptions o = Options(FsyncMode::kInterval);
  o.fsync_interval = 20000;  // the window would hold the group for 20 s; Close must not wait for it
  std::atomic<int> ok{0};
  {
    auto wal = MustOpen(o);
    ASSERT_TRUE(wal->AppendSync(0, "first").has_value());  // starts the window
    for (int i = 0; i < 1000; ++i) {
      wal->Append(0, Payload(i), [&](Status st, Lsn) { ok += st.has_value(); });
    }
    EXPECT_EQ(ok.load(), 0) << "still inside the group commit window";
    const auto t0 = std::chrono::steady_clock::now();
    wal->Close();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
    EXPECT_EQ(ok.load(), 1000);
    auto after = wal->AppendSync(0, "too late");
    ASSERT_FALSE(after.has_value());
    EXPECT_THAT(after.error().message, HasSubstr("closed"));
  }
  auto wal = MustOpen(o);
  auto got = ReadFrom(*wal, 0);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  ASSERT_EQ(got->size(), 1001u);
  EXPECT_EQ(got->back().payload, Payload(999));
}

TEST_F(WalTest, DestructionFlushesAndBackpressureKeepsOrder) {
  WalOptions o = Options(FsyncMode::kNever);
  o.max_pending_bytes = 1024;  // appenders wait for the flusher after ~10 records
  std::atomic<int> ok{0};
  std::vector<Lsn> nexts;
  {
    auto wal = MustOpen(o);
    for (int i = 0; i < 500; ++i) {
      wal->Append(0, std::string(80, 'q'), [&](Status st, Lsn next) {
        ok += st.has_value();
        nexts.push_back(next);  // only the flusher thread calls back
      });
    }
  }
  EXPECT_EQ(ok.load(), 500);
  ASSERT_EQ(nexts.size(), 500u);
  for (size_t i = 0; i < nexts.size(); ++i) EXPECT_EQ(nexts[i], (i + 1) * (kWalHeaderBytes + 80));
  auto wal = MustOpen(o);
  EXPECT_EQ(wal->recovery().action, RecoveryAction::kClean);
  EXPECT_EQ(wal->end_lsn(), 500 * (kWalHeaderBytes + 80));
}

}  // namespace
}  // namespace weir::state
