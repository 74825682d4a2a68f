// Alert episodes (docs/semantics.md, "Alerts") through a Pipeline on hand-built
// price paths.

#include "engine/alert_rules.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ebb/v1/events.pb.h"
#include "engine/pipeline.h"
#include "gtest/gtest.h"

namespace ebb {
namespace {

using ebb::v1::Alert;

// 2025-01-01T00:00:00Z.
constexpr TimeNs kT0 = 1'735'689'600LL * kNanosPerSecond;
constexpr TimeNs kMinute = kNanosPerMinute;

TimeNs Minute(int m) { return kT0 + m * kMinute; }

TimeNs TimeOf(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * kNanosPerSecond + ts.nanos();
}

class AlertCollector : public Output {
 public:
  void OnAlert(const Alert& alert) override { alerts.push_back(alert); }
  std::vector<Alert> alerts;
};

// The rule of the brief: drawdown at 0.10 / 0.15 / 0.20 (WARNING, WARNING,
// CRITICAL), re-arm 0.02.
const char kDrawdownRule[] =
    "rules { name: \"dd\" metric: \"drawdown\" "
    "levels { threshold: 0.10 severity: WARNING } "
    "levels { threshold: 0.15 severity: WARNING } "
    "levels { threshold: 0.20 severity: CRITICAL } rearm: 0.02 }\n";

struct Harness {
  explicit Harness(const std::string& rules, const std::string& length = "1h")
      : clock(kT0 + 3650 * kNanosPerDay) {
    const std::string text = absl::StrCat(
        "window { length: \"", length, "\" resolution: \"exact\" }\n", rules);
    auto parsed = ParseConfig(text, /*json=*/false, "test");
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    auto compiled = CompileConfig(*parsed);
    EXPECT_TRUE(compiled.ok()) << compiled.status();
    config_hash = compiled->config_hash;
    auto created = Pipeline::Create(std::move(*compiled), &clock, &out);
    EXPECT_TRUE(created.ok()) << created.status();
    pipeline = std::move(*created);
  }
  // Applies a price; returns the alerts it caused.
  std::vector<Alert> Price(int minute, double price,
                           const std::string& symbol = "BTC-USD") {
    const size_t before = out.alerts.size();
    pipeline->OnPrice(symbol, Minute(minute), price, {0, -1, minute}, "r");
    return std::vector<Alert>(out.alerts.begin() + static_cast<long>(before),
                              out.alerts.end());
  }

