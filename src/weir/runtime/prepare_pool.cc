#include "weir/runtime/prepare_pool.h"

#include <algorithm>

namespace weir::runtime {

void PreparePool::Run(size_t n, const std::function<void(size_t)>& task) {
  if (n <= 1) {
    if (n == 1) task(0);
    return;
  }
  Job job{&task, n, 1, 0};
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(&job);
  }
  cv_.notify_all();
  task(0);
  std::unique_lock lock(mu_);
  ++job.done;
  while (job.next < n) {
    size_t i = job.next++;
    if (job.next == n) jobs_.erase(std::find(jobs_.begin(), jobs_.end(), &job));
    lock.unlock();
    task(i);
    lock.lock();
    ++job.done;
  }
  done_cv_.wait(lock, [&] { return job.done == n; });
}

void PreparePool::Submit(Work* w) {
  {
    std::lock_guard lock(mu_);
    tasks_.push_back(w);
  }
  cv_.notify_one();
}

void PreparePool::WaitReady(Work* w) {
  std::unique_lock lock(mu_);
  while (!w->ready) {
    // Rather than wait: prepare `w` if no worker has taken it, else another queued item.
    Work* mine = nullptr;
    if (auto it = std::find(tasks_.begin(), tasks_.end(), w); it != tasks_.end()) {
      mine = w;
      tasks_.erase(it);
    } else if (!tasks_.empty()) {
      mine = tasks_.front();
      tasks_.pop_front();
    }
    if (!mine) {
      done_cv_.wait(lock, [&] { return w->ready || !tasks_.empty(); });
      continue;
    }
    lock.unlock();
    prepare_(*mine);
    lock.lock();
    mine->ready = true;
    done_cv_.notify_all();
  }
}

void PreparePool::Loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !tasks_.empty() || !jobs_.empty(); });
    if (!jobs_.empty()) {
      Job* job = jobs_.front();
      size_t i = job->next++;
      if (job->next == job->n) jobs_.pop_front();
      lock.unlock();
      (*job->task)(i);
      lock.lock();
      ++job->done;
      done_cv_.notify_all();
      continue;
    }
    if (tasks_.empty()) return;
    Work* w = tasks_.front();
    tasks_.pop_front();
    lock.unlock();
    prepare_(*w);
    lock.lock();
    w->ready = true;
    done_cv_.notify_all();
  }
}

}  // namespace weir::runtime
