// Tests for the pipeline loader: a full valid pipeline, then one test per kind of error with the
// exact file:line:column and key path of each diagnostic.
#include "weir/spec/spec.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace weir::spec {
namespace {

using ::testing::HasSubstr;

/// Line and column (1-based) of the first occurrence of `needle` in `text`.
std::pair<int, int> Find(std::string_view text, std::string_view needle) {
  size_t pos = text.find(needle);
  EXPECT_NE(pos, std::string_view::npos) << needle;
  int line = 1, column = 1;
  for (size_t i = 0; i < pos; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

std::pair<int, int> At(const Location& l) { return {l.line, l.column}; }

/// All diagnostics of loading `yaml` as "p.yaml", formatted.
std::string Check(std::string_view yaml) {
  Diagnostics diags;
  LoadString(yaml, "p.yaml", diags);
  return diags.Format();
}

constexpr std::string_view kFull = R"y(apiVersion: weir/v1
kind: Pipeline
metadata:
  name: shop
  tenant: acme
spec:
  server:
    listen: 0.0.0.0:9090
    enabled: false
  sources:
    - type: http
      id: ingest
      config:
        path: /api/v1/events
    - type: simulator
      config: { scenario: shop, rate: 100 }
    - type: kafka
      config:
        id: orders
        brokers: "${WEIR_SPEC_TEST_UNSET_BROKERS:-localhost:9092}"
    - type: simulator
  processors:
    - type: filter
      where: event_type != 'heartbeat'
    - type: set
      id: enrich
      fields:
        amount_usd: properties.amount * 1.1
        day: "date_trunc('day', timestamp)"
    - type: dedupe
      key: event_id
      within: 1h
  metrics:
    - id: revenue_per_minute
      description: Revenue by currency
      from: [ingest, orders]
      where: event_type = 'purchase_completed'
      event_time: timestamp
      watermark: 5s
      allowed_lateness: 1m
      idle_timeout: 30s
      window: { tumbling: 1m }
      group_by: { currency: properties.currency }
      select:
        count: count()
        total_revenue: sum(properties.amount)
      having: count() > 0
      order_by: total_revenue desc
      limit: 10
      emit: { early: 1s }
    - id: active_users
      from: simulator
      window: { sliding: 5m, every: 1m }
      group_by:
        - properties.country
        - { device: lower(properties.device) }
      select:
        users: count_distinct(user_id)
      order_by: [users DESC, country asc]
    - id: sessions
      window: { session: 30m }
      select: { events: count() }
    - id: daily
      window: { cumulative: 1d, every: 1h }
      select: { n: count() }
    - id: totals
      window: none
      select:
        n: |
          count()
    - id: forever
      window: { none: true }
      select: { n: count() }
    - id: running
      select: { n: count() }
  sinks:
    - type: file
      id: out
      from: metric:revenue_per_minute
      config: { path: out.ndjson }
    - type: stdout
      from: late:revenue_per_minute
      required: false
    - type: kafka
      from: events
      config: { id: archive, topic: archive, required: false }
    - type: stdout
      from: metric:totals
)y";

TEST(Loader, LoadsFullPipeline) {
  unsetenv("WEIR_SPEC_TEST_UNSET_BROKERS");
  Diagnostics diags;
  std::optional<Pipeline> p = LoadString(kFull, "shop.yaml", diags);
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(diags.ok()) << diags.Format();
  EXPECT_TRUE(diags.all().empty()) << diags.Format();

  EXPECT_EQ(p->file, "shop.yaml");
  EXPECT_EQ(p->api_version, "weir/v1");
  EXPECT_EQ(p->name, "shop");
  EXPECT_EQ(p->tenant, "acme");
  EXPECT_EQ(p->server.host, "0.0.0.0");
  EXPECT_EQ(p->server.port, 9090);
  EXPECT_FALSE(p->server.enabled);
  EXPECT_TRUE(p->root.is_map());
  EXPECT_EQ(p->spec_node.path(), "spec");

  // Sources: explicit id, generated ids (with a suffix for the second simulator), config.id.
  ASSERT_EQ(p->sources.size(), 4u);
  EXPECT_EQ(p->sources[0].id, "ingest");
  EXPECT_EQ(p->sources[0].type, "http");
  EXPECT_EQ(p->sources[0].config["path"].raw(), "/api/v1/events");
  EXPECT_EQ(p->sources[0].config.path(), "spec.sources[0].config");
  EXPECT_EQ(At(p->sources[0].location), Find(kFull, "type: http"));
  EXPECT_EQ(p->sources[1].id, "simulator");
  EXPECT_EQ(p->sources[1].config["rate"].raw(), "100");
  EXPECT_EQ(p->sources[2].id, "orders");
  EXPECT_EQ(p->sources[2].type, "kafka");
  EXPECT_EQ(p->sources[3].id, "simulator-2");
  EXPECT_FALSE(p->sources[3].config.defined());
  // Connector configs are read later, with substitution on read and exact locations.
  ConfigReader kafka(p->sources[2].config, diags);
  EXPECT_EQ(kafka.RequiredString("brokers"), "localhost:9092");
  EXPECT_EQ(At(kafka.node()["brokers"].location()), Find(kFull, "\"${WEIR_SPEC_TEST_UNSET"));
  EXPECT_TRUE(diags.ok()) << diags.Format();

  // Processors: filter and set are checked and their expressions located; others are kept.
  ASSERT_EQ(p->processors.size(), 3u);
  EXPECT_EQ(p->processors[0].id, "filter");
  EXPECT_EQ(p->processors[0].type, "filter");
  EXPECT_EQ(p->processors[0].where.text, "event_type != 'heartbeat'");
  EXPECT_EQ(At(p->processors[0].where.location), Find(kFull, "event_type != "));
  EXPECT_EQ(p->processors[0].where.location.path, "spec.processors[0].where");
  EXPECT_EQ(p->processors[1].id, "enrich");
  ASSERT_EQ(p->processors[1].fields.size(), 2u);
  EXPECT_EQ(p->processors[1].fields[0].name, "amount_usd");
  EXPECT_EQ(p->processors[1].fields[0].expr.text, "properties.amount * 1.1");
  EXPECT_EQ(At(p->processors[1].fields[0].location), Find(kFull, "amount_usd:"));
  EXPECT_EQ(p->processors[1].fields[1].name, "day");
  EXPECT_EQ(p->processors[1].fields[1].expr.text, "date_trunc('day', timestamp)");
  EXPECT_EQ(At(p->processors[1].fields[1].expr.location), Find(kFull, "date_trunc"));  // after the quote
  EXPECT_EQ(p->processors[2].id, "dedupe");
  EXPECT_EQ(p->processors[2].type, "dedupe");
  EXPECT_EQ(p->processors[2].node["within"].raw(), "1h");

  ASSERT_EQ(p->metrics.size(), 7u);
  const MetricSpec& rev = p->metrics[0];
  EXPECT_EQ(rev.id, "revenue_per_minute");
  EXPECT_EQ(rev.description, "Revenue by currency");
  EXPECT_EQ(rev.from, (std::vector<std::string>{"ingest", "orders"}));
  EXPECT_EQ(rev.where.text, "event_type = 'purchase_completed'");
  EXPECT_EQ(At(rev.where.location), Find(kFull, "event_type = 'purchase"));
  EXPECT_EQ(At(rev.where.location), std::make_pair(37, 14));
  EXPECT_EQ(rev.event_time.text, "timestamp");
  EXPECT_EQ(rev.watermark, 5000);
  EXPECT_EQ(rev.allowed_lateness, 60000);
  EXPECT_EQ(rev.idle_timeout, 30000);
  EXPECT_EQ(rev.window.kind, WindowKind::kTumbling);
  EXPECT_EQ(rev.window.size, 60000);
  EXPECT_EQ(rev.window.every, 0);
  EXPECT_EQ(At(rev.window.location), Find(kFull, "{ tumbling"));
  ASSERT_EQ(rev.group_by.size(), 1u);
  EXPECT_EQ(rev.group_by[0].name, "currency");
  EXPECT_EQ(rev.group_by[0].expr.text, "properties.currency");
  ASSERT_EQ(rev.select.size(), 2u);
  EXPECT_EQ(rev.select[0].name, "count");
  EXPECT_EQ(rev.select[0].expr.text, "count()");
  EXPECT_EQ(rev.select[1].name, "total_revenue");
  EXPECT_EQ(rev.select[1].expr.text, "sum(properties.amount)");
  EXPECT_EQ(At(rev.select[1].expr.location), Find(kFull, "sum(properties"));
  EXPECT_EQ(rev.select[1].location.path, "spec.metrics[0].select.total_revenue");
  EXPECT_EQ(rev.having.text, "count() > 0");
  ASSERT_EQ(rev.order_by.size(), 1u);
  EXPECT_EQ(rev.order_by[0].name, "total_revenue");
  EXPECT_TRUE(rev.order_by[0].descending);
  EXPECT_EQ(rev.limit, 10);
  EXPECT_EQ(rev.emit_early, 1000);

  const MetricSpec& users = p->metrics[1];
  EXPECT_EQ(users.from, (std::vector<std::string>{"simulator"}));
  EXPECT_TRUE(users.where.empty());
  EXPECT_TRUE(users.event_time.empty());  // processing time
  EXPECT_EQ(users.watermark, 0);
  EXPECT_FALSE(users.idle_timeout.has_value());
  EXPECT_FALSE(users.emit_early.has_value());
  EXPECT_EQ(users.limit, 0);
  EXPECT_EQ(users.window.kind, WindowKind::kSliding);
  EXPECT_EQ(users.window.size, 300000);
  EXPECT_EQ(users.window.every, 60000);
  ASSERT_EQ(users.group_by.size(), 2u);
  EXPECT_EQ(users.group_by[0].name, "country");  // last component of the field path
  EXPECT_EQ(users.group_by[0].expr.text, "properties.country");
  EXPECT_EQ(At(users.group_by[0].expr.location), Find(kFull, "properties.country\n"));
  EXPECT_EQ(users.group_by[1].name, "device");
  EXPECT_EQ(users.group_by[1].expr.text, "lower(properties.device)");
  ASSERT_EQ(users.order_by.size(), 2u);
  EXPECT_EQ(users.order_by[0].name, "users");
  EXPECT_TRUE(users.order_by[0].descending);
  EXPECT_EQ(users.order_by[1].name, "country");
  EXPECT_FALSE(users.order_by[1].descending);

  EXPECT_EQ(p->metrics[2].window.kind, WindowKind::kSession);
  EXPECT_EQ(p->metrics[2].window.size, 1800000);
  EXPECT_TRUE(p->metrics[2].from.empty());  // every source
  EXPECT_EQ(p->metrics[3].window.kind, WindowKind::kCumulative);
  EXPECT_EQ(p->metrics[3].window.size, 86400000);
  EXPECT_EQ(p->metrics[3].window.every, 3600000);
  EXPECT_EQ(p->metrics[4].window.kind, WindowKind::kNone);
  // A block scalar starts on the line after `|`, at its indentation.
  EXPECT_EQ(p->metrics[4].select[0].expr.text, "count()\n");
  auto [block_line, block_column] = Find(kFull, "n: |");
  EXPECT_EQ(At(p->metrics[4].select[0].expr.location), std::make_pair(block_line + 1, block_column + 2));
  EXPECT_EQ(p->metrics[5].window.kind, WindowKind::kNone);
  EXPECT_EQ(p->metrics[6].window.kind, WindowKind::kNone);  // no window: one running result

  ASSERT_EQ(p->sinks.size(), 4u);
  EXPECT_EQ(p->sinks[0].id, "out");
  EXPECT_EQ(p->sinks[0].type, "file");
  EXPECT_EQ(p->sinks[0].from, "metric:revenue_per_minute");
  EXPECT_TRUE(p->sinks[0].required);
  EXPECT_EQ(p->sinks[0].config["path"].raw(), "out.ndjson");
  EXPECT_EQ(p->sinks[1].id, "stdout");
  EXPECT_EQ(p->sinks[1].from, "late:revenue_per_minute");
  EXPECT_FALSE(p->sinks[1].required);
  EXPECT_EQ(p->sinks[2].id, "archive");
  EXPECT_EQ(p->sinks[2].from, "events");
  EXPECT_FALSE(p->sinks[2].required);  // DeltaForge style, inside config
  EXPECT_EQ(p->sinks[3].id, "stdout-2");
  EXPECT_EQ(At(p->sinks[3].location), Find(kFull, "type: stdout\n      from: metric:totals"));
}

TEST(Loader, DefaultsForOptionalSections) {
  Diagnostics diags;
  std::optional<Pipeline> p = LoadString(R"y(apiVersion: weir/v1
kind: Pipeline
metadata: { name: minimal }
spec:
  source: { type: http }
)y",
                                         "p.yaml", diags);
  ASSERT_TRUE(p);
  EXPECT_TRUE(diags.all().empty()) << diags.Format();
  EXPECT_EQ(p->tenant, "");
  EXPECT_EQ(p->server.host, "127.0.0.1");
  EXPECT_EQ(p->server.port, 8080);
  EXPECT_TRUE(p->server.enabled);
  ASSERT_EQ(p->sources.size(), 1u);
  EXPECT_EQ(p->sources[0].id, "http");
  EXPECT_EQ(p->sources[0].node.path(), "spec.source");
  EXPECT_TRUE(p->processors.empty());
  EXPECT_TRUE(p->metrics.empty());
  EXPECT_TRUE(p->sinks.empty());
}

TEST(Loader, YamlSyntaxErrorIsOneLocatedDiagnostic) {
  Diagnostics diags;
  std::optional<Pipeline> p = LoadString(R"y(apiVersion: weir/v1
kind: Pipeline
metadata:
  name: t
   tenant: x
)y",
                                         "p.yaml", diags);
  EXPECT_FALSE(p.has_value());
  ASSERT_EQ(diags.all().size(), 1u);
  EXPECT_EQ(diags.Format(), "p.yaml:5:10: YAML syntax error: illegal map value\n");

