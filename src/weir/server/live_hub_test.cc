// The live hub on its own: rings, resume with and without a gap, restarts, filters, slow
// subscribers, merging metrics, wake-ups, snapshots.
#include "weir/server/live_hub.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace weir::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr Timestamp kMinute = 60000;
constexpr Timestamp kW1 = 1771237800000;  // 2026-02-16T10:30:00Z
constexpr Timestamp kW2 = kW1 + kMinute;

MetricSchema Schema(std::string id, uint32_t index = 0) {
  MetricSchema s;
  s.id = std::move(id);
  s.index = index;
  s.key_names = {"country"};
  s.value_names = {"views"};
  return s;
}

struct Row {
  Timestamp window = kW1;
  std::string country;
  int64_t views = 0;
  bool deleted = false;
};

// Emits rows as a metric would: consecutive seq numbers, after `seq`.
class Emitter {
 public:
  Emitter(LiveHub& hub, const MetricSchema& schema, uint64_t seq = 0) : hub_(hub), schema_(schema), seq_(seq) {}
  void Emit(const std::vector<Row>& rows, std::vector<Timestamp> replaces = {}) {
    ResultBatch b;
    b.schema = &schema_;
    b.replaces = std::move(replaces);
    b.cells.reserve(rows.size() * 2);
    for (const Row& r : rows) {
      size_t base = b.cells.size();
      b.cells.push_back(Value::String(b.arena.Copy(r.country)));
      b.cells.push_back(r.deleted ? Value::Null() : Value::Int(r.views));
      ResultRow row;
      row.window_start = r.window;
      row.window_end = r.window + kMinute;
      row.seq = ++seq_;
      row.final = false;
      row.deleted = r.deleted;
      row.keys = b.cells.data() + base;
      row.values = b.cells.data() + base + 1;
      b.rows.push_back(row);
    }
    hub_.OnResults(b);
  }
  void Emit(std::string country, int64_t views, Timestamp window = kW1) { Emit({{window, std::move(country), views}}); }
  uint64_t seq() const { return seq_; }
  void set_seq(uint64_t s) { seq_ = s; }

 private:
  LiveHub& hub_;
  const MetricSchema& schema_;
  uint64_t seq_;
};

// Polls until nothing more is due.
std::vector<LiveEvent> PollAll(LiveSubscription& sub) {
  std::vector<LiveEvent> events;
  for (int i = 0; i < 1000 && sub.Poll(events); ++i) {
  }
  return events;
}

// "u:<seq>" for updates, "s:<seq>" / "reset:<seq>" for snapshots.
std::vector<std::string> Kinds(const std::vector<LiveEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    if (e.kind == LiveEvent::Kind::kUpdate) {
      out.push_back("u:" + std::to_string(e.row->seq));
    } else {
      bool reset = e.snapshot.find("\"reset\":true") != std::string::npos;
      size_t at = e.snapshot.find("\"seq\":") + 6;
      out.push_back((reset ? "reset:" : "s:") + e.snapshot.substr(at, e.snapshot.find(',', at) - at));
    }
  }
  return out;
}

std::vector<std::string> Positions(const std::vector<LiveEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.position);
  return out;
}

TEST(LiveHub, UpdateMessagesAreFormattedOnce) {
  MetricSchema views = Schema("views");
  LiveHub hub({&views});
  Emitter em(hub, views);
  auto sub = hub.Subscribe(nullptr);
  ASSERT_TRUE(sub->Subscribe("views", {}, 0));
  em.Emit("DE", 3);
  auto events = PollAll(*sub);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].text(),
            R"({"type":"update","metric":"views","seq":1,"row":{"metric":"views","window_start":"2026-02-16T10:30:00.000Z",)"
            R"("window_end":"2026-02-16T10:31:00.000Z","country":"DE","views":3,"revision":1,"final":false}})");
  EXPECT_EQ(events[0].row->row().substr(0, 17), R"({"metric":"views")");
  EXPECT_EQ(events[0].position, "views=1");
}

