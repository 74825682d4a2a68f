// Loading, validating and compiling the configuration: every invalid value is
// an InvalidArgument naming its field.

#include "engine/config.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace ebb {
namespace {

constexpr TimeNs kHour = 60 * kNanosPerMinute;

EngineConfig CompileText(const std::string& text) {
  absl::StatusOr<ebb::v1::EbbConfig> parsed =
      ParseConfig(text, /*json=*/false, "test.txtpb");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  if (!parsed.ok()) return {};
  absl::StatusOr<EngineConfig> compiled = CompileConfig(*parsed);
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  if (!compiled.ok()) return {};
  return *compiled;
}

// Parses (text format) and compiles; returns the error.
absl::Status CompileError(const std::string& text) {
  absl::StatusOr<ebb::v1::EbbConfig> parsed =
      ParseConfig(text, /*json=*/false, "test.txtpb");
  if (!parsed.ok()) return parsed.status();
  return CompileConfig(*parsed).status();
}

void ExpectDefaultRule(const RuleSpec& rule) {
  EXPECT_EQ(rule.name, "drawdown");
  EXPECT_EQ(rule.metric, RuleMetric::kDrawdown);
  EXPECT_EQ(rule.thresholds, (std::vector<double>{0.10, 0.15, 0.20}));
  EXPECT_EQ(rule.severities,
            (std::vector<ebb::v1::Severity>{ebb::v1::WARNING, ebb::v1::WARNING,
                                            ebb::v1::CRITICAL}));
  EXPECT_EQ(rule.rearm, 0.02);
  EXPECT_TRUE(rule.symbol_globs.empty());
  EXPECT_FALSE(rule.require_full_window);
}

TEST(ConfigTest, DefaultConfigCompiles) {
  absl::StatusOr<EngineConfig> c = CompileConfig(DefaultConfig());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->window.length, 30 * kNanosPerDay);
  EXPECT_EQ(c->window.resolution, kNanosPerMinute);
  EXPECT_EQ(c->allowed_lateness, 0);
  EXPECT_EQ(c->max_future, kNanosPerDay);
  ASSERT_EQ(c->rules.size(), 1u);
  ExpectDefaultRule(c->rules[0]);
  EXPECT_EQ(c->config_hash.size(), 16u);
  EXPECT_EQ(c->config_hash.find_first_not_of("0123456789abcdef"),
            std::string::npos);
}

TEST(ConfigTest, EmptyTextMeansTheDefaults) {
  const EngineConfig c = CompileText("");
  EXPECT_EQ(c.window.length, 30 * kNanosPerDay);
  EXPECT_EQ(c.window.resolution, kNanosPerMinute);
  EXPECT_EQ(c.allowed_lateness, 0);
  EXPECT_EQ(c.max_future, kNanosPerDay);
  ASSERT_EQ(c.rules.size(), 1u);
  ExpectDefaultRule(c.rules[0]);
  EXPECT_EQ(c.config_hash, CompileConfig(DefaultConfig())->config_hash);
}

TEST(ConfigTest, UnsetScalarsFallBackToTheDefaults) {
  const EngineConfig c = CompileText("window { length: \"7d\" }");
  EXPECT_EQ(c.window.length, 7 * kNanosPerDay);
  EXPECT_EQ(c.window.resolution, kNanosPerMinute);
  EXPECT_EQ(c.max_future, kNanosPerDay);
  ASSERT_EQ(c.rules.size(), 1u);  // no rules given: the default rule stays
  ExpectDefaultRule(c.rules[0]);
}

const char kFullText[] = R"pb(
  window { length: "1h30m" resolution: "90s" }
  allowed_lateness: "250ms"
  max_future: "2h"
  rules {
    name: "deep"
    metric: "max_drawdown"
    levels { threshold: 0.05 severity: INFO }
    levels { threshold: 0.25 severity: CRITICAL }
    rearm: 0.01
    symbols: "BTC-*"
    symbols: "ETH?USD"
    require_full_window: true
  }
  rules {
    name: "fall.2"
    metric: "decline"
    levels { threshold: 0.3 }
  }
)pb";

const char kFullJson[] = R"json({
  "window": {"length": "1h30m", "resolution": "90s"},
  "allowedLateness": "250ms",
  "max_future": "2h",
  "rules": [
    {"name": "deep", "metric": "max_drawdown",
     "levels": [{"threshold": 0.05, "severity": "INFO"},
                {"threshold": 0.25, "severity": "CRITICAL"}],
     "rearm": 0.01, "symbols": ["BTC-*", "ETH?USD"], "requireFullWindow": true},
    {"name": "fall.2", "metric": "decline", "levels": [{"threshold": 0.3}]}
  ]
})json";