  EXPECT_EQ(Check("a: [1, 2\nb: 3\n"), "p.yaml:2:2: YAML syntax error: end of sequence flow not found\n");
}

TEST(Loader, EmptyOrNonMapDocument) {
  EXPECT_EQ(Check(""), "p.yaml:1:1: the file is empty; expected a map with apiVersion, kind, metadata and spec\n");
  EXPECT_EQ(Check("- a\n- b\n"),
            "p.yaml:1:1: expected a map with apiVersion, kind, metadata and spec, found a sequence\n");
  EXPECT_THAT(Check("apiVersion: weir/v1\n---\nb: 1\n"),
              HasSubstr("p.yaml:2:1: expected one YAML document, found 2; remove the '---' separators\n"));
}

// yaml-cpp 0.7's LoadAll loops forever, allocating, on these; the loader reports them instead.
TEST(Loader, InputsThatStallTheYamlParser) {
  EXPECT_EQ(Check(","), "p.yaml:1:1: YAML syntax error: unexpected ','\n");
  EXPECT_EQ(Check("apiVersion: weir/v1\n---\n  ,\n"), "p.yaml:3:3: YAML syntax error: unexpected ','\n");
}

TEST(Loader, MissingRequiredKeys) {
  EXPECT_EQ(Check(R"y(kind: Pipeline
metadata:
  tenant: acme
)y"),
            "p.yaml:1:1: apiVersion: missing required key 'apiVersion' (expected 'weir/v1')\n"
            "p.yaml:1:1: spec: missing required key 'spec' (expected a map with sources, metrics, sinks...)\n"
            "p.yaml:3:3: metadata.name: missing required key 'name' (expected a string)\n");

  EXPECT_EQ(
      Check(R"y(apiVersion: weir/v1
kind: Pipeline
metadata: { name: t }
spec:
  sources:
    - id: a
  processors:
    - type: filter
  metrics:
    - window: { sliding: 5m }
  sinks:
    - type: file
      id: out
)y"),
      "p.yaml:6:7: spec.sources[0].type: missing required key 'type' (expected a string)\n"
      "p.yaml:8:7: spec.processors[0].where: missing required key 'where' (expected an expression)\n"
      "p.yaml:10:7: spec.metrics[0].id: missing required key 'id' (expected a string)\n"
      "p.yaml:10:7: spec.metrics[0].select: missing required key 'select' (expected a map of name: expression)\n"
      "p.yaml:10:15: spec.metrics[0].window.every: missing required key 'every' (expected a duration such as 5m)\n"
      "p.yaml:12:7: spec.sinks[0].from: missing required key 'from' (expected a string)\n");

  // A key with no value is not the same as a missing key.
  EXPECT_EQ(Check(R"y(apiVersion: weir/v1
kind: Pipeline
metadata:
  name:
spec: {}
)y"),
            "p.yaml:4:3: metadata.name: expected a string, found nothing\n");
}

