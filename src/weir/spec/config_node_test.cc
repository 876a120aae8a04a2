// Tests for ConfigReader (the API connectors use to read their `config:`), ${VAR}
// substitution, sizes, diagnostics formatting and suggestions.
#include "weir/spec/config_node.h"

#include <cstdlib>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace weir::spec {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

/// A config node parsed from `yaml`, as a connector would receive it.
ConfigNode Node(const std::string& yaml, const std::string& path = "spec.sinks[0].config") {
  return ConfigNode(YAML::Load(yaml), std::make_shared<const std::string>("p.yaml"), path);
}

TEST(ConfigReader, TypedGetters) {
  Diagnostics diags;
  ConfigReader r(Node(R"y(topic: orders
partitions: 12
hex: 0x10
ratio: 0.25
enabled: yes
flush: 250ms
max_bytes: 4MiB
brokers: [a:9092, b:9092]
one_broker: c:9092
headers: { x-team: data, x-env: prod }
format: ndjson
)y"),
                 diags);
  EXPECT_TRUE(r.Has("topic"));
  EXPECT_FALSE(r.Has("absent"));
  EXPECT_EQ(r.RequiredString("topic"), "orders");
  EXPECT_EQ(r.Int("partitions", 1, 1, 1024), 12);
  EXPECT_EQ(r.Int("hex", 0), 16);
  EXPECT_DOUBLE_EQ(r.Double("ratio", 1.0), 0.25);
  EXPECT_TRUE(r.Bool("enabled", false));
  EXPECT_EQ(r.Duration("flush", 1000), 250);
  EXPECT_EQ(r.Bytes("max_bytes", 0), 4 * 1024 * 1024);
  EXPECT_THAT(r.StringList("brokers"), ElementsAre("a:9092", "b:9092"));
  EXPECT_THAT(r.StringList("one_broker"), ElementsAre("c:9092"));
  EXPECT_THAT(r.StringMap("headers"), ElementsAre(Pair("x-team", "data"), Pair("x-env", "prod")));
  EXPECT_EQ(r.Enum("format", {"json", "ndjson", "csv"}, "json"), "ndjson");
  // Absent keys give the fallback and no error.
  EXPECT_EQ(r.String("absent", "dflt"), "dflt");
  EXPECT_EQ(r.OptionalString("absent"), std::nullopt);
  EXPECT_EQ(r.OptionalDuration("absent"), std::nullopt);
  EXPECT_EQ(r.Int("absent", 7), 7);
  EXPECT_TRUE(r.StringList("absent").empty());
  r.RejectUnknownKeys();
  EXPECT_TRUE(diags.all().empty()) << diags.Format();
}

TEST(ConfigReader, TypeErrorsSayWhatWasExpectedAndFound) {
  Diagnostics diags;
  ConfigReader r(Node(R"y(partitions: abc
count: 5000
ratio: half
enabled: maybe
flush: 5
max_bytes: 12 parsecs
topic: { name: x }
brokers: { a: 1 }
list: [a, [b], c]
headers: { a: [1] }
format: xml
tls:
)y"),
                 diags);
  EXPECT_EQ(r.Int("partitions", 1), 1);
  EXPECT_EQ(r.Int("count", 3, 1, 1024), 3);
  EXPECT_EQ(r.Double("ratio", 0.5), 0.5);
  EXPECT_FALSE(r.Bool("enabled", false));
  EXPECT_EQ(r.Duration("flush", 9), 9);
  EXPECT_EQ(r.Bytes("max_bytes", 1), 1);
  EXPECT_EQ(r.RequiredString("topic"), "");
  EXPECT_TRUE(r.StringList("brokers").empty());
  EXPECT_THAT(r.StringList("list"), ElementsAre("a", "c"));
  EXPECT_TRUE(r.StringMap("headers").empty());
  EXPECT_EQ(r.Enum("format", {"json", "ndjson"}, "json"), "json");
  EXPECT_EQ(r.RequiredString("tls"), "");
  EXPECT_EQ(r.RequiredString("path"), "");
  EXPECT_FALSE(r.Require("client", "a map of librdkafka settings"));
  EXPECT_EQ(diags.Format(),
            "p.yaml:1:13: spec.sinks[0].config.partitions: expected an integer, found 'abc'\n"
            "p.yaml:2:8: spec.sinks[0].config.count: expected an integer between 1 and 1024, found '5000'\n"
            "p.yaml:3:8: spec.sinks[0].config.ratio: expected a number, found 'half'\n"
            "p.yaml:4:10: spec.sinks[0].config.enabled: expected true or false, found 'maybe'\n"
            "p.yaml:5:8: spec.sinks[0].config.flush: duration '5' has no unit; write e.g. 5s or 5ms\n"
            "p.yaml:6:12: spec.sinks[0].config.max_bytes: invalid size '12 parsecs'; expected a number of bytes with "
            "an optional unit such as 65536, 64KiB, 4MiB or 1GB\n"
            "p.yaml:7:8: spec.sinks[0].config.topic: expected a string, found a map\n"
            "p.yaml:8:10: spec.sinks[0].config.brokers: expected a string or a list of strings, found a map\n"
            "p.yaml:9:11: spec.sinks[0].config.list[1]: expected a string, found a sequence\n"
            "p.yaml:10:15: spec.sinks[0].config.headers.a: expected a string, found a sequence\n"
            "p.yaml:11:9: spec.sinks[0].config.format: expected one of json, ndjson, found 'xml'\n"
            "p.yaml:12:1: spec.sinks[0].config.tls: expected a string, found nothing\n"
            "p.yaml:1:1: spec.sinks[0].config.path: missing required key 'path' (expected a string)\n"
            "p.yaml:1:1: spec.sinks[0].config.client: missing required key 'client' (expected a map of librdkafka "
            "settings)\n");
}

