#include "weir/codec/json_decoder.h"

#include <gtest/gtest.h>

#include <random>

namespace weir::codec {
namespace {

struct Fixture : ::testing::Test {
  Layout layout;
  uint32_t type = layout.Intern("event_type");
  uint32_t amount = layout.Intern("properties.amount");
  uint32_t currency = layout.Intern("properties.currency");
  uint32_t props = layout.Intern("properties");
  uint32_t ts = layout.Intern("ts_ms");
  uint32_t computed = layout.Intern("hour", true);

  Batch Decode(std::string_view ndjson, std::vector<Reject>* rejects = nullptr, DecodeStats* stats = nullptr) {
    JsonDecoder dec(layout);
    auto buf = PaddedBuffer::Copy(ndjson);
    Batch b(layout.width());
    b.Hold(buf);
    DecodeStats st = dec.DecodeNdjson(*buf, b, rejects);
    if (stats) *stats = st;
    return b;
  }
};

TEST_F(Fixture, ReadsOnlyLayoutFields) {
  Batch b = Decode(R"({"event_type":"purchase","x":[1,2,{"y":3}],"properties":{"amount":9.5,"currency":"USD","z":1}})");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b.at(0, type).as_string(), "purchase");
  EXPECT_DOUBLE_EQ(b.at(0, amount).as_double(), 9.5);
  EXPECT_EQ(b.at(0, currency).as_string(), "USD");
  ASSERT_TRUE(b.at(0, props).is_json());
  EXPECT_EQ(b.at(0, props).as_string(), R"({"amount":9.5,"currency":"USD","z":1})");
  EXPECT_TRUE(b.at(0, ts).is_null());
  EXPECT_TRUE(b.at(0, computed).is_null());
  EXPECT_EQ(b.weight(0), 1);
}

TEST_F(Fixture, TypesAndEscapes) {
  Batch b = Decode(
      "{\"event_type\":\"a\\\"b\\u00e9\",\"properties\":{\"amount\":42,\"currency\":null}}\n"
      "{\"event_type\":true,\"properties\":{\"amount\":18446744073709551615,\"currency\":[1]}}\n");
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b.at(0, type).as_string(), "a\"b\xc3\xa9");
  EXPECT_TRUE(b.at(0, amount).is_int());
  EXPECT_EQ(b.at(0, amount).as_int(), 42);
  EXPECT_TRUE(b.at(0, currency).is_null());
  EXPECT_TRUE(b.at(1, type).is_bool());
  EXPECT_TRUE(b.at(1, amount).is_double());
  EXPECT_EQ(b.at(1, currency).as_string(), "[1]");
}

TEST_F(Fixture, PathThroughNonObjectIsNull) {
  Batch b = Decode(R"({"properties":"flat"})");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b.at(0, props).as_string(), "flat");
  EXPECT_TRUE(b.at(0, amount).is_null());
}

TEST_F(Fixture, NdjsonRejectsBadLinesAndKeepsGoodOnes) {
  std::vector<Reject> rejects;
  DecodeStats st;
  Batch b = Decode(
      "{\"event_type\":\"a\"}\n\n{bad json}\r\n[1,2]\n  {\"event_type\":\"b\"}  \n{\"event_type\":\"c\"} trailing\n",
      &rejects, &st);
  EXPECT_EQ(st.events, 2u);
  EXPECT_EQ(st.rejected, 3u);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b.at(1, type).as_string(), "b");
  EXPECT_EQ(b.raw(1), R"({"event_type":"b"})");
  ASSERT_EQ(rejects.size(), 3u);
  EXPECT_EQ(rejects[0].index, 1u);
  EXPECT_NE(rejects[0].reason.find("malformed JSON"), std::string::npos);
  EXPECT_EQ(rejects[1].index, 2u);
  EXPECT_NE(rejects[1].reason.find("not a JSON object"), std::string::npos);
  EXPECT_EQ(rejects[2].index, 4u);
}