TEST(LiveHub, RingKeepsTheLastRowsWithinItsLimits) {
  MetricSchema views = Schema("views");
  LiveHub hub({&views}, {.ring_rows = 3});
  Emitter em(hub, views);
  for (int i = 0; i < 5; ++i) em.Emit("DE", i);
  auto stats = hub.ring_stats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].rows, 3u);
  EXPECT_EQ(stats[0].first_seq, 3u);
  EXPECT_EQ(stats[0].last_seq, 5u);
  EXPECT_EQ(stats[0].rows_total, 5u);

  // By bytes: each row is a couple of hundred bytes; 500 keep two (and always at least one).
  LiveHub small({&views}, {.ring_rows = 100, .ring_bytes = 500});
  Emitter em2(small, views);
  for (int i = 0; i < 5; ++i) em2.Emit("DE", i);
  stats = small.ring_stats();
  EXPECT_EQ(stats[0].rows, 2u);
  EXPECT_LE(stats[0].bytes, 500u);
  LiveHub tiny({&views}, {.ring_rows = 100, .ring_bytes = 10});
  Emitter em3(tiny, views);
  for (int i = 0; i < 5; ++i) em3.Emit("DE", i);
  EXPECT_EQ(tiny.ring_stats()[0].rows, 1u);
  EXPECT_THAT(small.StatsJson(), HasSubstr(R"("views":{"ring_rows":2,)"));
  EXPECT_THAT(small.StatsJson(), HasSubstr(R"("first_seq":4,"last_seq":5,"rows_total":5,"subscribers":0})"));
}

TEST(LiveHub, FirstSubscribeGetsTheLatestWindowThenUpdates) {
  MetricSchema views = Schema("views");
  LiveHub hub({&views});
  Emitter em(hub, views);
  em.Emit("DE", 1);
  em.Emit("FR", 1);
  em.Emit("DE", 2);
  em.Emit({{kW2, "DE", 1}, {kW2, "US", 5}});
  em.Emit({{kW2, "US", 6}});
  em.Emit({{kW2, "US", 0, true}, {kW2, "FR", 1}});  // US deleted

  auto sub = hub.Subscribe(nullptr);
  ASSERT_TRUE(sub->Subscribe("views", {}, std::nullopt));
  auto events = PollAll(*sub);
  ASSERT_EQ(Kinds(events), std::vector<std::string>{"s:8"});
  const std::string& s = events[0].snapshot;
  EXPECT_THAT(s, HasSubstr(R"({"type":"snapshot","metric":"views","seq":8,"reset":false,"rows":[)"));
  EXPECT_THAT(s, HasSubstr(R"("window_start":"2026-02-16T10:31:00.000Z","window_end":"2026-02-16T10:32:00.000Z","country":"DE","views":1)"));
  EXPECT_THAT(s, HasSubstr(R"("country":"FR","views":1)"));
  EXPECT_THAT(s, Not(HasSubstr("US")));
  EXPECT_THAT(s, Not(HasSubstr("10:30:00")));
  EXPECT_EQ(events[0].position, "views=8");

  em.Emit({{kW2, "DE", 2}});
  events = PollAll(*sub);
  EXPECT_EQ(Kinds(events), std::vector<std::string>{"u:9"});
  EXPECT_EQ(events[0].position, "views=9");
  EXPECT_TRUE(PollAll(*sub).empty());
}

TEST(LiveHub, SnapshotBeforeAnyRowHasNoPositionAndMissesNothing) {
  MetricSchema views = Schema("views");
  LiveHub hub({&views}, {.ring_rows = 3});
  auto sub = hub.Subscribe(nullptr);
  ASSERT_TRUE(sub->Subscribe("views", {}, std::nullopt));
  auto events = PollAll(*sub);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_THAT(events[0].snapshot, HasSubstr(R"("seq":null,"reset":false,"rows":[])"));
  EXPECT_EQ(events[0].position, "");
  Emitter em(hub, views, 41);  // a restarted process: seq goes on from the checkpoint
  em.Emit("DE", 1);
  em.Emit("DE", 2);
  EXPECT_EQ(Kinds(PollAll(*sub)), (std::vector<std::string>{"u:42", "u:43"}));
}