TEST(Loader, WrongTypes) {
  EXPECT_EQ(Check(R"y(apiVersion: weir/v2
kind: Pipe
metadata: [shop]
spec:
  server: { listen: 8080, enabled: maybe }
  sources: { type: http }
  metrics:
    - id: m
      select: [count()]
      limit: abc
      where: { a: 1 }
    - just-a-string
  sinks:
    - type: [file]
      from: events
      required: sometimes
)y"),
            "p.yaml:1:13: apiVersion: expected 'weir/v1', found 'weir/v2'\n"
            "p.yaml:2:7: kind: expected 'Pipeline', found 'Pipe'\n"
            "p.yaml:3:11: metadata: expected a map, found a sequence\n"
            "p.yaml:3:11: metadata.name: missing required key 'name' (expected a string)\n"
            "p.yaml:5:36: spec.server.enabled: expected true or false, found 'maybe'\n"
            "p.yaml:6:12: spec.sources: expected a list of sources, found a map\n"
            "p.yaml:9:15: spec.metrics[0].select: expected a map of name: expression, found a sequence\n"
            "p.yaml:10:14: spec.metrics[0].limit: expected an integer >= 1, found 'abc'\n"
            "p.yaml:11:14: spec.metrics[0].where: expected an expression, found a map\n"
            "p.yaml:12:7: spec.metrics[1]: expected a map describing a metric, found 'just-a-string'\n"
            "p.yaml:14:13: spec.sinks[0].type: expected a string, found a sequence\n"
            "p.yaml:16:17: spec.sinks[0].required: expected true or false, found 'sometimes'\n");
}

