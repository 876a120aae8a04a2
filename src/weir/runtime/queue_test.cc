#include "weir/runtime/queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace weir::runtime {
namespace {

using namespace std::chrono_literals;

// A producer blocked on a full queue gets back in once the queue is half empty (not as each item
// leaves), and every item arrives, in order.
TEST(BoundedQueue, BlockedProducerResumesAtHalfAndLosesNothing) {
  BoundedQueue<int> q(8, 1 << 20);
  std::atomic<int> pushed{0};
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(q.Push(i, 1));
      pushed = i + 1;
    }
  });
  while (pushed < 8) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(pushed, 8);  // full: the ninth waits
  for (int i = 0; i < 3; ++i) EXPECT_EQ(q.Pop(1000ms), i);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(pushed, 8);  // 5 left: more than half, the producer still waits
  EXPECT_EQ(q.Pop(1000ms), 3);  // 4 left: half
  while (pushed < 12) std::this_thread::sleep_for(1ms);  // refilled to the bound
  std::vector<int> rest;
  for (int i = 4; i < 100; ++i) {
    auto v = q.Pop(1000ms);
    ASSERT_TRUE(v);
    rest.push_back(*v);
  }
  producer.join();
  for (int i = 4; i < 100; ++i) EXPECT_EQ(rest[static_cast<size_t>(i - 4)], i);
  EXPECT_EQ(q.size(), 0u);
}

// The byte bound counts too: a producer waits until no more than half the bytes are queued, and
// an item larger than the bound still gets into an empty queue.
TEST(BoundedQueue, ByteBoundAndOversizedItems) {
  BoundedQueue<int> q(100, 100);
  ASSERT_TRUE(q.Push(1, 60));
  std::atomic<bool> done{false};
  std::thread producer([&] {
    EXPECT_TRUE(q.Push(2, 50));   // waits: 60 + 50 > 100
    EXPECT_TRUE(q.Push(3, 500));  // larger than the bound: waits for an empty queue
    done = true;
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(done);
  EXPECT_EQ(q.Pop(1000ms), 1);
  EXPECT_EQ(q.Pop(1000ms), 2);
  EXPECT_EQ(q.Pop(1000ms), 3);
  producer.join();
  EXPECT_TRUE(done);
  q.Close();
  EXPECT_FALSE(q.Push(4, 1));
  EXPECT_FALSE(q.Pop(10ms));
}

}  // namespace
}  // namespace weir::runtime