void ExpectFullConfig(const EngineConfig& c) {
  EXPECT_EQ(c.window.length, 90 * kNanosPerMinute);
  EXPECT_EQ(c.window.resolution, 90 * kNanosPerSecond);
  EXPECT_EQ(c.allowed_lateness, 250'000'000);
  EXPECT_EQ(c.max_future, 2 * kHour);
  ASSERT_EQ(c.rules.size(), 2u);  // the default rule is replaced
  const RuleSpec& deep = c.rules[0];
  EXPECT_EQ(deep.name, "deep");
  EXPECT_EQ(deep.metric, RuleMetric::kMaxDrawdown);
  EXPECT_EQ(deep.thresholds, (std::vector<double>{0.05, 0.25}));
  EXPECT_EQ(deep.severities,
            (std::vector<ebb::v1::Severity>{ebb::v1::INFO, ebb::v1::CRITICAL}));
  EXPECT_EQ(deep.rearm, 0.01);
  EXPECT_EQ(deep.symbol_globs, (std::vector<std::string>{"BTC-*", "ETH?USD"}));
  EXPECT_TRUE(deep.require_full_window);
  EXPECT_TRUE(deep.Matches("BTC-USD"));
  EXPECT_TRUE(deep.Matches("ETH/USD"));
  EXPECT_FALSE(deep.Matches("ETH-EUR"));
  EXPECT_FALSE(deep.Matches("XBTC-USD"));
  const RuleSpec& fall = c.rules[1];
  EXPECT_EQ(fall.name, "fall.2");
  EXPECT_EQ(fall.metric, RuleMetric::kDecline);
  EXPECT_EQ(fall.thresholds, (std::vector<double>{0.3}));
  EXPECT_EQ(fall.severities,
            (std::vector<ebb::v1::Severity>{ebb::v1::WARNING}));
  EXPECT_EQ(fall.rearm, 0.0);
  EXPECT_TRUE(fall.Matches("ANYTHING"));
  EXPECT_FALSE(fall.require_full_window);
}

TEST(ConfigTest, TextFormat) { ExpectFullConfig(CompileText(kFullText)); }

TEST(ConfigTest, Json) {
  absl::StatusOr<ebb::v1::EbbConfig> parsed =
      ParseConfig(kFullJson, /*json=*/true, "c.json");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  absl::StatusOr<EngineConfig> c = CompileConfig(*parsed);
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectFullConfig(*c);
  // The same configuration in either syntax has the same hash.
  EXPECT_EQ(c->config_hash, CompileText(kFullText).config_hash);
}

TEST(ConfigTest, ExactResolution) {
  const EngineConfig c =
      CompileText("window { length: \"10m\" resolution: \"exact\" }");
  EXPECT_EQ(c.window.length, 10 * kNanosPerMinute);
  EXPECT_EQ(c.window.resolution, 0);
}

TEST(ConfigTest, UnknownFieldsAreRejected) {
  struct Case {
    std::string text;
    bool json;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"window { length: \"30d\" }\nbogus_field: 3", false, "bogus_field"},
      {"rules { name: \"x\" treshold: 0.1 }", false, "treshold"},
      {"window { lenght: \"30d\" }", false, "lenght"},
      {R"({"window": {"length": "30d"}, "bogusField": 3})", true, "bogusField"},
      {R"({"rules": [{"name": "x", "treshold": 0.1}]})", true, "treshold"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ebb::v1::EbbConfig> parsed =
        ParseConfig(c.text, c.json, "my-config");
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << c.text;
    EXPECT_TRUE(absl::StrContains(parsed.status().message(), c.field))
        << c.text << " -> " << parsed.status();
    EXPECT_TRUE(absl::StrContains(parsed.status().message(), "my-config"))
        << parsed.status();
  }
  // Syntax errors too.
  EXPECT_FALSE(ParseConfig("window {", false, "x").ok());
  EXPECT_FALSE(ParseConfig("{\"window\": ", true, "x").ok());
  EXPECT_FALSE(
      ParseConfig("rules { levels { threshold: \"high\" } }", false, "x").ok());
}