TEST_F(Fixture, OversizeEventRejected) {
  JsonDecoder dec(layout, DecodeOptions{.max_event_bytes = 20});
  auto buf = PaddedBuffer::Copy(R"({"event_type":"a very long value here"})");
  Batch b(layout.width());
  std::vector<Reject> rejects;
  dec.DecodeNdjson(*buf, b, &rejects);
  ASSERT_EQ(rejects.size(), 1u);
  EXPECT_NE(rejects[0].reason.find("larger than the limit of 20 bytes"), std::string::npos);
}

TEST_F(Fixture, DocumentForms) {
  JsonDecoder dec(layout);
  {
    auto buf = PaddedBuffer::Copy(R"({"event_type":"one"})");
    Batch b(layout.width());
    auto st = dec.DecodeDocument(*buf, b, nullptr);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->events, 1u);
    EXPECT_EQ(b.at(0, type).as_string(), "one");
  }
  {
    auto buf = PaddedBuffer::Copy(R"( {"events":[{"event_type":"a"}, 5, {"event_type":"b"}]} )");
    Batch b(layout.width());
    std::vector<Reject> rejects;
    auto st = dec.DecodeDocument(*buf, b, &rejects);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->events, 2u);
    EXPECT_EQ(st->rejected, 1u);
    ASSERT_EQ(rejects.size(), 1u);
    EXPECT_EQ(rejects[0].index, 1u);
    EXPECT_EQ(b.at(1, type).as_string(), "b");
  }
  {
    auto buf = PaddedBuffer::Copy(R"([{"event_type":"a"},{"event_type":"b"}])");
    Batch b(layout.width());
    auto st = dec.DecodeDocument(*buf, b, nullptr);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->events, 2u);
  }
  {
    // An object with an "events" key among others is a single event.
    auto buf = PaddedBuffer::Copy(R"({"event_type":"x","events":[1]})");
    Batch b(layout.width());
    auto st = dec.DecodeDocument(*buf, b, nullptr);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->events, 1u);
    EXPECT_EQ(b.at(0, type).as_string(), "x");
  }
  {
    // {"event": {...}} is one event, unwrapped.
    auto buf = PaddedBuffer::Copy(R"({"event":{"event_type":"click"}})");
    Batch b(layout.width());
    auto st = dec.DecodeDocument(*buf, b, nullptr);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->events, 1u);
    EXPECT_EQ(b.at(0, type).as_string(), "click");
  }
  for (std::string_view bad : {"{\"event_type\":", "", "  ", "42", "{\"a\":1} {\"b\":2}"}) {
    auto buf = PaddedBuffer::Copy(bad);
    Batch b(layout.width());
    EXPECT_FALSE(dec.DecodeDocument(*buf, b, nullptr)) << bad;
    EXPECT_EQ(b.size(), 0u);
  }
}

