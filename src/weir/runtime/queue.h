// A bounded multi-producer, single-consumer queue with backpressure.
//
// Bounded both by item count and by bytes, so that memory stays capped whatever the batch
// sizes. Producers either block (Push: files, simulator, Kafka) or are refused (TryPush: HTTP,
// which then answers 503 with Retry-After). One mutex per operation is fine: items are whole
// batches, thousands of records each.
//
//   BoundedQueue<Message> q(64, 256 << 20);
//   q.Push(std::move(m), m_bytes);            // producer thread
//   while (auto m = q.Pop(100ms)) { ... }      // consumer thread
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

namespace weir::runtime {

/// Bounded MPSC queue. Close() wakes everyone; Pop drains what is left, then returns nullopt.
template <class T>
class BoundedQueue {
 public:
  BoundedQueue(size_t max_items, size_t max_bytes) : max_items_(max_items), max_bytes_(max_bytes) {}

  /// Blocks while full. Returns false if the queue was closed.
  bool Push(T item, size_t bytes) {
    std::unique_lock lock(mu_);
    if (!closed_ && !HasRoom(bytes)) {
      ++blocked_;
      not_full_.wait(lock, [&] { return closed_ || HasRoom(bytes); });
      --blocked_;
    }
    if (closed_) return false;
    Enqueue(std::move(item), bytes);
    lock.unlock();
    not_empty_.notify_one();
    return true;
  }

  /// Never blocks. Returns false if full or closed (the item is untouched then).
  bool TryPush(T& item, size_t bytes) {
    std::unique_lock lock(mu_);
    if (closed_ || !HasRoom(bytes)) return false;
    Enqueue(std::move(item), bytes);
    lock.unlock();
    not_empty_.notify_one();
    return true;
  }

  /// Reserves room for one item of `bytes` without blocking (for producers that must do
  /// something slow, such as a durable log write, between deciding to accept and pushing).
  /// False if full or closed. Follow with PushReserved or CancelReservation.
  bool TryReserve(size_t bytes) {
    std::lock_guard lock(mu_);
    if (closed_ || !HasRoom(bytes)) return false;
    reserved_items_++;
    bytes_ += bytes;
    return true;
  }
  /// Pushes an item into room reserved with TryReserve (never blocks, even once closed: what
  /// was reserved before Close is still delivered).
  void PushReserved(T item, size_t bytes) {
    {
      std::lock_guard lock(mu_);
      reserved_items_--;
      items_.push_back({std::move(item), bytes});
    }
    not_empty_.notify_one();
  }
  void CancelReservation(size_t bytes) {
    {
      std::lock_guard lock(mu_);
      reserved_items_--;
      bytes_ -= bytes;
    }
    not_full_.notify_all();
  }

  /// Pushes even when full (control messages that must not be lost, such as end-of-input).
  void ForcePush(T item) {
    {
      std::lock_guard lock(mu_);
      items_.push_back({std::move(item), 0});
    }
    not_empty_.notify_one();
  }

  /// Waits up to `timeout` for an item.
  std::optional<T> Pop(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (!not_empty_.wait_for(lock, timeout, [&] { return !items_.empty() || closed_; })) return std::nullopt;
    if (items_.empty()) {
      // Closed, but reserved items are still on their way: wait for them briefly.
      if (reserved_items_ > 0) not_empty_.wait_for(lock, timeout, [&] { return !items_.empty() || reserved_items_ == 0; });
      if (items_.empty()) return std::nullopt;
    }
    Entry e = std::move(items_.front());
    items_.pop_front();
    bytes_ -= e.bytes;
    // Producers blocked on a full queue are woken once it is half empty, not as each item
    // leaves: a producer that is always ahead (a mapped file) then runs once per half a queue,
    // not once per item, each time taking the core from the consumer.
    const bool wake = blocked_ > 0 && items_.size() + reserved_items_ <= max_items_ / 2 && bytes_ <= max_bytes_ / 2;
    lock.unlock();
    if (wake) not_full_.notify_all();
    return std::move(e.item);
  }

  void Close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    not_full_.notify_all();
    not_empty_.notify_all();
  }

  /// Items queued, counting reserved ones (which will arrive).
  size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size() + reserved_items_;
  }
  size_t bytes() const {
    std::lock_guard lock(mu_);
    return bytes_;
  }
  bool closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }

 private:
  struct Entry {
    T item;
    size_t bytes;
  };
  bool HasRoom(size_t bytes) const {
    // An item larger than the byte bound is still admitted into an empty queue.
    size_t n = items_.size() + reserved_items_;
    return n < max_items_ && (bytes_ + bytes <= max_bytes_ || n == 0);
  }
  void Enqueue(T&& item, size_t bytes) {
    items_.push_back({std::move(item), bytes});
    bytes_ += bytes;
  }

  const size_t max_items_;
  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<Entry> items_;
  size_t bytes_ = 0;
  size_t reserved_items_ = 0;
  size_t blocked_ = 0;  ///< producers waiting in Push
  bool closed_ = false;
};

}  // namespace weir::runtime