  FakeClock clock;
  AlertCollector out;
  std::unique_ptr<Pipeline> pipeline;
  std::string config_hash;
};

TEST(AlertRulesTest, Lifecycle) {
  Harness h(kDrawdownRule);
  EXPECT_TRUE(h.Price(0, 100).empty());
  EXPECT_TRUE(h.Price(1, 95).empty());  // 0.05: quiet

  std::vector<Alert> a = h.Price(2, 89);  // 0.11: OPENED at 0.10
  ASSERT_EQ(a.size(), 1u);
  const Alert opened = a[0];
  EXPECT_EQ(opened.transition(), ebb::v1::OPENED);
  EXPECT_EQ(opened.level(), 0.10);
  EXPECT_EQ(opened.severity(), ebb::v1::WARNING);
  EXPECT_EQ(opened.value(), 1.0 - 89.0 / 100.0);
  EXPECT_EQ(TimeOf(opened.episode_start()), Minute(2));

  EXPECT_TRUE(h.Price(3, 88).empty());  // 0.12: holds at 0.10

  a = h.Price(4, 84);  // 0.16: ESCALATED to 0.15
  ASSERT_EQ(a.size(), 1u);
  const Alert escalated = a[0];
  EXPECT_EQ(escalated.transition(), ebb::v1::ESCALATED);
  EXPECT_EQ(escalated.level(), 0.15);
  EXPECT_EQ(escalated.severity(), ebb::v1::WARNING);
  EXPECT_EQ(TimeOf(escalated.episode_start()), Minute(2));

  EXPECT_TRUE(h.Price(5, 86).empty());    // 0.14: dips a bit, no alert
  EXPECT_TRUE(h.Price(6, 85.5).empty());  // 0.145
  EXPECT_TRUE(
      h.Price(7, 84).empty());  // 0.16 again: the episode already reached 0.15

  a = h.Price(8, 79);  // 0.21: ESCALATED to 0.20
  ASSERT_EQ(a.size(), 1u);
  const Alert critical = a[0];
  EXPECT_EQ(critical.transition(), ebb::v1::ESCALATED);
  EXPECT_EQ(critical.level(), 0.20);
  EXPECT_EQ(critical.severity(), ebb::v1::CRITICAL);

  EXPECT_TRUE(h.Price(9, 85).empty());   // 0.15
  EXPECT_TRUE(h.Price(10, 91).empty());  // 0.09: still above 0.08

  a = h.Price(11, 93);  // 0.07 < 0.10 - 0.02: RESOLVED
  ASSERT_EQ(a.size(), 1u);
  const Alert resolved = a[0];
  EXPECT_EQ(resolved.transition(), ebb::v1::RESOLVED);
  EXPECT_EQ(resolved.level(), 0.20);  // the highest level the episode reached
  EXPECT_EQ(resolved.severity(), ebb::v1::CRITICAL);
  EXPECT_EQ(resolved.value(), 1.0 - 93.0 / 100.0);
  EXPECT_EQ(TimeOf(resolved.episode_start()), Minute(2));

  EXPECT_TRUE(h.Price(12, 95).empty());  // quiet

  a = h.Price(13, 84);  // 0.16: a new episode, OPENED at 0.15
  ASSERT_EQ(a.size(), 1u);
  const Alert reopened = a[0];
  EXPECT_EQ(reopened.transition(), ebb::v1::OPENED);
  EXPECT_EQ(reopened.level(), 0.15);
  EXPECT_EQ(TimeOf(reopened.episode_start()), Minute(13));

  const std::set<std::string> ids = {opened.id(), escalated.id(), critical.id(),
                                     resolved.id(), reopened.id()};
  EXPECT_EQ(ids.size(), 5u);
  for (const Alert& x : h.out.alerts) {
    EXPECT_EQ(x.id().size(), 32u);
    EXPECT_EQ(x.id().find_first_not_of("0123456789abcdef"), std::string::npos)
        << x.id();
    const int level_index = x.level() == 0.10 ? 0 : x.level() == 0.15 ? 1 : 2;
    EXPECT_EQ(x.id(), AlertId(x.symbol(), x.rule(), TimeOf(x.episode_start()),
                              x.transition(), level_index));
  }
  const PipelineStats& stats = h.pipeline->stats();
  EXPECT_EQ(stats.alerts[ebb::v1::OPENED], 2u);
  EXPECT_EQ(stats.alerts[ebb::v1::ESCALATED], 2u);
  EXPECT_EQ(stats.alerts[ebb::v1::RESOLVED], 1u);
}

TEST(AlertRulesTest, JumpOverSeveralLevelsOpensAtTheHighest) {
  Harness h(kDrawdownRule);
  h.Price(0, 100);
  const std::vector<Alert> a =
      h.Price(1, 75);  // 0.25: over 0.10, 0.15 and 0.20 at once
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].transition(), ebb::v1::OPENED);
  EXPECT_EQ(a[0].level(), 0.20);
  EXPECT_EQ(a[0].severity(), ebb::v1::CRITICAL);
  EXPECT_EQ(a[0].value(), 0.25);
  EXPECT_TRUE(h.Price(2, 70).empty());  // nothing higher to reach
  // From 0.20 straight to resolved.
  const std::vector<Alert> r = h.Price(3, 99);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].transition(), ebb::v1::RESOLVED);
  EXPECT_EQ(r[0].level(), 0.20);
}

TEST(AlertRulesTest, EscalationAfterPartialRecovery) {
  Harness h(kDrawdownRule);
  h.Price(0, 100);
  ASSERT_EQ(h.Price(1, 84).size(), 1u);  // OPENED at 0.15
  EXPECT_TRUE(h.Price(2, 90).empty());   // 0.10
  EXPECT_TRUE(
      h.Price(3, 91.5).empty());  // 0.085: partial recovery, still >= 0.08
  const std::vector<Alert> a = h.Price(4, 79);  // 0.21
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].transition(), ebb::v1::ESCALATED);
  EXPECT_EQ(a[0].level(), 0.20);
  EXPECT_EQ(TimeOf(a[0].episode_start()), Minute(1));
}