TEST_F(Fixture, NativeEnvelopeUpdateRetractsAndInserts) {
  Layout l;
  uint32_t status = l.Intern("status");
  uint32_t total = l.Intern("total");
  uint32_t ts_ms = l.Intern("ts_ms");
  uint32_t table = l.Intern("source.table");
  JsonDecoder dec(l);
  auto buf = PaddedBuffer::Copy(
      R"({"before":{"id":1,"status":"pending","total":10},"after":{"id":1,"status":"completed","total":12},"source":{"table":"orders"},"op":"u","ts_ms":1705312200000})"
      "\n"
      R"({"before":null,"after":{"id":2,"status":"pending","total":5},"op":"c","ts_ms":1})"
      "\n"
      R"({"before":{"id":2,"status":"pending","total":5},"after":null,"op":"d","ts_ms":2})"
      "\n"
      R"({"before":null,"after":null,"op":"x"})");
  Batch b(l.width());
  std::vector<Reject> rejects;
  DecodeStats st = dec.DecodeNdjson(*buf, b, &rejects);
  EXPECT_EQ(st.events, 4u);
  ASSERT_EQ(b.size(), 5u);
  EXPECT_EQ(b.weight(0), -1);
  EXPECT_EQ(b.at(0, status).as_string(), "pending");
  EXPECT_EQ(b.at(0, total).as_int(), 10);
  EXPECT_EQ(b.at(0, ts_ms).as_int(), 1705312200000);
  EXPECT_EQ(b.at(0, table).as_string(), "orders");
  EXPECT_EQ(b.weight(1), 1);
  EXPECT_EQ(b.at(1, status).as_string(), "completed");
  EXPECT_EQ(b.at(1, table).as_string(), "orders");
  EXPECT_EQ(b.weight(2), 1);
  EXPECT_EQ(b.at(2, total).as_int(), 5);
  EXPECT_EQ(b.weight(3), -1);
  EXPECT_EQ(b.at(3, ts_ms).as_int(), 2);
  // "op":"x" with null images is not a change envelope: an ordinary event.
  EXPECT_EQ(rejects.size(), 0u);
  EXPECT_EQ(b.weight(4), 1);
}

TEST_F(Fixture, DebeziumPayload) {
  Layout l;
  uint32_t status = l.Intern("status");
  uint32_t ts_ms = l.Intern("ts_ms");
  JsonDecoder dec(l);
  auto buf = PaddedBuffer::Copy(
      R"({"schema":{"type":"struct"},"payload":{"before":{"status":"a"},"after":{"status":"b"},"op":"u","ts_ms":7}})");
  Batch b(l.width());
  DecodeStats st = dec.DecodeNdjson(*buf, b, nullptr);
  EXPECT_EQ(st.events, 1u);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b.weight(0), -1);
  EXPECT_EQ(b.at(0, status).as_string(), "a");
  EXPECT_EQ(b.at(1, status).as_string(), "b");
  EXPECT_EQ(b.at(1, ts_ms).as_int(), 7);
  EXPECT_EQ(b.raw(1).substr(0, 10), R"({"schema":)");
}

TEST_F(Fixture, EnvelopeWithUnknownOpIsRejected) {
  Layout l;
  l.Intern("status");
  JsonDecoder dec(l);
  auto buf = PaddedBuffer::Copy(R"({"after":{"status":"a"},"op":"zz"})");
  Batch b(l.width());
  std::vector<Reject> rejects;
  dec.DecodeNdjson(*buf, b, &rejects);
  ASSERT_EQ(rejects.size(), 1u);
  EXPECT_NE(rejects[0].reason.find("unknown op 'zz'"), std::string::npos);
  EXPECT_EQ(b.size(), 0u);
}

// A gate keeping purchases: other events keep only the `always` field (the event time), and
// what follows it is neither read nor checked.
TEST_F(Fixture, GateSkipsTheRestOfDroppedEvents) {
  DecodeGate gate;
  gate.decide = {type};
  gate.always = {ts};
  gate.keep = [this](const Value* row, Arena&) { return row[type].is_string() && row[type].as_string() == "purchase"; };
  JsonDecoder dec(layout, {.envelopes = false, .gate = &gate});
  auto buf = PaddedBuffer::Copy(
      "{\"event_type\":\"view\",\"ts_ms\":5,\"properties\":{\"amount\":1},\"tail\" 1}\n"
      "{\"event_type\":\"purchase\",\"ts_ms\":6,\"properties\":{\"amount\":2,\"currency\":\"EUR\"}}\n"
      "{\"ts_ms\":7,\"event_type\":\"view\",\"properties\":{\"amount\":3}}\n"
      "{\"event_type\":\"purchase\",\"ts_ms\":8 \"properties\":{\"amount\":4}}\n");
  Batch b(layout.width());
  b.Hold(buf);
  std::vector<Reject> rejects;
  DecodeStats st = dec.DecodeNdjson(*buf, b, &rejects);
  EXPECT_EQ(st.events, 3u);
  ASSERT_EQ(rejects.size(), 1u);  // a kept event is read, and checked, to its end
  EXPECT_EQ(rejects[0].index, 3u);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b.at(0, type).as_string(), "view");
  EXPECT_EQ(b.at(0, ts).as_int(), 5);
  EXPECT_TRUE(b.at(0, amount).is_null());
  EXPECT_EQ(b.at(1, currency).as_string(), "EUR");
  EXPECT_EQ(b.at(1, amount).as_int(), 2);
  EXPECT_EQ(b.at(2, ts).as_int(), 7);  // `always` before the decision: kept as read
  EXPECT_TRUE(b.at(2, amount).is_null());
  // Dropped events are marked, for metrics to skip.
  EXPECT_EQ(b.filtered_count(), 2u);
  EXPECT_TRUE(b.filtered(0));
  EXPECT_FALSE(b.filtered(1));
  EXPECT_TRUE(b.filtered(2));
}