TEST(LiveHub, ResumeReplaysExactlyTheMissedRows) {
  MetricSchema views = Schema("views");
  LiveHub hub({&views}, {.ring_rows = 100});
  Emitter em(hub, views);
  for (int i = 1; i <= 5; ++i) em.Emit(i % 2 ? "DE" : "FR", i);

  auto sub = hub.Subscribe(nullptr);
  ASSERT_TRUE(sub->Subscribe("views", {}, 2));
  auto events = PollAll(*sub);
  EXPECT_EQ(Kinds(events), (std::vector<std::string>{"u:3", "u:4", "u:5"}));
  EXPECT_EQ(Positions(events), (std::vector<std::string>{"views=3", "views=4", "views=5"}));
  em.Emit("DE", 6);
  EXPECT_EQ(Kinds(PollAll(*sub)), std::vector<std::string>{"u:6"});
  EXPECT_TRUE(PollAll(*sub).empty());

  // Resuming at the newest row, or from the row before the oldest kept: nothing is lost.
  auto at_end = hub.Subscribe(nullptr);
  ASSERT_TRUE(at_end->Subscribe("views", {}, 6));
  EXPECT_TRUE(PollAll(*at_end).empty());
  EXPECT_EQ(at_end->Position(), "views=6");
  auto from_start = hub.Subscribe(nullptr);
  ASSERT_TRUE(from_start->Subscribe("views", {}, 0));
  EXPECT_EQ(PollAll(*from_start).size(), 6u);
}

TEST(LiveHub, ResumeFromBeyondTheRingGetsAResetSnapshot) {
  MetricSchema views = Schema("views");
  LiveHub hub({&views}, {.ring_rows = 3});
  Emitter em(hub, views);
  for (int i = 1; i <= 10; ++i) em.Emit("DE", i);
  auto sub = hub.Subscribe(nullptr);
  ASSERT_TRUE(sub->Subscribe("views", {}, 6));  // 7 is gone (8, 9, 10 are kept)
  auto events = PollAll(*sub);
  ASSERT_EQ(Kinds(events), std::vector<std::string>{"reset:10"});
  EXPECT_THAT(events[0].snapshot, HasSubstr(R"("country":"DE","views":10)"));
  EXPECT_EQ(events[0].position, "views=10");
  em.Emit("DE", 11);
  EXPECT_EQ(Kinds(PollAll(*sub)), std::vector<std::string>{"u:11"});

  auto edge = hub.Subscribe(nullptr);
  ASSERT_TRUE(edge->Subscribe("views", {}, 8));  // 9 onwards is kept
  EXPECT_EQ(Kinds(PollAll(*edge)), (std::vector<std::string>{"u:9", "u:10", "u:11"}));
  std::string stats = hub.StatsJson();
  EXPECT_THAT(stats, HasSubstr(R"("snapshots":1,"resets":1,)"));
}

TEST(LiveHub, AfterARestartReplayedRowsAreNotSentTwice) {
  MetricSchema views = Schema("views");
  LiveHub hub({&views});
  auto sub = hub.Subscribe(nullptr);
  // The client had seen up to 7 from the previous process, which checkpointed at 5.
  ASSERT_TRUE(sub->Subscribe("views", {}, 7));
  EXPECT_TRUE(PollAll(*sub).empty());
  Emitter em(hub, views, 5);
  em.Emit("DE", 6);
  em.Emit("DE", 7);
  em.Emit("DE", 8);
  EXPECT_EQ(Kinds(PollAll(*sub)), std::vector<std::string>{"u:8"});

  // This process checkpointed at 5 too, but the client had only seen 3: rows 4 and 5 exist
  // nowhere in the ring, so it starts again from a snapshot.
  LiveHub hub2({&views});
  auto behind = hub2.Subscribe(nullptr);
  ASSERT_TRUE(behind->Subscribe("views", {}, 3));
  Emitter em2(hub2, views, 5);
  em2.Emit("DE", 6);
  EXPECT_EQ(Kinds(PollAll(*behind)), std::vector<std::string>{"reset:6"});
  // Exactly at the checkpoint: nothing missing.
  auto exact = hub2.Subscribe(nullptr);
  ASSERT_TRUE(exact->Subscribe("views", {}, 5));
  EXPECT_EQ(Kinds(PollAll(*exact)), std::vector<std::string>{"u:6"});
}