TEST(Loader, BadDurations) {
  EXPECT_EQ(Check(R"y(apiVersion: weir/v1
kind: Pipeline
metadata: { name: t }
spec:
  metrics:
    - id: m
      watermark: 5
      allowed_lateness: 1 minute
      idle_timeout: 0s
      window: { tumbling: 1x }
      select: { n: count() }
      emit: { early: soon }
)y"),
            "p.yaml:7:18: spec.metrics[0].watermark: duration '5' has no unit; write e.g. 5s or 5ms\n"
            "p.yaml:8:25: spec.metrics[0].allowed_lateness: duration '1 minute' has no unit; write e.g. 1s or 1ms\n"
            "p.yaml:9:21: spec.metrics[0].idle_timeout: expected a duration greater than 0, found '0s'\n"
            "p.yaml:10:27: spec.metrics[0].window.tumbling: unknown unit 'x' in duration '1x'; expected ms, s, m, h, d "
            "or w\n"
            "p.yaml:12:22: spec.metrics[0].emit.early: invalid duration 'soon'; expected a number with a unit such as "
            "500ms, 5s, 1m, 2h, 1d\n");
}

TEST(Loader, BadWindowShapes) {
  EXPECT_EQ(Check(R"y(apiVersion: weir/v1
kind: Pipeline
metadata: { name: t }
spec:
  metrics:
    - { id: a, select: { n: count() }, window: { tumbling: 1m, sliding: 5m } }
    - { id: b, select: { n: count() }, window: { sliding: 5m, every: 2m } }
    - { id: c, select: { n: count() }, window: { sliding: 5m, every: 5m } }
    - { id: d, select: { n: count() }, window: { tumbling: 1m, every: 1m } }
    - { id: e, select: { n: count() }, window: 1m }
    - { id: f, select: { n: count() }, window: {} }
    - { id: g, select: { n: count() }, window: { cumulative: 1d, every: 7h } }
    - { id: h, select: { n: count() }, window: { none: false } }
    - { id: i, select: { n: count() }, window: [tumbling, 1m] }
    - { id: j, select: { n: count() }, window: { session: 0s } }
    - { id: k, select: { n: count() }, window: { cumulative: 1d, every: 0s } }
)y"),
            "p.yaml:6:73: spec.metrics[0].window.sliding: a window has one kind; found both 'tumbling' and 'sliding'\n"
            "p.yaml:7:70: spec.metrics[1].window.every: every (2m) must divide the window size (5m)\n"
            "p.yaml:8:70: spec.metrics[2].window.every: every (5m) must be smaller than the window size (5m); use "
            "tumbling for windows that do not overlap\n"
            "p.yaml:9:71: spec.metrics[3].window.every: 'every' applies to sliding and cumulative windows, not "
            "tumbling\n"
            "p.yaml:10:48: spec.metrics[4].window: expected a map such as { tumbling: 1m }, { sliding: 5m, every: 1m "
            "}, { session: 30m }, { cumulative: 1d, every: 1h } or 'none', found '1m'\n"
            "p.yaml:11:48: spec.metrics[5].window: expected one of tumbling, sliding, session, cumulative or none\n"
            "p.yaml:12:73: spec.metrics[6].window.every: every (7h) must divide the window size (1d)\n"
            "p.yaml:13:56: spec.metrics[7].window.none: write 'none: true' (or 'window: none'), or give a window "
            "kind\n"
            "p.yaml:14:48: spec.metrics[8].window: expected a map such as { tumbling: 1m }, { sliding: 5m, every: 1m "
            "}, { session: 30m }, { cumulative: 1d, every: 1h } or 'none', found a sequence\n"
            "p.yaml:15:59: spec.metrics[9].window.session: expected a duration greater than 0, found '0s'\n"
            "p.yaml:16:73: spec.metrics[10].window.every: expected a duration greater than 0, found '0s'\n");
}

TEST(Loader, UnknownKeysWithSuggestions) {
  EXPECT_EQ(Check(R"y(apiVersion: weir/v1
kind: Pipeline
metdata: { name: t }
spec:
  server: { listn: ":80" }
  sources:
    - type: http
      confg: { path: /x }
    - type: kafka
      config: { anything: goes, here: 1 }
  processors:
    - { type: filter, were: "a > 1" }
    - { type: set, fields: { x: "1" }, feilds: {} }
    - { type: javascript, inline: "f()", limits: { timeout_ms: 5 } }
  metrics:
    - id: m
      windw: { tumblng: 1m }
      gruop_by: [a]
      select: { n: count() }
      emit: { erly: 1s }
      colour: blue
  sinkz: []
)y"),
            "p.yaml:1:1: metadata.name: missing required key 'name' (expected a string)\n"
            "p.yaml:3:1: metdata: unknown key 'metdata' (did you mean 'metadata'?)\n"
            "p.yaml:5:13: spec.server.listn: unknown key 'listn' (did you mean 'listen'?)\n"
            "p.yaml:8:7: spec.sources[0].confg: unknown key 'confg' (did you mean 'config'?)\n"
            "p.yaml:12:7: spec.processors[0].where: missing required key 'where' (expected an expression)\n"
            "p.yaml:12:23: spec.processors[0].were: unknown key 'were' (did you mean 'where'?)\n"
            "p.yaml:13:40: spec.processors[1].feilds: unknown key 'feilds' (did you mean 'fields'?)\n"
            "p.yaml:17:7: spec.metrics[0].windw: unknown key 'windw' (did you mean 'window'?)\n"
            "p.yaml:18:7: spec.metrics[0].gruop_by: unknown key 'gruop_by' (did you mean 'group_by'?)\n"
            "p.yaml:20:15: spec.metrics[0].emit.erly: unknown key 'erly' (did you mean 'early'?)\n"
            "p.yaml:21:7: spec.metrics[0].colour: unknown key 'colour' (known keys: allowed_lateness, description, "
            "emit, event_time, from, group_by, having, id, idle_timeout, limit, order_by, retention, select, watermark, where, "
            "window)\n"
            "p.yaml:22:3: spec.sinkz: unknown key 'sinkz' (did you mean 'sinks'?)\n");

  // Inside a window the misspelt kind is the only error (no "expected one of" on top).
  EXPECT_EQ(Check(R"y(apiVersion: weir/v1
kind: Pipeline
metadata: { name: t }
spec:
  metrics:
    - { id: m, select: { n: count() }, window: { tumblng: 1m } }
)y"),
            "p.yaml:6:50: spec.metrics[0].window.tumblng: unknown key 'tumblng' (did you mean 'tumbling'?)\n");
}