TEST(AlertRulesTest, ThresholdsAreInclusiveAndResolutionIsStrict) {
  // Binary-exact values: peak 128; 96 is a drawdown of exactly 0.25, 112 of
  // exactly 0.125.
  Harness h(
      "rules { name: \"exact\" levels { threshold: 0.25 } levels { threshold: "
      "0.5 } "
      "rearm: 0.125 }");
  h.Price(0, 128);
  const std::vector<Alert> a = h.Price(1, 96);  // reaches 0.25
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].value(), 0.25);
  EXPECT_EQ(a[0].severity(),
            ebb::v1::WARNING);           // unset severity defaults to WARNING
  EXPECT_TRUE(h.Price(2, 112).empty());  // exactly 0.25 - 0.125: not below
  const std::vector<Alert> r = h.Price(3, 113);  // 0.1171875: below
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].transition(), ebb::v1::RESOLVED);
  const std::vector<Alert> b = h.Price(4, 64);  // exactly 0.5
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].transition(), ebb::v1::OPENED);
  EXPECT_EQ(b[0].level(), 0.5);
}

TEST(AlertRulesTest, DeclineNeedsAChange) {
  Harness h(
      "rules { name: \"decline\" metric: \"decline\" levels { threshold: 0.10 "
      "} "
      "levels { threshold: 0.20 severity: CRITICAL } rearm: 0.02 }",
      "10m");
  h.Price(0, 100);
  // A 40 % fall inside the first window: change is unset, so no decline alert.
  for (int m = 1; m < 10; ++m) EXPECT_TRUE(h.Price(m, 60).empty()) << m;
  // At minute 10 the event at minute 0 is at t - W: change = 60 / 100 - 1.
  const std::vector<Alert> a = h.Price(10, 60);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].metric(), "decline");
  EXPECT_EQ(a[0].transition(), ebb::v1::OPENED);
  EXPECT_EQ(a[0].level(), 0.20);
  EXPECT_EQ(a[0].value(), -(60.0 / 100.0 - 1.0));
  ASSERT_TRUE(a[0].has_change());
  EXPECT_EQ(a[0].change(), 60.0 / 100.0 - 1.0);
  EXPECT_TRUE(a[0].full_window());
  EXPECT_EQ(a[0].peak().price(),
            60.0);  // the window (minute 0, minute 10] holds only 60s
  EXPECT_EQ(TimeOf(a[0].peak().time()), Minute(10));
  EXPECT_FALSE(a[0].has_trough());
  // Back up: change = 66 / 60 - 1 > 0, so the decline is negative: RESOLVED.
  const std::vector<Alert> r = h.Price(11, 66);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].transition(), ebb::v1::RESOLVED);
  EXPECT_EQ(r[0].value(), -(66.0 / 60.0 - 1.0));
}

TEST(AlertRulesTest, MaxDrawdownCarriesTheTrough) {
  Harness h(
      "rules { name: \"mdd\" metric: \"max_drawdown\" levels { threshold: 0.10 "
      "} "
      "levels { threshold: 0.30 } rearm: 0.05 }",
      "10m");
  h.Price(0, 100);
  h.Price(1, 120);
  const std::vector<Alert> a = h.Price(2, 90);  // 1 - 90/120 = 0.25
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].metric(), "max_drawdown");
  EXPECT_EQ(a[0].value(), 1.0 - 90.0 / 120.0);
  EXPECT_EQ(a[0].level(), 0.10);
  EXPECT_EQ(a[0].peak().price(), 120.0);
  EXPECT_EQ(TimeOf(a[0].peak().time()), Minute(1));
  ASSERT_TRUE(a[0].has_trough());
  EXPECT_EQ(a[0].trough().price(), 90.0);
  EXPECT_EQ(TimeOf(a[0].trough().time()), Minute(2));
  // A recovery does not lower max_drawdown while the pair is in the window.
  EXPECT_TRUE(h.Price(3, 125).empty());
  // Minute 11: the window (1, 11] holds 90, 125, 126: max_drawdown 0, RESOLVED.
  const std::vector<Alert> r = h.Price(11, 126);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].transition(), ebb::v1::RESOLVED);
  EXPECT_EQ(r[0].value(), 0.0);
  ASSERT_TRUE(r[0].has_trough());
  EXPECT_EQ(r[0].peak().price(), r[0].trough().price());
  EXPECT_EQ(r[0].peak().time().seconds(), r[0].trough().time().seconds());
}