TEST(LiveHub, SeqGoingBackwardsVoidsPositions) {
  MetricSchema views = Schema("views");
  LiveHub hub({&views});
  Emitter em(hub, views);
  for (int i = 1; i <= 4; ++i) em.Emit("DE", i);
  auto sub = hub.Subscribe(nullptr);
  ASSERT_TRUE(sub->Subscribe("views", {}, 4));
  EXPECT_TRUE(PollAll(*sub).empty());
  em.set_seq(1);  // state restored under the running process
  em.Emit("DE", 100);
  EXPECT_EQ(Kinds(PollAll(*sub)), std::vector<std::string>{"reset:2"});
  em.Emit("DE", 101);
  EXPECT_EQ(Kinds(PollAll(*sub)), std::vector<std::string>{"u:3"});
}

TEST(LiveHub, FiltersSelectRowsButPositionsAdvance) {
  MetricSchema views = Schema("views");
  MetricSchema by_code = Schema("by_code", 1);
  by_code.key_names = {"code"};
  LiveHub hub({&views, &by_code});
  Emitter em(hub, views);
  auto sub = hub.Subscribe(nullptr);
  ASSERT_TRUE(sub->Subscribe("views", {{"country", "DE"}}, 0));
  em.Emit("DE", 1);
  em.Emit("FR", 1);
  em.Emit("FR", 2);
  auto events = PollAll(*sub);
  EXPECT_EQ(Kinds(events), std::vector<std::string>{"u:1"});
  EXPECT_EQ(sub->Position(), "views=3");  // FR rows were looked at
  em.Emit("DE", 2);
  events = PollAll(*sub);
  EXPECT_EQ(Kinds(events), std::vector<std::string>{"u:4"});
  EXPECT_EQ(events[0].position, "views=4");

  // Snapshots are filtered too.
  auto snap = hub.Subscribe(nullptr);
  ASSERT_TRUE(snap->Subscribe("views", {{"country", "FR"}}, std::nullopt));
  events = PollAll(*snap);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_THAT(events[0].snapshot, HasSubstr(R"("country":"FR","views":2)"));
  EXPECT_THAT(events[0].snapshot, Not(HasSubstr("DE")));

  // Numbers compare by value.
  ResultBatch b;
  b.schema = &by_code;
  b.cells = {Value::Double(5.0), Value::Int(1), Value::Int(6), Value::Int(1)};
  for (int i = 0; i < 2; ++i) {
    ResultRow r;
    r.window_start = kW1;
    r.seq = static_cast<uint64_t>(i + 1);
    r.keys = b.cells.data() + 2 * i;
    r.values = b.cells.data() + 2 * i + 1;
    b.rows.push_back(r);
  }
  auto num = hub.Subscribe(nullptr);
  ASSERT_TRUE(num->Subscribe("by_code", {{"code", "5"}}, 0));
  hub.OnResults(b);
  EXPECT_EQ(Kinds(PollAll(*num)), std::vector<std::string>{"u:1"});

  auto bad = sub->Subscribe("views", {{"currency", "USD"}}, 0);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "'currency' is not a group key of metric 'views' (group keys: country)");
  bad = sub->Subscribe("nope", {}, 0);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "unknown metric 'nope'; metrics: views, by_code");
}