// A gate whose filters are all `field = 'text'` decides on string values by itself and asks
// `keep` only when a value is something else.
TEST_F(Fixture, GateEqualsDecidesStringsItself) {
  DecodeGate gate;
  gate.decide = {type};
  gate.always = {ts};
  int asked = 0;
  gate.keep = [&](const Value* row, Arena&) {
    ++asked;
    return row[type].is_int() && row[type].as_int() == 7;
  };
  gate.equals = {{type, "purchase"}, {type, "refund"}};
  JsonDecoder dec(layout, {.envelopes = false, .gate = &gate});
  auto buf = PaddedBuffer::Copy(
      "{\"event_type\":\"view\",\"ts_ms\":1}\n"
      "{\"event_type\":\"refund\",\"ts_ms\":2}\n"
      "{\"event_type\":7,\"ts_ms\":3}\n"
      "{\"event_type\":8,\"ts_ms\":4}\n"
      "{\"event_type\":\"purchases\",\"ts_ms\":5}\n");
  Batch b(layout.width());
  b.Hold(buf);
  dec.DecodeNdjson(*buf, b, nullptr);
  ASSERT_EQ(b.size(), 5u);
  EXPECT_EQ(asked, 2);  // the two numbers
  EXPECT_TRUE(b.filtered(0));
  EXPECT_FALSE(b.filtered(1));
  EXPECT_FALSE(b.filtered(2));
  EXPECT_TRUE(b.filtered(3));
  EXPECT_TRUE(b.filtered(4));
}

// A gate's time slot: each record's event time is read as the field is (EventTimeOf of its
// value; kMinTimestamp when missing or not a time), rejected events leave no time behind.
TEST_F(Fixture, GateTimeSlotReadsEventTimes) {
  DecodeGate gate;
  gate.time_slot = static_cast<int32_t>(ts);
  JsonDecoder dec(layout, {.envelopes = false, .gate = &gate});
  auto buf = PaddedBuffer::Copy(
      "{\"ts_ms\":\"2026-01-01T00:00:01.500Z\",\"event_type\":\"a\"}\n"
      "{\"ts_ms\":1767225600000}\n"
      "{\"ts_ms\":5, \"event_type\" 1}\n"
      "{\"event_type\":\"no time\"}\n"
      "{\"ts_ms\":\"yesterday\"}\n"
      "{\"ts_ms\":[1]}\n");
  Batch b(layout.width());
  b.Hold(buf);
  std::vector<Reject> rejects;
  dec.DecodeNdjson(*buf, b, &rejects);
  ASSERT_EQ(rejects.size(), 1u);
  ASSERT_EQ(b.size(), 5u);
  ASSERT_NE(b.times(ts), nullptr);
  EXPECT_EQ(b.times(type), nullptr);
  EXPECT_EQ(b.times(ts)[0], *ParseIso8601("2026-01-01T00:00:01.500Z"));
  EXPECT_EQ(b.times(ts)[1], 1767225600000);
  for (size_t i = 2; i < 5; ++i) EXPECT_EQ(b.times(ts)[i], kMinTimestamp) << i;
  for (size_t i = 0; i < 5; ++i) {
    auto t = EventTimeOf(b.at(i, ts));
    EXPECT_EQ(b.times(ts)[i], t ? *t : kMinTimestamp) << i;
  }
  // Not for a nested field, nor with change envelopes.
  DecodeGate nested;
  nested.time_slot = static_cast<int32_t>(amount);
  for (auto options :
       {DecodeOptions{.envelopes = false, .gate = &nested}, DecodeOptions{.envelopes = true, .gate = &gate}}) {
    JsonDecoder d(layout, options);
    Batch c(layout.width());
    c.Hold(buf);
    d.DecodeNdjson(*buf, c, nullptr);
    EXPECT_EQ(c.times(ts), nullptr);
    EXPECT_EQ(c.times(amount), nullptr);
  }
}