// JSON that the protobuf parser would take but the text format would not, or
// that does not mean what it says: each is an error naming the field.
TEST(ConfigTest, JsonRejectsDuplicateKeysAndNonBooleans) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"strict": true, "strict": false})",
       "strict: given twice in one object"},
      {R"({"maxFuture": "1d", "max_future": "2d"})",
       "max_future: given twice in one object"},
      {R"({"window": {"length": "30d", "length": "1d"}})",
       "window.length: given twice in one object"},
      {R"({"rules": [{"name": "a"}, {"name": "b", "na\u006de": "c"}]})",
       "rules[1].name: given twice in one object"},
      {R"({"strict": "yes"})",
       R"(strict: "yes" is not a boolean (true or false))"},
      {R"({"strict": "true"})",
       R"(strict: "true" is not a boolean (true or false))"},
      {R"({"rules": [{"name": "a", "requireFullWindow": 1}]})",
       "rules[0].require_full_window: 1 is not a boolean (true or false)"},
  };
  for (const auto& [text, message] : cases) {
    absl::StatusOr<ebb::v1::EbbConfig> parsed =
        ParseConfig(text, true, "c.json");
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(parsed.status().message(),
              absl::StrCat("c.json: invalid JSON config: ", message));
  }
  // The same keys once each, and literal booleans, are fine.
  absl::StatusOr<ebb::v1::EbbConfig> parsed = ParseConfig(
      R"({"strict": true, "window": {"length": "30d"}, "rules": [{"name": "a",
          "levels": [{"threshold": 0.1}]}, {"name": "b", "levels": [{"threshold": 0.1}]}]})",
      true, "c.json");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->strict());
  // The text format already rejects a repeated singular field.
  EXPECT_FALSE(ParseConfig("strict: true\nstrict: false", false, "c").ok());
}

TEST(ConfigTest, SymbolGlobsMustCompile) {
  for (const auto& [glob, problem] :
       std::vector<std::pair<std::string, std::string>>{
           {"[abc", "has a '[' without its closing ']'"},
           {"BTC-[!]", "has a '[' without its closing ']'"},
           {"BTC\\", "ends with a lone '\\'"}}) {
    ebb::v1::EbbConfig config = DefaultConfig();
    config.mutable_rules(0)->add_symbols("BTC-*");
    config.mutable_rules(0)->add_symbols(glob);
    absl::StatusOr<EngineConfig> compiled = CompileConfig(config);
    ASSERT_FALSE(compiled.ok()) << glob;
    EXPECT_EQ(compiled.status().message(),
              absl::StrCat("rules[0].symbols[1]: \"", glob,
                           "\" is not a valid glob: ", problem));
  }
  for (const std::string glob : {"[abc]*", "[]x]", "[!a-c]?", "A\\[", "*"}) {
    ebb::v1::EbbConfig config = DefaultConfig();
    config.mutable_rules(0)->add_symbols(glob);
    EXPECT_TRUE(CompileConfig(config).ok()) << glob;
  }
}

TEST(ConfigTest, InvalidValuesNameTheirField) {
  const std::string rule = "rules { name: \"r\" levels { threshold: 0.1 } }\n";
  struct Case {
    std::string text;
    std::string field;
  };
  const std::vector<Case> cases = {
      // window
      {"window { length: \"0s\" }", "window.length"},
      {"window { length: \"abc\" }", "window.length"},
      {"window { length: \"-1d\" }", "window.length"},
      {"window { length: \"3651d\" }", "window.length"},
      {"window { length: \"30d\" resolution: \"7m\" }",
       "window.resolution"},  // not a divisor
      {"window { length: \"1d\" resolution: \"2d\" }", "window.resolution"},
      {"window { length: \"1d\" resolution: \"0s\" }", "window.resolution"},
      {"window { length: \"1d\" resolution: \"minute\" }", "window.resolution"},
      // lateness and clock
      {"window { length: \"1h\" } allowed_lateness: \"2h\"",
       "allowed_lateness"},
      {"allowed_lateness: \"soon\"", "allowed_lateness"},
      {"max_future: \"-1s\"", "max_future"},
      {"max_symbols: -1", "max_symbols"},
      // rules
      {"rules { name: \"\" levels { threshold: 0.1 } }", "rules[0].name"},
      {"rules { name: \"a b\" levels { threshold: 0.1 } }", "rules[0].name"},
      {"rules { name: \"" + std::string(65, 'n') +
           "\" levels { threshold: 0.1 } }",
       "rules[0].name"},
      {rule + rule, "rules[1].name"},
      {"rules { name: \"r\" metric: \"drawup\" levels { threshold: 0.1 } }",
       "rules[0].metric"},
      {"rules { name: \"r\" }", "rules[0].levels"},
      {"rules { name: \"r\" levels { threshold: 0 } }",
       "rules[0].levels[0].threshold"},
      {"rules { name: \"r\" levels { threshold: 1 } }",
       "rules[0].levels[0].threshold"},
      {"rules { name: \"r\" levels { threshold: -0.1 } }",
       "rules[0].levels[0].threshold"},
      {"rules { name: \"r\" levels { threshold: nan } }",
       "rules[0].levels[0].threshold"},
      {"rules { name: \"r\" levels { threshold: 0.2 } levels { threshold: 0.1 "
       "} }",
       "rules[0].levels[1].threshold"},
      {"rules { name: \"r\" levels { threshold: 0.2 } levels { threshold: 0.2 "
       "} }",
       "rules[0].levels[1].threshold"},
      {rule + "rules { name: \"s\" levels { threshold: 0.1 } levels { "
              "threshold: 0.2 } "
              "levels { threshold: 0.15 } }",
       "rules[1].levels[2].threshold"},
      {"rules { name: \"r\" levels { threshold: 0.1 } rearm: -0.01 }",
       "rules[0].rearm"},
      {"rules { name: \"r\" levels { threshold: 0.1 } rearm: 0.1 }",
       "rules[0].rearm"},
      {"rules { name: \"r\" levels { threshold: 0.1 } rearm: inf }",
       "rules[0].rearm"},
      {"rules { name: \"r\" levels { threshold: 0.1 } symbols: \"\" }",
       "rules[0].symbols[0]"},
  };
  for (const Case& c : cases) {
    const absl::Status status = CompileError(c.text);
    ASSERT_FALSE(status.ok()) << c.text;
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_TRUE(absl::StrContains(status.message(), c.field))
        << c.text << " -> " << status << " (want it to name " << c.field << ")";
  }
}