TEST(AlertRulesTest, RequireFullWindow) {
  Harness h(
      "rules { name: \"full\" levels { threshold: 0.10 } rearm: 0.02 "
      "require_full_window: true }\n"
      "rules { name: \"any\" levels { threshold: 0.10 } rearm: 0.02 }",
      "10m");
  h.Price(0, 100);
  std::vector<Alert> a =
      h.Price(1, 80);  // 0.2, but the history does not cover the window
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].rule(), "any");
  EXPECT_FALSE(a[0].full_window());
  for (int m = 2; m < 10; ++m) EXPECT_TRUE(h.Price(m, 80).empty());
  a = h.Price(10, 70);  // window (0, 10]: peak 80, drawdown 0.125, full
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].rule(), "full");
  EXPECT_EQ(a[0].transition(), ebb::v1::OPENED);
  EXPECT_TRUE(a[0].full_window());
  EXPECT_EQ(a[0].value(), 1.0 - 70.0 / 80.0);
}

TEST(AlertRulesTest, SymbolGlobs) {
  Harness h(
      "rules { name: \"btc\" levels { threshold: 0.10 } symbols: \"BTC-*\" }\n"
      "rules { name: \"abc\" levels { threshold: 0.10 } symbols: \"[A-C]??\" "
      "symbols: \"*USD\" }\n"
      "rules { name: \"q\" levels { threshold: 0.10 } symbols: \"?ETH\" }\n"
      "rules { name: \"all\" levels { threshold: 0.10 } }");
  const std::vector<std::string> symbols = {
      "BTC-USD", "ETH-USD", "ABC", "XETH", "BTC", "DEF", "btc-usd"};
  std::multiset<std::string> fired;
  for (const std::string& s : symbols) {
    h.Price(0, 100, s);
    for (const Alert& a : h.Price(1, 85, s)) fired.insert(s + "/" + a.rule());
  }
  const std::multiset<std::string> want = {
      "BTC-USD/btc", "BTC-USD/abc", "BTC-USD/all", "ETH-USD/abc", "ETH-USD/all",
      "ABC/abc",     "ABC/all",     "XETH/q",      "XETH/all",    "BTC/abc",
      "BTC/all",     "DEF/all",     "btc-usd/all"};
  EXPECT_EQ(fired, want);
}

// A random multi-symbol, multi-rule stream with strictly increasing times.
void RunRandom(Harness* h, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0.0, 0.03);
  const std::vector<std::string> symbols = {"BTC-USD", "ETH-USD", "IREN"};
  std::vector<double> price(symbols.size(), 100.0);
  for (int m = 0; m < 6000; ++m) {
    const size_t k = rng() % symbols.size();
    price[k] *= std::exp(z(rng));
    h->Price(m, price[k], symbols[k]);
  }
}

const char kManyRules[] =
    "rules { name: \"dd\" levels { threshold: 0.10 } levels { threshold: 0.15 "
    "} "
    "levels { threshold: 0.20 severity: CRITICAL } rearm: 0.02 }\n"
    "rules { name: \"dd2\" levels { threshold: 0.10 } levels { threshold: 0.15 "
    "} "
    "levels { threshold: 0.20 severity: CRITICAL } rearm: 0.02 }\n"
    "rules { name: \"mdd\" metric: \"max_drawdown\" levels { threshold: 0.12 } "
    "rearm: 0.03 }\n"
    "rules { name: \"decl\" metric: \"decline\" levels { threshold: 0.05 } "
    "rearm: 0.01 }\n";

TEST(AlertRulesTest, IdsAreDeterministicAndDistinct) {
  Harness a(kManyRules), b(kManyRules);
  RunRandom(&a, 11);
  RunRandom(&b, 11);
  ASSERT_GT(a.out.alerts.size(), 100u);
  ASSERT_EQ(a.out.alerts.size(), b.out.alerts.size());
  for (size_t i = 0; i < a.out.alerts.size(); ++i) {
    EXPECT_EQ(a.out.alerts[i].SerializeAsString(),
              b.out.alerts[i].SerializeAsString())
        << i;
  }
  // Every alert of a stream with distinct times has a distinct id: they differ
  // in symbol, rule, episode, transition or level.
  std::set<std::string> ids;
  std::set<std::string> rules_seen;
  for (const Alert& x : a.out.alerts) {
    ids.insert(x.id());
    rules_seen.insert(x.rule());
  }
  EXPECT_EQ(ids.size(), a.out.alerts.size());
  EXPECT_EQ(rules_seen.size(), 4u);
  // "dd" and "dd2" are the same rule under two names: same transitions,
  // different ids.
  std::vector<const Alert*> dd, dd2;
  for (const Alert& x : a.out.alerts) {
    if (x.rule() == "dd") dd.push_back(&x);
    if (x.rule() == "dd2") dd2.push_back(&x);
  }
  ASSERT_EQ(dd.size(), dd2.size());
  for (size_t i = 0; i < dd.size(); ++i) {
    EXPECT_EQ(dd[i]->transition(), dd2[i]->transition());
    EXPECT_EQ(dd[i]->value(), dd2[i]->value());
    EXPECT_NE(dd[i]->id(), dd2[i]->id());
  }
  // The same path on two symbols: different ids.
  Harness c(kDrawdownRule);
  c.Price(0, 100, "AAA");
  c.Price(0, 100, "BBB");
  const std::vector<Alert> x = c.Price(1, 85, "AAA");
  const std::vector<Alert> y = c.Price(1, 85, "BBB");
  ASSERT_EQ(x.size(), 1u);
  ASSERT_EQ(y.size(), 1u);
  EXPECT_NE(x[0].id(), y[0].id());
}