TEST(LiveHub, SlowSubscriberThatFellOutOfTheRingGetsASnapshotWhenItCatchesUp) {
  MetricSchema views = Schema("views");
  LiveHub hub({&views}, {.ring_rows = 4});
  Emitter em(hub, views);
  auto fast = hub.Subscribe(nullptr);
  auto slow = hub.Subscribe(nullptr);
  ASSERT_TRUE(fast->Subscribe("views", {}, 0));
  ASSERT_TRUE(slow->Subscribe("views", {}, 0));
  em.Emit("DE", 1);
  em.Emit("DE", 2);
  EXPECT_EQ(PollAll(*slow).size(), 2u);
  std::vector<std::string> fast_seen;
  for (int i = 3; i <= 12; ++i) {
    em.Emit(i % 2 ? "DE" : "FR", i);
    for (const auto& k : Kinds(PollAll(*fast))) fast_seen.push_back(k);
  }
  EXPECT_EQ(fast_seen.size(), 12u);  // the fast one saw every row
  // The slow one is 10 rows behind with a ring of 4: its backlog is gone, it starts over.
  auto events = PollAll(*slow);
  ASSERT_EQ(Kinds(events), std::vector<std::string>{"reset:12"});
  EXPECT_THAT(events[0].snapshot, HasSubstr(R"("country":"DE","views":11)"));
  EXPECT_THAT(events[0].snapshot, HasSubstr(R"("country":"FR","views":12)"));
  em.Emit("DE", 13);
  EXPECT_EQ(Kinds(PollAll(*slow)), std::vector<std::string>{"u:13"});
}

TEST(LiveHub, MetricsInterleaveInEmissionOrder) {
  MetricSchema a = Schema("a", 0), b = Schema("b", 1);
  LiveHub hub({&a, &b}, {.batch_rows = 2});
  Emitter ea(hub, a), eb(hub, b);
  auto sub = hub.Subscribe(nullptr);
  ASSERT_TRUE(sub->Subscribe("a", {}, 0));
  ASSERT_TRUE(sub->Subscribe("b", {}, 0));
  ea.Emit("DE", 1);
  eb.Emit("DE", 1);
  ea.Emit("DE", 2);
  eb.Emit("DE", 2);
  eb.Emit("DE", 3);
  std::vector<LiveEvent> events;
  EXPECT_TRUE(sub->Poll(events));  // two per poll, more to come
  EXPECT_EQ(events.size(), 2u);
  while (sub->Poll(events)) {
  }
  EXPECT_THAT(Positions(events), ElementsAre("a=1;b=0", "a=1;b=1", "a=2;b=1", "a=2;b=2", "a=2;b=3"));
  EXPECT_EQ(sub->metrics(), (std::vector<std::string>{"a", "b"}));

  // Resuming both from a position string.
  auto pos = ParseLivePosition("a=1;b=2");
  ASSERT_TRUE(pos);
  auto again = hub.Subscribe(nullptr);
  for (const auto& [metric, seq] : *pos) ASSERT_TRUE(again->Subscribe(metric, {}, seq));
  EXPECT_THAT(Kinds(PollAll(*again)), ElementsAre("u:2", "u:3"));
  EXPECT_EQ(again->Position(), "a=2;b=3");

  EXPECT_TRUE(sub->Unsubscribe("a"));
  EXPECT_FALSE(sub->Unsubscribe("a"));
  ea.Emit("DE", 3);
  eb.Emit("DE", 4);
  EXPECT_THAT(Kinds(PollAll(*sub)), ElementsAre("u:4"));
}

TEST(LiveHub, WakesOncePerPollAndNeverAfterCancel) {
  MetricSchema views = Schema("views");
  LiveHub hub({&views});
  Emitter em(hub, views);
  int wakes = 0;
  auto sub = hub.Subscribe([&] { ++wakes; });
  EXPECT_EQ(hub.subscribers(), 1u);
  ASSERT_TRUE(sub->Subscribe("views", {}, 0));
  EXPECT_EQ(wakes, 1);  // subscribing has something to poll (here: nothing yet, but a check)
  em.Emit("DE", 1);
  em.Emit("DE", 2);
  EXPECT_EQ(wakes, 1);  // still pending: no second wake
  std::vector<LiveEvent> events;
  sub->Poll(events);
  em.Emit("DE", 3);
  EXPECT_EQ(wakes, 2);
  sub->Cancel();
  EXPECT_EQ(hub.subscribers(), 0u);
  sub->Poll(events);
  em.Emit("DE", 4);
  EXPECT_EQ(wakes, 2);
  EXPECT_EQ(hub.ring_stats()[0].subscribers, 0u);
  EXPECT_FALSE(sub->Subscribe("views", {}, 0));
  // A subscription dropped without Cancel leaves too.
  {
    auto other = hub.Subscribe([&] { ++wakes; });
    ASSERT_TRUE(other->Subscribe("views", {}, 0));
  }
  EXPECT_EQ(hub.subscribers(), 0u);
  EXPECT_EQ(hub.ring_stats()[0].subscribers, 0u);
}

