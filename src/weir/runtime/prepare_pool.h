// The pipeline's worker threads (`--workers N`: N-1 of them plus the pipeline thread): they
// prepare batches (decode, processors, Metric::Prepare) ahead of the pipeline thread, which
// applies them in arrival order, and they run the partitions of a batch's metrics in parallel.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "weir/model/batch.h"
#include "weir/runtime/operator.h"

namespace weir::runtime {

/// What a source hands the pipeline: a batch, or the end of one of its partitions.
struct Message {
  enum Kind { kBatch, kEnd } kind = kBatch;
  Batch batch;
  uint32_t source = 0;
  uint32_t partition = 0;
};

/// A message on its way through the pipeline: prepared by a worker (decode, processors,
/// Metric::Prepare), then applied in arrival order by the pipeline thread.
struct Work {
  Message msg;
  std::vector<std::unique_ptr<PreparedState>> prepared;  // per metric (null: not read)
  bool ready = false;
};

/// Worker threads that prepare Work items; the pipeline thread waits for them in order, and
/// while it waits prepares items itself: the one it waits for if no worker has taken it yet,
/// else the next queued one (so `--workers N` runs N-1 workers plus the pipeline thread, and N
/// cores stay busy without N+1 threads competing for them).
/// The same threads apply a batch to the partitions of the partitioned metrics (Run): those
/// tasks go before any preparing, and the pipeline thread runs whichever no worker has taken.

class PreparePool {
 public:
  PreparePool(size_t threads, std::function<void(Work&)> prepare) : prepare_(std::move(prepare)) {
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
  }
  ~PreparePool() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  /// Runs tasks 0..n-1 on the calling thread and any idle worker; returns when all are done.
  void Run(size_t n, const std::function<void(size_t)>& task);
  void Submit(Work* w);
  void WaitReady(Work* w);

 private:
  struct Job {
    const std::function<void(size_t)>* task;
    size_t n, next, done;
  };
  void Loop();
  std::function<void(Work&)> prepare_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::deque<Work*> tasks_;
  std::deque<Job*> jobs_;
  std::vector<std::thread> threads_;
  bool stop_ = false;
};

}  // namespace weir::runtime