TEST(ConfigReader, NotAMap) {
  Diagnostics diags;
  ConfigReader r(Node("[1, 2]"), diags);
  EXPECT_EQ(r.String("x", "fallback"), "fallback");
  r.RejectUnknownKeys();
  EXPECT_EQ(diags.Format(), "p.yaml:1:1: spec.sinks[0].config: expected a map, found a sequence\n");

  // An absent `config:` reads as empty; required keys are reported at the parent.
  Diagnostics absent_diags;
  ConfigNode entry = Node("type: kafka\nid: out\n", "spec.sinks[0]");
  ConfigReader absent(entry["config"], absent_diags);
  EXPECT_EQ(absent.RequiredString("topic"), "");
  EXPECT_EQ(absent_diags.Format(),
            "p.yaml:1:1: spec.sinks[0].config.topic: missing required key 'topic' (expected a string)\n");
}

TEST(ConfigReader, RejectUnknownKeysSuggests) {
  Diagnostics diags;
  ConfigReader r(Node("topik: a\nbrokers: b\ncompression: lz4\nzzz: 1\nclient_conf: {}\n"), diags);
  r.RequiredString("topic");
  r.StringList("brokers");
  r.Enum("compression_type", {"none", "lz4"}, "none");
  r.RejectUnknownKeys({"client_conf"});
  EXPECT_EQ(diags.Format(),
            "p.yaml:1:1: spec.sinks[0].config.topic: missing required key 'topic' (expected a string)\n"
            "p.yaml:1:1: spec.sinks[0].config.topik: unknown key 'topik' (did you mean 'topic'?)\n"
            "p.yaml:3:1: spec.sinks[0].config.compression: unknown key 'compression' (did you mean "
            "'compression_type'?)\n"
            "p.yaml:4:1: spec.sinks[0].config.zzz: unknown key 'zzz' (known keys: brokers, compression_type, topic, "
            "client_conf)\n");
}

TEST(ConfigReader, ErrorAtKeyOrParent) {
  Diagnostics diags;
  ConfigReader r(Node("a: 1\nb: 2\n"), diags);
  r.Error("b", "b is wrong");
  r.Error("c", "c is missing");
  EXPECT_EQ(diags.Format(),
            "p.yaml:2:4: spec.sinks[0].config.b: b is wrong\n"
            "p.yaml:1:1: spec.sinks[0].config.c: c is missing\n");
}

TEST(ConfigReader, SubstitutesOnRead) {
  setenv("WEIR_CONFIG_TEST_TOPIC", "orders", 1);
  setenv("WEIR_CONFIG_TEST_N", "8", 1);
  unsetenv("WEIR_CONFIG_TEST_UNSET");
  Diagnostics diags;
  ConfigReader r(Node(R"y(topic: "${WEIR_CONFIG_TEST_TOPIC}.v1"
n: ${WEIR_CONFIG_TEST_N}
d: ${WEIR_CONFIG_TEST_UNSET:-5s}
list: ["${WEIR_CONFIG_TEST_TOPIC}", "${WEIR_CONFIG_TEST_UNSET}"]
bad: "${WEIR_CONFIG_TEST_UNSET}"
)y"),
                 diags);
  EXPECT_EQ(r.RequiredString("topic"), "orders.v1");
  EXPECT_EQ(r.Int("n", 0), 8);
  EXPECT_EQ(r.Duration("d", 0), 5000);
  EXPECT_THAT(r.StringList("list"), ElementsAre("orders"));
  EXPECT_EQ(r.String("bad", "x"), "x");
  EXPECT_EQ(diags.Format(),
            "p.yaml:4:37: spec.sinks[0].config.list[1]: environment variable WEIR_CONFIG_TEST_UNSET is not set (set "
            "it, or write ${WEIR_CONFIG_TEST_UNSET:-default} to give a default)\n"
            "p.yaml:5:6: spec.sinks[0].config.bad: environment variable WEIR_CONFIG_TEST_UNSET is not set (set it, "
            "or write ${WEIR_CONFIG_TEST_UNSET:-default} to give a default)\n");
}