TEST(Loader, DuplicateIdsKeysAndNames) {
  EXPECT_EQ(Check(R"y(apiVersion: weir/v1
kind: Pipeline
metadata: { name: t }
spec:
  sources:
    - { type: http, id: in }
    - { type: kafka, config: { id: in } }
    - { type: http }
  metrics:
    - id: m
      select: { n: count() }
    - id: m
      group_by: [properties.n]
      select: { total: sum(x), total: count() }
  sinks:
    - { type: file, id: out, from: events }
    - { type: file, id: out, from: events }
)y"),
            "p.yaml:7:36: spec.sources[1].config.id: duplicate source id 'in' (first defined at line 6, column 7)\n"
            "p.yaml:12:11: spec.metrics[1].id: duplicate metric id 'm' (first defined at line 10, column 7)\n"
            "p.yaml:14:32: spec.metrics[1].select.total: duplicate key 'total' (first given at line 14)\n"
            "p.yaml:17:25: spec.sinks[1].id: duplicate sink id 'out' (first defined at line 16, column 7)\n");

  EXPECT_EQ(Check(R"y(apiVersion: weir/v1
kind: Pipeline
metadata: { name: t }
spec:
  metrics:
    - id: m
      group_by: [properties.country, { country: lower(country) }]
      select: { country: count() }
)y"),
            "p.yaml:7:40: spec.metrics[0].group_by[1].country: name 'country' is already used at line 7, column 18; "
            "group_by and select names must be unique\n"
            "p.yaml:8:17: spec.metrics[0].select.country: name 'country' is already used at line 7, column 18; "
            "group_by and select names must be unique\n");
}

TEST(Loader, GeneratedIdsAvoidExplicitOnes) {
  Diagnostics diags;
  std::optional<Pipeline> p = LoadString(R"y(apiVersion: weir/v1
kind: Pipeline
metadata: { name: t }
spec:
  sources:
    - { type: http }
    - { type: http, id: http-2 }
    - { type: http }
    - { type: http, id: http }
)y",
                                         "p.yaml", diags);
  ASSERT_TRUE(p);
  EXPECT_TRUE(diags.ok()) << diags.Format();
  ASSERT_EQ(p->sources.size(), 4u);
  EXPECT_EQ(p->sources[0].id, "http-3");
  EXPECT_EQ(p->sources[1].id, "http-2");
  EXPECT_EQ(p->sources[2].id, "http-4");
  EXPECT_EQ(p->sources[3].id, "http");
}

TEST(Loader, DanglingReferences) {
  EXPECT_EQ(Check(R"y(apiVersion: weir/v1
kind: Pipeline
metadata: { name: t }
spec:
  sources:
    - { type: http, id: ingest }
  metrics:
    - id: revenue
      from: [ingest, ingset, zzz]
      select: { n: count() }
  sinks:
    - { type: file, from: metric:revenu }
    - { type: file, from: late:nothing_like_it }
    - { type: file, from: revenue }
)y"),
            "p.yaml:9:22: spec.metrics[0].from[1]: unknown source 'ingset' (did you mean 'ingest'?)\n"
            "p.yaml:9:30: spec.metrics[0].from[2]: unknown source 'zzz' (known sources: ingest)\n"
            "p.yaml:12:27: spec.sinks[0].from: unknown metric 'revenu' (did you mean 'revenue'?)\n"
            "p.yaml:13:27: spec.sinks[1].from: unknown metric 'nothing_like_it' (known metrics: revenue)\n"
            "p.yaml:14:27: spec.sinks[2].from: expected 'events', 'metric:<id>' or 'late:<id>', found 'revenue'\n");
}

TEST(Loader, BadListenAddress) {
  EXPECT_EQ(Check(R"y(apiVersion: weir/v1
kind: Pipeline
metadata: { name: t }
spec:
  server:
    listen: 127.0.0.1:99999
)y"),
            "p.yaml:6:13: spec.server.listen: invalid port '99999' in listen address '127.0.0.1:99999'; expected a "
            "number from 0 to 65535\n");
  EXPECT_EQ(
      Check("apiVersion: weir/v1\nkind: Pipeline\nmetadata: { name: t }\nspec: { server: { listen: '::1:80' } }\n"),
      "p.yaml:4:27: spec.server.listen: write IPv6 addresses in brackets, as [::1]:8080; found '::1:80'\n");
}

TEST(ParseListen, Forms) {
  using HostPort = std::pair<std::string, uint16_t>;
  EXPECT_EQ(ParseListen("127.0.0.1:8080"), HostPort("127.0.0.1", 8080));
  EXPECT_EQ(ParseListen(":8080"), HostPort("0.0.0.0", 8080));
  EXPECT_EQ(ParseListen("8080"), HostPort("127.0.0.1", 8080));
  EXPECT_EQ(ParseListen("[::1]:8080"), HostPort("::1", 8080));
  EXPECT_EQ(ParseListen("localhost:0"), HostPort("localhost", 0));
  EXPECT_FALSE(ParseListen(""));
  EXPECT_FALSE(ParseListen("host:"));
  EXPECT_FALSE(ParseListen("host:http"));
  EXPECT_FALSE(ParseListen("host:65536"));
  EXPECT_FALSE(ParseListen("host:-1"));
  EXPECT_FALSE(ParseListen("[::1]8080"));
  EXPECT_FALSE(ParseListen("[::1:8080"));
  EXPECT_FALSE(ParseListen("bad host:80"));
  EXPECT_THAT(ParseListen("[::1]").error().message, HasSubstr("expected ':port' after ']'"));
}