// A gate over a nested field, or on a decoder of change envelopes, is not used.
TEST_F(Fixture, GateNeedsTopLevelFieldsAndNoEnvelopes) {
  DecodeGate gate;
  gate.decide = {currency};
  gate.keep = [](const Value*, Arena&) { return false; };
  DecodeGate top;
  top.decide = {type};
  top.keep = [](const Value*, Arena&) { return false; };
  std::string_view line = R"({"event_type":"view","properties":{"amount":1,"currency":"USD"}})";
  for (auto options :
       {DecodeOptions{.envelopes = false, .gate = &gate}, DecodeOptions{.envelopes = true, .gate = &top}}) {
    JsonDecoder dec(layout, options);
    auto buf = PaddedBuffer::Copy(line);
    Batch b(layout.width());
    b.Hold(buf);
    dec.DecodeNdjson(*buf, b, nullptr);
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(b.at(0, amount).as_int(), 1);
  }
}

// Prefix reads (DecodeOptions::prefix_reads) give the same rows, marks, times and rejects as
// whole reads, wherever the fields the pipeline needs fall relative to the cut: lines whose needed
// fields start at every offset from 0 to ~400 bytes, behind fillers of multi-byte UTF-8 text,
// escapes, numbers and nested objects, with the needed fields in different orders.
std::string RandomLine(std::mt19937& rng) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  std::string filler;
  int len = pick(2) ? pick(40) : pick(280);  // the needed fields often near the first cut
  switch (pick(5)) {
    case 0:
      filler = "\"pad\":\"" + std::string(static_cast<size_t>(len), 'x') + "\"";
      break;
    case 1: {  // 2-, 3- and 4-byte UTF-8 sequences
      filler = "\"pad\":\"";
      while (static_cast<int>(filler.size()) < len)
        filler += pick(2)   ? "\xc3\xa9"
                  : pick(2) ? "\xe2\x82\xac"
                            : "\xf0\x9f\x98\x80"
                              "a";
      filler += "\"";
      break;
    }
    case 2:
      filler = "\"pad\":\"" + std::string(static_cast<size_t>(len), 'y') + "\\\"q\"";
      break;
    case 3: {
      filler = "\"pad\":[";
      for (int i = 0; static_cast<int>(filler.size()) < len; ++i) filler += std::to_string(i * 7919) + ",";
      filler += "0]";
      break;
    }
    default:
      filler = "\"pad\":{\"a\":{\"b\":\"" + std::string(static_cast<size_t>(len), 'z') + "\"},\"c\":1}";
      break;
  }
  std::string type = std::string("\"event_type\":") + (pick(3) ? "\"view\"" : pick(5) ? "\"purchase\"" : "17");
  std::string ts = "\"ts_ms\":" + (pick(2) ? std::to_string(1767225600000 + pick(100000))
                                           : "\"2026-01-01T00:00:0" + std::to_string(pick(10)) + ".250Z\"");
  std::string props = "\"properties\":{\"amount\":" + std::to_string(pick(100000)) + "." + std::to_string(pick(100)) +
                      ",\"currency\":\"" + (pick(2) ? "USD" : "EUR") + "\"}";
  std::string tail = "\"tail\":\"" + std::string(static_cast<size_t>(200 + pick(200)), 't') + "\"";
  std::vector<std::string> fields = {type, ts, props};
  std::shuffle(fields.begin(), fields.end(), rng);
  std::string line = "{" + filler;
  for (auto& f : fields) line += "," + f;
  return line + "," + tail + "}\n";
}