TEST(SubstituteEnv, Forms) {
  setenv("WEIR_SUBST_A", "alpha", 1);
  setenv("WEIR_SUBST_EMPTY", "", 1);
  unsetenv("WEIR_SUBST_UNSET");
  EXPECT_EQ(SubstituteEnv("plain"), "plain");
  EXPECT_EQ(SubstituteEnv("${WEIR_SUBST_A}"), "alpha");
  EXPECT_EQ(SubstituteEnv("x-${WEIR_SUBST_A}-${WEIR_SUBST_A}"), "x-alpha-alpha");
  EXPECT_EQ(SubstituteEnv("${WEIR_SUBST_UNSET:-dflt}"), "dflt");
  EXPECT_EQ(SubstituteEnv("${WEIR_SUBST_UNSET:-}"), "");
  EXPECT_EQ(SubstituteEnv("${WEIR_SUBST_UNSET:-a:b}"), "a:b");
  EXPECT_EQ(SubstituteEnv("${WEIR_SUBST_A:-dflt}"), "alpha");
  EXPECT_EQ(SubstituteEnv("${WEIR_SUBST_EMPTY:-dflt}"), "dflt");  // as in the shell: empty takes the default
  EXPECT_EQ(SubstituteEnv("${WEIR_SUBST_EMPTY}"), "");
  EXPECT_EQ(SubstituteEnv("$$"), "$");
  EXPECT_EQ(SubstituteEnv("$${WEIR_SUBST_A}"), "${WEIR_SUBST_A}");
  EXPECT_EQ(SubstituteEnv("cost $5 $"), "cost $5 $");
  EXPECT_EQ(SubstituteEnv("${WEIR_SUBST_UNSET}").error().message,
            "environment variable WEIR_SUBST_UNSET is not set (set it, or write ${WEIR_SUBST_UNSET:-default} to give "
            "a default)");
  EXPECT_FALSE(SubstituteEnv("${WEIR_SUBST_A"));
  EXPECT_FALSE(SubstituteEnv("${}"));
  EXPECT_FALSE(SubstituteEnv("${1A}"));
  EXPECT_FALSE(SubstituteEnv("${A B}"));
}

TEST(ParseBytes, Units) {
  EXPECT_EQ(ParseBytes("1048576"), 1048576);
  EXPECT_EQ(ParseBytes("0"), 0);
  EXPECT_EQ(ParseBytes("512B"), 512);
  EXPECT_EQ(ParseBytes("64KiB"), 65536);
  EXPECT_EQ(ParseBytes("4MiB"), 4194304);
  EXPECT_EQ(ParseBytes("1GiB"), 1073741824);
  EXPECT_EQ(ParseBytes("2TiB"), 2199023255552);
  EXPECT_EQ(ParseBytes("64KB"), 64000);
  EXPECT_EQ(ParseBytes("4MB"), 4000000);
  EXPECT_EQ(ParseBytes("1GB"), 1000000000);
  EXPECT_EQ(ParseBytes("1.5MiB"), 1572864);
  EXPECT_EQ(ParseBytes("16 mib"), 16777216);
  EXPECT_FALSE(ParseBytes(""));
  EXPECT_FALSE(ParseBytes("-1"));
  EXPECT_FALSE(ParseBytes("MiB"));
  EXPECT_FALSE(ParseBytes("12 "));
  EXPECT_FALSE(ParseBytes("1..2MB"));
  EXPECT_FALSE(ParseBytes("4 parsecs"));
  EXPECT_FALSE(ParseBytes("99999999999999999999"));
  EXPECT_FALSE(ParseBytes("9999999999TiB"));
}

TEST(Diagnostics, FormatAndCounts) {
  Diagnostics d;
  EXPECT_TRUE(d.ok());
  d.Warning({"p.yaml", 1, 13, "apiVersion"}, "old");
  EXPECT_TRUE(d.ok());
  d.Error({"p.yaml", 4, 2, "spec.x"}, "bad");
  d.Error({"p.yaml", 0, 0, ""}, "cannot open");
  d.Error({"", 2, 3, ""}, "no file");
  EXPECT_FALSE(d.ok());
  EXPECT_EQ(d.error_count(), 3u);
  EXPECT_EQ(d.all().size(), 4u);
  EXPECT_EQ(d.Format(),
            "p.yaml:1:13: warning: apiVersion: old\n"
            "p.yaml:4:2: spec.x: bad\n"
            "p.yaml: cannot open\n"
            "<input>:2:3: no file\n");
}

TEST(ClosestMatch, TyposOnly) {
  std::vector<std::string> keys = {"window", "group_by", "select", "where", "id"};
  EXPECT_EQ(ClosestMatch("windw", keys), "window");
  EXPECT_EQ(ClosestMatch("gruop_by", keys), "group_by");  // a swap is one edit
  EXPECT_EQ(ClosestMatch("Select", keys), "select");
  EXPECT_EQ(ClosestMatch("ids", keys), "id");
  EXPECT_EQ(ClosestMatch("colour", keys), std::nullopt);
  EXPECT_EQ(ClosestMatch("x", keys), std::nullopt);
  EXPECT_EQ(ClosestMatch("window", {}), std::nullopt);
}

}  // namespace
}  // namespace weir::spec