TEST(Loader, BadOrderBy) {
  EXPECT_EQ(Check(R"y(apiVersion: weir/v1
kind: Pipeline
metadata: { name: t }
spec:
  metrics:
    - id: m
      group_by: { country: properties.country }
      select: { total: sum(amount) }
      order_by: [total sideways, totl desc, country, "a b c", {x: 1}]
      limit: 0
)y"),
            "p.yaml:9:18: spec.metrics[0].order_by[0]: expected 'name', 'name asc' or 'name desc', found 'total "
            "sideways'\n"
            "p.yaml:9:34: spec.metrics[0].order_by[1]: unknown name 'totl' in order_by; it must be a select or "
            "group_by name (did you mean 'total'?)\n"
            "p.yaml:9:54: spec.metrics[0].order_by[3]: expected 'name', 'name asc' or 'name desc', found 'a b c'\n"
            "p.yaml:9:63: spec.metrics[0].order_by[4]: expected 'name [asc|desc]', found a map\n"
            "p.yaml:10:14: spec.metrics[0].limit: expected an integer >= 1, found '0'\n");
}

TEST(Loader, EnvSubstitution) {
  setenv("WEIR_SPEC_TEST_NAME", "from-env", 1);
  setenv("WEIR_SPEC_TEST_WINDOW", "5m", 1);
  unsetenv("WEIR_SPEC_TEST_MISSING");
  unsetenv("WEIR_SPEC_TEST_TENANT");
  constexpr std::string_view yaml = R"y(apiVersion: weir/v1
kind: Pipeline
metadata: { name: "${WEIR_SPEC_TEST_NAME}", tenant: "${WEIR_SPEC_TEST_TENANT:-default-tenant}" }
spec:
  sources:
    - { type: http, id: "${WEIR_SPEC_TEST_MISSING}" }
  metrics:
    - id: m
      window: { tumbling: "${WEIR_SPEC_TEST_WINDOW}" }
      where: price > $$5 and tag = '${WEIR_SPEC_TEST_MISSING}'
      select: { n: count() }
)y";
  Diagnostics diags;
  std::optional<Pipeline> p = LoadString(yaml, "p.yaml", diags);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->name, "from-env");
  EXPECT_EQ(p->tenant, "default-tenant");
  EXPECT_EQ(p->metrics[0].window.size, 300000);
  EXPECT_EQ(diags.Format(),
            "p.yaml:6:25: spec.sources[0].id: environment variable WEIR_SPEC_TEST_MISSING is not set (set it, or "
            "write ${WEIR_SPEC_TEST_MISSING:-default} to give a default)\n"
            "p.yaml:10:14: spec.metrics[0].where: environment variable WEIR_SPEC_TEST_MISSING is not set (set it, or "
            "write ${WEIR_SPEC_TEST_MISSING:-default} to give a default)\n");

  setenv("WEIR_SPEC_TEST_MISSING", "vip", 1);
  Diagnostics again;
  p = LoadString(yaml, "p.yaml", again);
  ASSERT_TRUE(p);
  EXPECT_TRUE(again.all().empty()) << again.Format();
  EXPECT_EQ(p->sources[0].id, "vip");
  EXPECT_EQ(p->metrics[0].where.text, "price > $5 and tag = 'vip'");
  unsetenv("WEIR_SPEC_TEST_MISSING");
}

TEST(Loader, ReportsAllErrorsAtOnce) {
  Diagnostics diags;
  std::optional<Pipeline> p = LoadString(R"y(apiVersion: weir/v1
kind: Pipeline
metadata: { name: t }
spec:
  sources:
    - { type: http, id: in }
  metrics:
    - id: bad-id
      from: out
      watermark: later
      window: { sliding: 1m, every: 5m }
      select: { n: count() }
      order_by: x
  sinks:
    - { type: file, from: metric:nope, requird: false }
)y",
                                         "p.yaml", diags);
  ASSERT_TRUE(p);  // the structure is returned even with errors
  EXPECT_EQ(diags.error_count(), 7u);
  EXPECT_EQ(diags.Format(),
            "p.yaml:8:11: spec.metrics[0].id: invalid metric id 'bad-id'; expected a letter or '_' followed by "
            "letters, digits or '_'\n"
            "p.yaml:9:13: spec.metrics[0].from: unknown source 'out' (known sources: in)\n"
            "p.yaml:10:18: spec.metrics[0].watermark: invalid duration 'later'; expected a number with a unit such as "
            "500ms, 5s, 1m, 2h, 1d\n"
            "p.yaml:11:37: spec.metrics[0].window.every: every (5m) must be smaller than the window size (1m); use "
            "tumbling for windows that do not overlap\n"
            "p.yaml:13:17: spec.metrics[0].order_by: unknown name 'x' in order_by; it must be a select or "
            "group_by name (known names: n)\n"
            "p.yaml:15:27: spec.sinks[0].from: unknown metric 'nope' (known metrics: bad-id)\n"
            "p.yaml:15:40: spec.sinks[0].requird: unknown key 'requird' (did you mean 'required'?)\n");
}