TEST(AlertRulesTest, AlertFields) {
  Harness h(kDrawdownRule);
  const uint32_t source = h.pipeline->RegisterSource("topic.prices");
  h.pipeline->OnPrice("ETH-USD", Minute(0), 2000, {source, 4, 100}, "r0");
  h.pipeline->OnPrice("ETH-USD", Minute(30), 2500, {source, 4, 101}, "r1");
  ebb::v1::PriceEvent e;
  e.set_symbol("ETH-USD");
  ToTimestamp(Minute(45) + 123456789, e.mutable_event_time());
  e.set_price(2100);
  e.set_event_id("evt-42");
  h.pipeline->OnEncodedPrice(e.SerializeAsString(), {source, 4, 102});
  ASSERT_EQ(h.out.alerts.size(), 1u);
  const Alert& a = h.out.alerts[0];
  EXPECT_EQ(a.symbol(), "ETH-USD");
  EXPECT_EQ(a.rule(), "dd");
  EXPECT_EQ(a.transition(), ebb::v1::OPENED);
  EXPECT_EQ(a.level(), 0.15);  // 1 - 2100/2500 = 0.16
  EXPECT_EQ(a.severity(), ebb::v1::WARNING);
  EXPECT_EQ(a.metric(), "drawdown");
  EXPECT_EQ(a.value(), 1.0 - 2100.0 / 2500.0);
  EXPECT_EQ(a.price(), 2100.0);
  EXPECT_EQ(TimeOf(a.event_time()), Minute(45) + 123456789);
  EXPECT_EQ(a.event_time().nanos(), 123456789);
  EXPECT_EQ(TimeOf(a.episode_start()), Minute(45) + 123456789);
  EXPECT_EQ(a.peak().price(), 2500.0);
  EXPECT_EQ(TimeOf(a.peak().time()), Minute(30));
  EXPECT_FALSE(a.has_trough());
  EXPECT_EQ(a.window().seconds(), 3600);
  EXPECT_EQ(a.window().nanos(), 0);
  EXPECT_FALSE(a.has_change());  // no event at or before t - 1h yet
  EXPECT_FALSE(a.full_window());
  EXPECT_EQ(a.related_news_size(), 0);
  EXPECT_EQ(a.provenance().source(), "topic.prices");
  ASSERT_TRUE(a.provenance().has_partition());
  EXPECT_EQ(a.provenance().partition(), 4);
  EXPECT_EQ(a.provenance().offset(), 102);
  EXPECT_EQ(a.provenance().config_hash(), h.config_hash);
  EXPECT_FALSE(h.config_hash.empty());
  EXPECT_EQ(a.provenance().event_id(), "evt-42");
  EXPECT_EQ(a.id(), AlertId("ETH-USD", "dd", Minute(45) + 123456789,
                            ebb::v1::OPENED, 1));

  // A later event with change set: 2h after the first event, asof(t - 1h) =
  // 2500 at minute 30.
  const std::vector<Alert> b = [&] {
    const size_t before = h.out.alerts.size();
    h.pipeline->OnPrice("ETH-USD", Minute(91), 1650, {source, -1, 7}, "r3");
    return std::vector<Alert>(h.out.alerts.begin() + static_cast<long>(before),
                              h.out.alerts.end());
  }();
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].transition(), ebb::v1::ESCALATED);
  EXPECT_EQ(b[0].level(), 0.20);
  EXPECT_EQ(b[0].severity(), ebb::v1::CRITICAL);
  EXPECT_EQ(b[0].value(),
            1.0 - 1650.0 / 2100.0);  // the window (31, 91] peaks at 2100
  ASSERT_TRUE(b[0].has_change());
  EXPECT_EQ(b[0].change(), 1650.0 / 2500.0 - 1.0);
  EXPECT_TRUE(b[0].full_window());
  EXPECT_FALSE(b[0].provenance().has_partition());
  EXPECT_EQ(b[0].provenance().offset(), 7);
  EXPECT_EQ(b[0].provenance().event_id(), "");
  EXPECT_EQ(TimeOf(b[0].episode_start()), Minute(45) + 123456789);
}

