// Micro-benchmarks for the write-ahead log: asynchronous appends from several threads (the HTTP
// ingest pattern), blocking appends (one acknowledged request per thread at a time) and replay.
// Not built by default: bench/CMakeLists.txt would need
//   add_executable(weir_wal_benchmark ../src/weir/state/wal_benchmark.cc)
//   target_link_libraries(weir_wal_benchmark PRIVATE weir_state benchmark::benchmark)
//
//   weir_wal_benchmark --benchmark_filter=Async   # WEIR_BENCH_DIR=/path picks the disk (default /tmp)
#include <stdlib.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "weir/state/wal.h"

namespace weir::state {
namespace {

/// A fresh WAL directory, removed afterwards.
class BenchDir {
 public:
  BenchDir() {
    const char* base = std::getenv("WEIR_BENCH_DIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/weir-wal-bench-XXXXXX";
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  ~BenchDir() {
    if (!path_.empty()) std::filesystem::remove_all(path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<Wal> OpenOrSkip(benchmark::State& state, const BenchDir& dir, FsyncMode mode) {
  auto wal = Wal::Open({.dir = dir.path() + "/wal", .fsync = mode});
  if (!wal) {
    state.SkipWithError(wal.error().message.c_str());
    return nullptr;
  }
  return std::move(*wal);
}

// Args: fsync mode (0 always, 1 interval, 2 never), appender threads, payload bytes.
void BM_WalAppendAsync(benchmark::State& state) {
  const auto mode = static_cast<FsyncMode>(state.range(0));
  const int threads = static_cast<int>(state.range(1));
  const std::string payload(static_cast<size_t>(state.range(2)), 'x');
  constexpr int kPerIteration = 200000;
  BenchDir dir;
  auto wal = OpenOrSkip(state, dir, mode);
  if (!wal) return;
  std::atomic<int64_t> acked{0};
  for (auto _ : state) {
    std::vector<std::thread> appenders;
    for (int t = 0; t < threads; ++t) {
      appenders.emplace_back([&] {
        for (int i = 0; i < kPerIteration / threads; ++i) {
          wal->Append(1, payload, [&acked](Status st, Lsn) { acked.fetch_add(st ? 1 : 0, std::memory_order_relaxed); });
        }
      });
    }
    for (auto& a : appenders) a.join();
    // Callbacks run in LSN order: this one returning means all of the iteration's are done.
    if (!wal->AppendSync(1, payload)) state.SkipWithError("append failed");
  }
  const WalStats s = wal->stats();
  state.SetItemsProcessed(state.iterations() * kPerIteration);
  state.SetBytesProcessed(state.iterations() * kPerIteration * int64_t(payload.size() + kWalHeaderBytes));
  state.counters["records_per_group"] = double(s.appends) / double(std::max<uint64_t>(1, s.groups));
  state.counters["fsyncs"] = double(s.fsyncs);
  state.counters["acked"] = double(acked.load());
}
BENCHMARK(BM_WalAppendAsync)
    ->ArgsProduct({{0, 1, 2}, {1, 4}, {100, 1000}})
    ->ArgNames({"mode", "threads", "bytes"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Every thread waits for its record before appending the next (a request answered per record).
void BM_WalAppendSync(benchmark::State& state) {
  const auto mode = static_cast<FsyncMode>(state.range(0));
  const int threads = static_cast<int>(state.range(1));
  const std::string payload(200, 'x');
  constexpr int kPerThread = 200;
  BenchDir dir;
  auto wal = OpenOrSkip(state, dir, mode);
  if (!wal) return;
  for (auto _ : state) {
    std::vector<std::thread> appenders;
    for (int t = 0; t < threads; ++t) {
      appenders.emplace_back([&] {
        for (int i = 0; i < kPerThread; ++i) benchmark::DoNotOptimize(wal->AppendSync(1, payload));
      });
    }
    for (auto& a : appenders) a.join();
  }
  state.SetItemsProcessed(state.iterations() * threads * kPerThread);
}
BENCHMARK(BM_WalAppendSync)
    ->ArgsProduct({{0, 1}, {1, 64}})
    ->ArgNames({"mode", "threads"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_WalReplay(benchmark::State& state) {
  const std::string payload(static_cast<size_t>(state.range(0)), 'x');
  constexpr int kRecords = 200000;
  BenchDir dir;
  auto wal = OpenOrSkip(state, dir, FsyncMode::kNever);
  if (!wal) return;
  for (int i = 0; i < kRecords; ++i) wal->Append(1, payload, nullptr);
  if (!wal->AppendSync(1, payload)) state.SkipWithError("append failed");
  for (auto _ : state) {
    auto reader = wal->Read(0);
    WalRecord rec;
    int64_t n = 0;
    while (true) {
      auto more = (*reader)->Next(rec);
      if (!more || !*more) break;
      ++n;
    }
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(state.iterations() * (kRecords + 1));
  state.SetBytesProcessed(state.iterations() * (kRecords + 1) * int64_t(payload.size() + kWalHeaderBytes));
}
BENCHMARK(BM_WalReplay)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace weir::state

BENCHMARK_MAIN();