TEST(Loader, DeltaForgeCompatibility) {
  Diagnostics diags;
  std::optional<Pipeline> p = LoadString(R"y(apiVersion: deltaforge/v1
kind: Pipeline
metadata:
  name: ecommerce-analytics
  tenant: acme

spec:
  source:
    type: mysql
    config:
      id: ecommerce-mysql
      dsn: ${MYSQL_DSN}
      tables:
        - shop.orders

  processors:
    - type: javascript
      id: analytics-enrichment
      inline: |
        function processBatch(events) { return events; }
      limits:
        timeout_ms: 500

  sinks:
    - type: kafka
      config:
        id: analytics-kafka
        brokers: ${KAFKA_BROKERS}
        required: true
    - type: redis
      config:
        id: realtime-redis
        required: false

  batch:
    max_events: 500
  commit_policy:
    mode: required
)y",
                                         "df.yaml", diags);
  ASSERT_TRUE(p);
  EXPECT_TRUE(diags.ok()) << diags.Format();
  EXPECT_EQ(diags.Format(),
            "df.yaml:1:13: warning: apiVersion: 'deltaforge/v1' is read for compatibility; write "
            "'weir/v1'\n");
  EXPECT_EQ(p->api_version, "deltaforge/v1");
  ASSERT_EQ(p->sources.size(), 1u);
  EXPECT_EQ(p->sources[0].id, "ecommerce-mysql");
  ASSERT_EQ(p->processors.size(), 1u);
  EXPECT_EQ(p->processors[0].id, "analytics-enrichment");
  ASSERT_EQ(p->sinks.size(), 2u);
  EXPECT_EQ(p->sinks[0].id, "analytics-kafka");
  EXPECT_EQ(p->sinks[0].from, "events");  // DeltaForge sinks take every event
  EXPECT_TRUE(p->sinks[0].required);
  EXPECT_EQ(p->sinks[1].id, "realtime-redis");
  EXPECT_FALSE(p->sinks[1].required);
  EXPECT_EQ(p->spec_node["batch"]["max_events"].raw(), "500");
}

TEST(LocateInExpr, MapsColumnsOfInlineAndQuotedExpressions) {
  setenv("WEIR_SPEC_TEST_LIMIT", "100", 1);
  constexpr std::string_view yaml = R"y(apiVersion: weir/v1
kind: Pipeline
metadata: { name: t }
spec:
  processors:
    - type: filter
      where: amount > 10 and currency = 'EUR'
    - type: filter
      where: "amount > 10 and currency = 'EUR'"
    - type: filter
      where: 'amount > 10 and currency = ''EUR'''
    - type: filter
      where: "a \"b\" c"
    - type: filter
      where: amount > ${WEIR_SPEC_TEST_LIMIT} and x
    - type: filter
      where: amount > 10 and
        currency = 'EUR'
    - type: filter
      where: |
        amount > 10
        and currency = 'EUR'
)y";
  Diagnostics diags;
  std::optional<Pipeline> p = LoadString(yaml, "p.yaml", diags);
  ASSERT_TRUE(p);
  ASSERT_TRUE(diags.ok()) << diags.Format();
  ASSERT_EQ(p->processors.size(), 7u);
  auto locate = [&](size_t i, uint32_t column) { return At(LocateInExpr(p->processors[i].where, column)); };

  // Plain: "currency" is column 17 of the expression; the expression starts at 7:14.
  EXPECT_EQ(p->processors[0].where.text.find("currency") + 1, 17u);
  EXPECT_EQ(locate(0, 1), std::make_pair(7, 14));
  EXPECT_EQ(locate(0, 17), std::make_pair(7, 30));
  EXPECT_EQ(LocateInExpr(p->processors[0].where, 17).path, "spec.processors[0].where");
  // One past the end (where "unexpected end" errors point).
  EXPECT_EQ(locate(0, 33), std::make_pair(7, 46));
  EXPECT_EQ(locate(0, 34), std::make_pair(7, 14));  // beyond: the start
  // Double-quoted: the opening quote shifts everything by one.
  EXPECT_EQ(locate(1, 1), std::make_pair(9, 15));
  EXPECT_EQ(locate(1, 17), std::make_pair(9, 31));
  // Single-quoted with '' escapes: exact up to the first escape, then the expression start.
  EXPECT_EQ(p->processors[2].where.text, "amount > 10 and currency = 'EUR'");
  EXPECT_EQ(locate(2, 17), std::make_pair(11, 31));
  EXPECT_EQ(locate(2, 29), std::make_pair(11, 15));
  // Backslash escapes likewise.
  EXPECT_EQ(p->processors[3].where.text, "a \"b\" c");
  EXPECT_EQ(locate(3, 2), std::make_pair(13, 16));
  EXPECT_EQ(locate(3, 4), std::make_pair(13, 15));
  // After a ${VAR} the columns of the text no longer match the file.
  EXPECT_EQ(p->processors[4].where.text, "amount > 100 and x");
  EXPECT_EQ(locate(4, 3), std::make_pair(15, 16));
  EXPECT_EQ(locate(4, 18), std::make_pair(15, 14));
  // A plain scalar continued on the next line: the first line maps, the rest is the start.
  EXPECT_EQ(p->processors[5].where.text, "amount > 10 and currency = 'EUR'");
  EXPECT_EQ(locate(5, 13), std::make_pair(17, 26));
  EXPECT_EQ(locate(5, 17), std::make_pair(17, 14));
  // Block scalar: located at its first content line; its first line maps too.
  EXPECT_EQ(At(p->processors[6].where.location), std::make_pair(21, 9));
  EXPECT_EQ(locate(6, 10), std::make_pair(21, 18));
  EXPECT_EQ(locate(6, 20), std::make_pair(21, 9));
  unsetenv("WEIR_SPEC_TEST_LIMIT");
}

TEST(LocateInExpr, HandExpressionMapsEverything) {
  ExprText e{.text = "a + b", .location = {"f.yaml", 3, 10, "x"}};
  EXPECT_EQ(At(LocateInExpr(e, 5)), std::make_pair(3, 14));
  EXPECT_EQ(At(LocateInExpr(e, 0)), std::make_pair(3, 10));
  ExprText unknown{.text = "a", .location = {"f.yaml", 0, 0, "x"}};
  EXPECT_EQ(At(LocateInExpr(unknown, 1)), std::make_pair(0, 0));
}