TEST(PrefixReads, AgreeWithWholeReads) {
  std::mt19937 rng(20261207);
  std::string text;
  for (int i = 0; i < 6000; ++i) text += RandomLine(rng);
  auto buf = PaddedBuffer::Copy(text);
  for (bool with_props : {false, true}) {
    Layout layout;
    uint32_t type = layout.Intern("event_type"), ts = layout.Intern("ts_ms");
    layout.Intern("properties.amount");
    layout.Intern("properties.currency");
    if (with_props) layout.Intern("properties");  // a leaf and a prefix of deeper paths
    DecodeGate gate = DecodeGate::FieldIs(type, "purchase", ts);
    DecodeGate times_only;
    times_only.time_slot = static_cast<int32_t>(ts);
    for (const DecodeGate* g : {&gate, &times_only}) {
      // Prefix reads over the whole text (their size adapts as they go), or with a new decoder
      // for every 40 lines (always trying 128 bytes first).
      auto decode = [&](bool prefix, size_t lines_per_decoder, std::vector<Reject>& rejects) {
        Batch b(layout.width());
        b.Hold(buf);
        size_t settled = 0;
        for (const char* p = buf->data(); p < buf->data() + buf->size();) {
          const char* end = p;
          for (size_t n = 0; n < lines_per_decoder && end < buf->data() + buf->size(); ++n)
            end = static_cast<const char*>(std::memchr(end, '\n', buf->size())) + 1;
          JsonDecoder dec(layout, {.envelopes = false, .gate = g, .prefix_reads = prefix});
          settled += dec.DecodeNdjsonRange(p, end, b, &rejects).prefix_reads;
          p = end;
        }
        if (prefix) {
          // The copies did settle many lines (with one decoder, prefix reads pause while they
          // settle too few).
          EXPECT_GT(settled, lines_per_decoder == 40 ? 600u : 100u);
        } else {
          EXPECT_EQ(settled, 0u);
        }
        return b;
      };
      std::vector<Reject> whole_rejects, prefix_rejects;
      Batch whole = decode(false, 6000, whole_rejects);
      EXPECT_TRUE(whole_rejects.empty());
      ASSERT_EQ(whole.size(), 6000u);
      for (size_t lines_per_decoder : {6000, 40}) {
        Batch prefix = decode(true, lines_per_decoder, prefix_rejects);
        EXPECT_TRUE(prefix_rejects.empty());
        ASSERT_EQ(prefix.size(), whole.size());
        EXPECT_EQ(prefix.filtered_count(), whole.filtered_count());
        if (g == &gate) {
          EXPECT_GT(whole.filtered_count(), 2000u);
        }
        for (size_t i = 0; i < whole.size(); ++i) {
          SCOPED_TRACE(testing::Message() << "line " << i << " with_props " << with_props);
          EXPECT_EQ(prefix.raw(i), whole.raw(i));
          EXPECT_EQ(prefix.filtered(i), whole.filtered(i));
          EXPECT_EQ(prefix.times(ts)[i], whole.times(ts)[i]);
          for (uint32_t slot = 0; slot < layout.width(); ++slot) {
            // Fields of dropped events past the decision are not read, by either.
            const Value& a = prefix.at(i, slot);
            EXPECT_TRUE(a.IdenticalTo(whole.at(i, slot))) << layout.field(slot).path;
            if (a.is_string() || a.is_json()) {  // views into the input, never into a copy
              EXPECT_TRUE(a.as_string().data() >= buf->data() && a.as_string().data() < buf->data() + buf->size());
            }
          }
        }
      }
    }
  }
}