// Levels are reached as a person reads prices (docs/semantics.md, "Alerts"):
// a price at exactly peak * (1 - L), written with 2 to 8 decimals, reaches L
// although 1 - price / peak rounds below L in doubles (1 - 80.0 / 100.0 is
// 0.19999999999999996); one tick above it does not. The same holds for the
// re-arm bound (0.10 - 0.02): at it, no resolution; one tick above, resolved.
// Every default level, for drawdown, max_drawdown and decline.
TEST(AlertRulesTest, LevelsAreReachedAtTheDecimalBoundary) {
  std::string rules;
  for (const char* metric : {"drawdown", "max_drawdown", "decline"}) {
    absl::StrAppend(&rules, "rules { name: \"", metric, "\" metric: \"", metric,
                    "\" levels { threshold: 0.10 } levels { threshold: 0.15 } "
                    "levels { threshold: 0.20 severity: CRITICAL } rearm: "
                    "0.02 }\n");
  }
  Harness h(rules, "10m");
  const int level_percent[] = {10, 15, 20};
  std::mt19937_64 rng(20251121);
  int symbols = 0;
  for (int decimals = 2; decimals <= 8; ++decimals) {
    int64_t scale = 1;
    for (int d = 0; d < decimals; ++d) scale *= 10;
    // Peaks of up to 13 significant digits, multiples of 100 ticks so that
    // peak * (1 - L) and peak * 0.92 are whole ticks.
    const int64_t max_hundreds = std::min<int64_t>(
        int64_t{10'000'000'000'000} / 100, int64_t{1'000'000} * scale / 100);
    std::uniform_int_distribution<int64_t> hundreds(1, max_hundreds);
    auto price = [&](int64_t ticks) {
      // As a CSV field is read: the decimal text, correctly rounded.
      return std::strtod(
          absl::StrCat(ticks / scale, ".",
                       absl::StrFormat("%0*d", decimals, ticks % scale))
              .c_str(),
          nullptr);
    };
    for (int c = 0; c < 200; ++c) {
      const int64_t peak = hundreds(rng) * 100;
      for (int li = 0; li < 3; ++li) {
        const int64_t at = peak / 100 * (100 - level_percent[li]);
        for (int above = 0; above <= 1; ++above) {
          const std::string symbol = absl::StrCat("S", symbols++);
          const std::string where =
              absl::StrCat(symbol, ": peak ", peak, " ticks of 1e-", decimals,
                           ", level 0.", level_percent[li],
                           above ? ", one tick above" : ", at the boundary");
          h.Price(0, price(peak), symbol);
          h.Price(5, price(peak), symbol);
          const std::vector<Alert> a = h.Price(10, price(at + above), symbol);
          const int want = li - above;  // the level index reached, -1: none
          ASSERT_EQ(a.size(), want < 0 ? 0u : 3u) << where;
          for (const Alert& alert : a) {
            EXPECT_EQ(alert.transition(), ebb::v1::OPENED) << where;
            EXPECT_EQ(alert.level(), level_percent[want] / 100.0)
                << where << " " << alert.rule();
          }
          if (want < 0) continue;
          // Back up to the re-arm bound 0.08: not below it, so no alert; one
          // tick above it, drawdown and decline resolve (max_drawdown still
          // holds the fall).
          const int64_t bound = peak / 100 * 92;
          EXPECT_TRUE(h.Price(11, price(bound), symbol).empty()) << where;
          const std::vector<Alert> r = h.Price(12, price(bound + 1), symbol);
          ASSERT_EQ(r.size(), 2u) << where;
          for (const Alert& alert : r) {
            EXPECT_EQ(alert.transition(), ebb::v1::RESOLVED) << where;
            EXPECT_NE(alert.rule(), "max_drawdown") << where;
          }
        }
      }
    }
  }
  EXPECT_EQ(symbols, 7 * 200 * 3 * 2);
}

}  // namespace
}  // namespace ebb
