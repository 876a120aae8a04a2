#include "weir/model/batch.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace weir {
namespace {

// Rows, weights, raw bytes, marks and times stay together as the batch grows past its initial
// room, as rows are popped, and through Compact.
TEST(Batch, ColumnsGrowAndCompactTogether) {
  Batch b(3);
  EXPECT_TRUE(b.TimesFor(1));
  EXPECT_FALSE(b.TimesFor(2));  // on for one slot only
  std::vector<std::string> raws;
  for (int i = 0; i < 1000; ++i) raws.push_back("r" + std::to_string(i));
  for (int i = 0; i < 1000; ++i) {
    size_t r = b.AddRow(i % 3 == 0 ? -1 : 1, raws[static_cast<size_t>(i)]);
    ASSERT_EQ(r, static_cast<size_t>(i));
    for (uint32_t s = 0; s < 3; ++s) EXPECT_TRUE(b.at(r, s).is_null());  // every slot starts null
    b.at(r, 0) = Value::Int(i);
    b.SetTime(r, 1000 + i);
    if (i % 2) b.MarkFiltered(r);
  }
  ASSERT_EQ(b.size(), 1000u);
  EXPECT_EQ(b.filtered_count(), 500u);
  b.MarkFiltered(1);  // already marked: counted once
  EXPECT_EQ(b.filtered_count(), 500u);

  b.AddRow(+1, "half-decoded");
  b.MarkFiltered(1000);
  b.PopRow();
  EXPECT_EQ(b.size(), 1000u);
  EXPECT_EQ(b.filtered_count(), 500u);

  std::vector<uint8_t> keep(1000);
  for (size_t i = 0; i < keep.size(); ++i) keep[i] = i % 5 != 0;
  b.Compact(keep.data());
  ASSERT_EQ(b.size(), 800u);
  size_t filtered = 0;
  for (size_t r = 0, i = 0; i < 1000; ++i) {
    if (!keep[i]) continue;
    EXPECT_EQ(b.at(r, 0).as_int(), static_cast<int64_t>(i));
    EXPECT_EQ(b.weight(r), i % 3 == 0 ? -1 : 1);
    EXPECT_EQ(b.raw(r), raws[i]);
    EXPECT_EQ(b.times(1)[r], static_cast<Timestamp>(1000 + i));
    EXPECT_EQ(b.filtered(r), i % 2 == 1);
    EXPECT_EQ(b.filtered_flags()[r], i % 2);
    filtered += i % 2;
    ++r;
  }
  EXPECT_EQ(b.filtered_count(), filtered);
  EXPECT_EQ(b.weights().size(), 800u);
  EXPECT_EQ(b.times(2), nullptr);
}

// Times can be turned on only while the batch is empty, also after Reserve.
TEST(Batch, TimesOnlyWhileEmpty) {
  Batch b(1);
  b.Reserve(100);
  b.AddRow(+1);
  EXPECT_FALSE(b.TimesFor(0));
  EXPECT_EQ(b.times(0), nullptr);
  Batch c(1);
  c.Reserve(100);
  EXPECT_TRUE(c.TimesFor(0));
  for (int i = 0; i < 300; ++i) c.SetTime(c.AddRow(+1), i);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(c.times(0)[i], i);
}

// A moved-from batch is empty and can be filled again; the moved-to one has everything.
TEST(Batch, MoveLeavesAnEmptyReusableBatch) {
  Batch a(2);
  ASSERT_TRUE(a.TimesFor(0));
  for (int i = 0; i < 100; ++i) {
    size_t r = a.AddRow(+1, "x");
    a.at(r, 1) = Value::Int(i);
    a.SetTime(r, i);
    a.MarkFiltered(r);
  }
  Batch b(std::move(a));
  EXPECT_EQ(b.size(), 100u);
  EXPECT_EQ(b.filtered_count(), 100u);
  EXPECT_EQ(b.at(99, 1).as_int(), 99);
  EXPECT_EQ(b.times(0)[42], 42);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(a.filtered_count(), 0u);
  size_t r = a.AddRow(-1, "y");
  EXPECT_EQ(r, 0u);
  EXPECT_EQ(a.weight(0), -1);
  EXPECT_TRUE(a.at(0, 1).is_null());
  Batch c;
  c = std::move(b);
  EXPECT_EQ(c.size(), 100u);
  EXPECT_EQ(c.raw(7), "x");
}

}  // namespace
}  // namespace weir