// Only what is read is checked: a malformed tail past the needed fields passes with prefix reads
// (and is rejected by whole reads), but a line that does not end its object is rejected by both.
TEST(PrefixReads, CheckWhatIsReadAndTheClosingBrace) {
  Layout layout;
  uint32_t type = layout.Intern("event_type");
  layout.Intern("ts_ms");
  std::string pad(300, 'p');
  std::string bad_tail = "{\"event_type\":\"view\",\"ts_ms\":1,\"tail\":\"" + pad + "\xff\"}\n";
  std::string truncated = "{\"event_type\":\"view\",\"ts_ms\":1,\"tail\":\"" + pad + "\"\n";
  for (bool prefix : {false, true}) {
    JsonDecoder dec(layout, {.envelopes = false, .prefix_reads = prefix});
    auto buf = PaddedBuffer::Copy(bad_tail + truncated);
    Batch b(layout.width());
    b.Hold(buf);
    std::vector<Reject> rejects;
    DecodeStats st = dec.DecodeNdjson(*buf, b, &rejects);
    EXPECT_EQ(st.events, prefix ? 1u : 0u);
    ASSERT_EQ(rejects.size(), prefix ? 1u : 2u);
    EXPECT_EQ(rejects.back().index, 1u);
    if (prefix) {
      EXPECT_EQ(b.at(0, type).as_string(), "view");
    }
  }
}

// A gate's `equals` text seen quoted in a line's first bytes sends the line to a long prefix read
// that reads a kept event through (or, when what is wanted lies beyond it, to a whole decode);
// seen as something else than the gate's field, it changes no outcome: the gate still decides on
// the field.
TEST(PrefixReads, GateProbeOnlyChoosesTheRead) {
  Layout layout;
  uint32_t type = layout.Intern("event_type"), ts = layout.Intern("ts_ms"), amount = layout.Intern("amount");
  const DecodeGate gate = DecodeGate::FieldIs(type, "purchase", ts);
  const std::string tail = ",\"amount\":5,\"tail\":\"" + std::string(300, 't') + "\"}\n";
  const std::string far = ",\"tail\":\"" + std::string(300, 't') + "\",\"amount\":6}\n";
  const std::string text = "{\"event_type\":\"purchase\",\"ts_ms\":1" + tail +             // kept, long read
                           "{\"event_type\":\"view\",\"ts_ms\":2" + tail +                 // dropped, short read
                           "{\"purchase\":1,\"event_type\":\"view\",\"ts_ms\":3" + tail +  // probed, then dropped
                           "{\"note\":\"purchase\",\"event_type\":\"purchase\",\"ts_ms\":4" + tail +
                           "{\"event_type\":\"purchase\",\"ts_ms\":5" + far;  // amount beyond the long copy
  auto buf = PaddedBuffer::Copy(text);
  for (bool prefix : {false, true}) {
    JsonDecoder dec(layout, {.envelopes = false, .gate = &gate, .prefix_reads = prefix});
    Batch b(layout.width());
    b.Hold(buf);
    DecodeStats st = dec.DecodeNdjson(*buf, b, nullptr);
    ASSERT_EQ(b.size(), 5u);
    EXPECT_EQ(st.prefix_reads, prefix ? 4u : 0u);  // all but the last
    EXPECT_FALSE(b.filtered(0));
    EXPECT_TRUE(b.filtered(1));
    EXPECT_TRUE(b.filtered(2));
    EXPECT_FALSE(b.filtered(3));
    EXPECT_FALSE(b.filtered(4));
    for (size_t i = 0; i < 5; ++i) EXPECT_EQ(b.times(ts)[i], static_cast<Timestamp>(i + 1) * 1000);  // epoch seconds
    EXPECT_EQ(b.at(0, amount).as_int(), 5);
    EXPECT_EQ(b.at(3, amount).as_int(), 5);
    EXPECT_EQ(b.at(4, amount).as_int(), 6);
  }
}