TEST(Loader, AnchorsAliasesAndCycles) {
  Diagnostics diags;
  std::optional<Pipeline> p = LoadString(R"y(apiVersion: weir/v1
kind: Pipeline
metadata: { name: t }
spec:
  metrics:
    - id: a
      window: &w { tumbling: 1m }
      select: &s { n: count() }
    - id: b
      window: *w
      select: *s
      where: &cond !!str kind = 'x'
      having: *cond
)y",
                                         "p.yaml", diags);
  ASSERT_TRUE(p);
  EXPECT_TRUE(diags.all().empty()) << diags.Format();
  ASSERT_EQ(p->metrics.size(), 2u);
  EXPECT_EQ(p->metrics[1].window.size, 60000);
  EXPECT_EQ(p->metrics[1].select[0].expr.text, "count()");
  // The expression is located after the anchor and tag, and the alias points at the original.
  EXPECT_EQ(At(p->metrics[1].where.location), std::make_pair(12, 26));
  EXPECT_EQ(At(p->metrics[1].having.location), std::make_pair(12, 26));

  // A self-referencing anchor must not loop.
  EXPECT_EQ(Check(R"y(apiVersion: weir/v1
kind: Pipeline
metadata: { name: t }
spec: &s
  metrics: *s
)y"),
            "p.yaml:4:7: spec.metrics: expected a list of metrics, found a map\n");
}

TEST(Loader, LoadFileReadsAndReportsUnreadableFiles) {
  Diagnostics missing;
  EXPECT_FALSE(LoadFile("/nonexistent/weir/pipeline.yaml", missing));
  EXPECT_EQ(missing.Format(),
            "/nonexistent/weir/pipeline.yaml: cannot open the pipeline file: No such file or directory\n");

  std::string path = testing::TempDir() + "weir_spec_test_pipeline.yaml";
  {
    std::ofstream out(path, std::ios::binary);
    out << kFull;
  }
  Diagnostics diags;
  std::optional<Pipeline> p = LoadFile(path, diags);
  ASSERT_TRUE(p);
  EXPECT_TRUE(diags.ok()) << diags.Format();
  EXPECT_EQ(p->file, path);
  EXPECT_EQ(p->metrics.size(), 7u);
  EXPECT_EQ(p->metrics[0].where.location.file, path);
  std::remove(path.c_str());
}

TEST(Loader, ByteOrderMarkKeepsColumns) {
  std::string yaml = "\xEF\xBB\xBF" + std::string(kFull);
  Diagnostics diags;
  std::optional<Pipeline> p = LoadString(yaml, "bom.yaml", diags);
  ASSERT_TRUE(p);
  EXPECT_TRUE(diags.ok()) << diags.Format();
  EXPECT_EQ(At(p->metrics[0].where.location), std::make_pair(37, 14));
  EXPECT_EQ(LocateInExpr(p->metrics[0].where, 5).column, 18);
}

// The example in this module's README (the user reference) must stay a valid pipeline.
TEST(Loader, ReadmeExampleLoads) {
  std::ifstream in(std::string(WEIR_SOURCE_DIR) + "/src/weir/spec/README.md");
  ASSERT_TRUE(in) << "README.md not found";
  std::string readme((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t start = readme.find("```yaml\n");
  ASSERT_NE(start, std::string::npos);
  start += 8;
  size_t end = readme.find("```", start);
  ASSERT_NE(end, std::string::npos);
  Diagnostics diags;
  std::optional<Pipeline> p = LoadString(readme.substr(start, end - start), "README.md", diags);
  ASSERT_TRUE(p);
  EXPECT_TRUE(diags.all().empty()) << diags.Format();
  EXPECT_EQ(p->metrics.size(), 2u);
  EXPECT_EQ(p->sinks.size(), 2u);
}

// Deterministic mutations of valid and broken documents: whatever the bytes, LoadString returns
// (no exception escapes, no crash) and every diagnostic it reports names the file.
TEST(Loader, MutatedDocumentsNeverThrow) {
  std::vector<std::string> seeds = {std::string(kFull), R"y(apiVersion: weir/v1
kind: Pipeline
metadata: { name: t }
spec: &s
  sources: [{ type: http, id: "${WEIR_SPEC_FUZZ_X:-a}" }]
  metrics:
    - { id: m, from: a, window: { sliding: 5m, every: 1m }, group_by: [x.y, {z: w}], select: { n: count() },
        order_by: [n desc], emit: { early: 1s }, where: "a \"b\"" }
  sinks: [{ type: file, from: "metric:m", config: { path: x } }]
)y"};
  const std::string alphabet = "{}[]:,-?&*!|>'\"#%@` \n\t$\\abc0123456789.";
  std::mt19937 rng(20260216);
  size_t loaded = 0, total = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string doc = seeds[round % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits && !doc.empty(); ++e) {
      size_t pos = rng() % doc.size();
      switch (rng() % 6) {
        case 0:  // replace a byte with a YAML-significant one
          doc[pos] = alphabet[rng() % alphabet.size()];
          break;
        case 1:  // insert one
          doc.insert(doc.begin() + static_cast<long>(pos), alphabet[rng() % alphabet.size()]);
          break;
        case 2:  // delete a run
          doc.erase(pos, 1 + rng() % 16);
          break;
        case 3: {  // duplicate a slice elsewhere (repeats keys, entries)
          size_t len = std::min<size_t>(1 + rng() % 80, doc.size() - pos);
          std::string slice = doc.substr(pos, len);
          doc.insert(rng() % doc.size(), slice);
          break;
        }
        case 4:  // truncate
          doc.resize(pos);
          break;
        default:  // arbitrary byte
          doc[pos] = static_cast<char>(rng() % 256);
          break;
      }
    }
    Diagnostics diags;
    std::optional<Pipeline> p;
    ASSERT_NO_THROW(p = LoadString(doc, "fuzz.yaml", diags)) << doc;
    ++total;
    if (p) ++loaded;
    for (const Diagnostic& d : diags.all()) ASSERT_EQ(d.location.file, "fuzz.yaml");
    if (!p) {
      ASSERT_FALSE(diags.ok()) << doc;
    }
    if (p) {
      for (const MetricSpec& m : p->metrics)
        for (const NamedExpr& ne : m.select) (void)LocateInExpr(ne.expr, 3);
    }
  }
  // Both outcomes are exercised: syntax errors and documents that parse but fail checks.
  EXPECT_GT(loaded, total / 10);
  EXPECT_LT(loaded, total);
}

}  // namespace
}  // namespace weir::spec