TEST(LiveHub, SnapshotSourceGetsFiltersAndItsErrorsAreReported) {
  MetricSchema views = Schema("views");
  LiveHub hub({&views});
  Emitter em(hub, views);
  em.Emit("DE", 1);
  LiveFilters seen;
  bool fail = false;
  hub.SetSnapshotSource([&](const MetricSchema& m, const LiveFilters& f, size_t limit) -> Result<std::vector<std::string>> {
    EXPECT_EQ(m.id, "views");
    EXPECT_EQ(limit, 10000u);
    seen = f;
    if (fail) return Fail("store is closed");
    return std::vector<std::string>{R"({"stored":1})", R"({"stored":2})"};
  });
  auto sub = hub.Subscribe(nullptr);
  ASSERT_TRUE(sub->Subscribe("views", {{"country", "DE"}}, std::nullopt));
  auto events = PollAll(*sub);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].snapshot,
            R"({"type":"snapshot","metric":"views","seq":1,"reset":false,"rows":[{"stored":1},{"stored":2}]})");
  EXPECT_EQ(seen, (LiveFilters{{"country", "DE"}}));
  fail = true;
  auto other = hub.Subscribe(nullptr);
  ASSERT_TRUE(other->Subscribe("views", {}, std::nullopt));
  events = PollAll(*other);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_THAT(events[0].snapshot, HasSubstr(R"("error":"store is closed","rows":[])"));
}

TEST(LiveHub, TopNReplacementsAreMarked) {
  MetricSchema top = Schema("top");
  top.top_n = true;
  LiveHub hub({&top});
  Emitter em(hub, top);
  em.Emit({{kW1, "DE", 9}, {kW1, "FR", 8}}, {kW1});
  em.Emit({{kW1, "US", 10}, {kW1, "DE", 9}}, {kW1});  // FR dropped out of the top two
  auto sub = hub.Subscribe(nullptr);
  ASSERT_TRUE(sub->Subscribe("top", {}, 0));
  auto events = PollAll(*sub);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_THAT(events[0].text(), HasSubstr(R"("seq":1,"replace":true,"row")"));
  EXPECT_THAT(events[1].text(), Not(HasSubstr("replace")));
  EXPECT_THAT(events[2].text(), HasSubstr(R"("seq":3,"replace":true,"row")"));
  auto snap = hub.Subscribe(nullptr);
  ASSERT_TRUE(snap->Subscribe("top", {}, std::nullopt));
  events = PollAll(*snap);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_THAT(events[0].snapshot, HasSubstr("US"));
  EXPECT_THAT(events[0].snapshot, Not(HasSubstr("FR")));
}

TEST(LiveHub, ParsesPositions) {
  auto p = ParseLivePosition(" revenue=120; views = 88 ;");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(*p, (std::vector<std::pair<std::string, uint64_t>>{{"revenue", 120}, {"views", 88}}));
  p = ParseLivePosition("42");
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, (std::vector<std::pair<std::string, uint64_t>>{{"", 42}}));
  for (std::string_view bad : {"", "revenue", "revenue=", "revenue=-1", "=5", "a=1;b=x", "99999999999999999999"}) {
    auto r = ParseLivePosition(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_THAT(r.error().message, HasSubstr("revenue=120;views=88")) << bad;
    }
  }
}

}  // namespace
}  // namespace weir::server