// A nested object is read until every key wanted from it has been seen, like the top level: a
// repeated key after that is not read, by whole and prefix reads alike. A prefix read is settled
// by the last nested value when it ends before the cut, without reading another top-level key.
TEST(PrefixReads, NestedObjectsStopOnceEverythingIsRead) {
  Layout layout;
  const uint32_t type = layout.Intern("event_type"), ts = layout.Intern("ts_ms");
  const uint32_t amount = layout.Intern("properties.amount"), currency = layout.Intern("properties.currency");
  const DecodeGate gate = DecodeGate::FieldIs(type, "purchase", ts);
  // The properties end past byte 256; the currency well before it.
  const std::string props = R"("properties":{"amount":7,"note":")" + std::string(140, 'n') +
                            R"(","currency":"EUR","pad":")" + std::string(60, 'p') +
                            R"(","amount":8,"currency":"USD","more":")" + std::string(100, 'm') + "\"}";
  const std::string line = R"({"event_type":"purchase","ts_ms":1,)" + props + R"(,"tail":")" + std::string(50, 't') + "\"}\n";
  ASSERT_GT(line.find("\"currency\":\"USD\""), 256u);
  ASSERT_LT(line.find("\"currency\":\"EUR\""), 230u);
  auto buf = PaddedBuffer::Copy(line + line);
  for (bool prefix : {false, true}) {
    JsonDecoder dec(layout, {.envelopes = false, .gate = &gate, .prefix_reads = prefix});
    Batch b(layout.width());
    b.Hold(buf);
    DecodeStats st = dec.DecodeNdjson(*buf, b, nullptr);
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(st.prefix_reads, prefix ? 2u : 0u);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(b.at(i, amount).as_int(), 7);
      EXPECT_EQ(b.at(i, currency).as_string(), "EUR");
      // Strings point into the line itself, not into a copy.
      EXPECT_EQ(b.at(i, currency).as_string().data(), b.raw(i).data() + line.find("EUR"));
    }
  }
}

// While short prefix reads do not pay (what is wanted lies past the first 128 bytes), lines are
// read from the long, 256-byte copy instead, with or without a gate.
TEST(PrefixReads, LongCopiesWhileShortOnesPause) {
  Layout layout;
  const uint32_t a = layout.Intern("a"), ts = layout.Intern("ts_ms");
  std::string text;
  for (int i = 0; i < 3000; ++i)
    text += "{\"pad\":\"" + std::string(150, 'x') + "\",\"a\":" + std::to_string(i) + ",\"ts_ms\":" +
            std::to_string(1767225600000 + i) + ",\"tail\":\"" + std::string(100, 't') + "\"}\n";
  auto buf = PaddedBuffer::Copy(text);
  for (bool prefix : {false, true}) {
    JsonDecoder dec(layout, {.envelopes = false, .prefix_reads = prefix});
    Batch b(layout.width());
    b.Hold(buf);
    DecodeStats st = dec.DecodeNdjson(*buf, b, nullptr);
    ASSERT_EQ(b.size(), 3000u);
    // The first 1024 lines try the short copy in vain; then short reads pause and long ones settle.
    if (prefix) EXPECT_GE(st.prefix_reads, 1900u);
    else EXPECT_EQ(st.prefix_reads, 0u);
    for (size_t i = 0; i < 3000; ++i) {
      ASSERT_EQ(b.at(i, a).as_int(), static_cast<int64_t>(i));
      ASSERT_EQ(b.at(i, ts).as_int(), 1767225600000 + static_cast<int64_t>(i));
    }
  }
}

}  // namespace
}  // namespace weir::codec