TEST(ConfigTest, ValidEdgeValues) {
  // Resolution equal to the window, rearm 0, lateness equal to the window.
  const EngineConfig c = CompileText(
      "window { length: \"1h\" resolution: \"1h\" } allowed_lateness: \"1h\"\n"
      "rules { name: \"A-z_0.9\" levels { threshold: 0.000001 } levels { "
      "threshold: 0.999999 } "
      "rearm: 0 }");
  EXPECT_EQ(c.window.resolution, kHour);
  EXPECT_EQ(c.allowed_lateness, kHour);
  ASSERT_EQ(c.rules.size(), 1u);
  EXPECT_EQ(c.rules[0].rearm, 0.0);
}

TEST(ConfigTest, ConfigHash) {
  const EngineConfig a = CompileText(kFullText);
  const EngineConfig b = CompileText(kFullText);
  EXPECT_EQ(a.config_hash, b.config_hash);
  EXPECT_EQ(a.config_hash.size(), 16u);
  // A different rule threshold, rule name, metric or window gives a different
  // hash.
  const std::vector<std::pair<std::string, std::string>> changes = {
      {"threshold: 0.25", "threshold: 0.26"},
      {"name: \"deep\"", "name: \"deeper\""},
      {"metric: \"decline\"", "metric: \"drawdown\""},
      {"length: \"1h30m\"", "length: \"3h\""},
      {"allowed_lateness: \"250ms\"", "allowed_lateness: \"251ms\""},
      {"require_full_window: true", "require_full_window: false"},
  };
  std::vector<std::string> hashes = {a.config_hash};
  for (const auto& [from, to] : changes) {
    std::string text = kFullText;
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    const EngineConfig changed = CompileText(text);
    EXPECT_NE(changed.config_hash, a.config_hash) << to;
    hashes.push_back(changed.config_hash);
  }
  std::sort(hashes.begin(), hashes.end());
  EXPECT_EQ(std::unique(hashes.begin(), hashes.end()), hashes.end());
  // The default configuration's hash differs from this one's.
  EXPECT_NE(CompileConfig(DefaultConfig())->config_hash, a.config_hash);
}

TEST(ConfigTest, MaxSymbols) {
  EXPECT_EQ(CompileText("").max_symbols, 0u);
  const EngineConfig c = CompileText("max_symbols: 200000");
  EXPECT_EQ(c.max_symbols, 200000u);
  // A limit changes what is applied, so it changes the hash; none (0) leaves
  // the default's hash as it was.
  EXPECT_NE(c.config_hash, CompileText("").config_hash);
  EXPECT_EQ(CompileText("max_symbols: 0").config_hash,
            CompileText("").config_hash);
  const absl::Status negative = CompileError("max_symbols: -5");
  EXPECT_EQ(negative.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(negative.message(),
            "max_symbols: -5 is negative (0 means no limit)");
}

TEST(ConfigTest, StableHash64IsFnv1a) {
  // Published FNV-1a 64-bit test vectors.
  EXPECT_EQ(StableHash64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(StableHash64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(StableHash64("foobar"), 0x85944171f73967e8ull);
}

}  // namespace
}  // namespace ebb
