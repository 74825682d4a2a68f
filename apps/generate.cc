// ebb generate: a deterministic synthetic price feed with a crash-and-recovery
// regime.
//
// Every symbol follows a geometric random walk driven by a shared market factor
// (beta in [0.6, 1.6]) plus its own noise. The market is calm, then falls by
// --crash-depth over
// --crash-days, recovers half of it over three times as long, and is calm
// again. Prices are whole ticks of 0.0001, so CSV, JSON lines and protobuf
// carry bit-identical doubles. The same flags and seed always give the same
// bytes.

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "apps/args.h"
#include "apps/commands.h"
#include "apps/progress.h"
#include "base/time_util.h"
#include "connectors/file_sink.h"
#include "connectors/file_source.h"
#include "ebb/v1/events.pb.h"

namespace ebb {
namespace {

constexpr char kUsage[] =
    R"(usage: ebb generate [--symbols 12] [--days 120] [--interval 1h] [--start 2025-01-01]
                    [--seed 42] [--format csv|jsonl|binpb] [--out PATH|-]
                    [--crash-day DAYS/2] [--crash-days 6] [--crash-depth 0.35]

Writes a deterministic synthetic feed: one price per symbol per interval, time-major, in CSV
(timestamp,symbol,price), JSON lines (ebb.v1.PriceEvent JSON) or length-delimited protobuf.
)";

const std::vector<FlagSpec> kFlags = {
    {"symbols", true, false},      {"days", true, false},
    {"interval", true, false},     {"start", true, false},
    {"seed", true, false},         {"format", true, false},
    {"out", true, false},          {"crash-day", true, false},
    {"crash-days", true, false},   {"crash-depth", true, false},
    {"no-progress", false, false}, {"help", false, false},
};

// xoshiro256** seeded by splitmix64: fixed, portable sequences
// (std::normal_distribution is not specified bit-for-bit across standard
// libraries).
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& s : s_) {
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      s = z ^ (z >> 31);
    }
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  double Uniform() {
    return static_cast<double>(Next() >> 11) * 0x1.0p-53;
  }                  // [0, 1)
  double Normal() {  // Box-Muller
    const double u1 = 1.0 - Uniform(), u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

struct SymbolModel {
  std::string name;
  double beta, daily_vol, log_price;
};

void AppendTicks(int64_t ticks, std::string* out) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%lld.%04lld",
                static_cast<long long>(ticks / 10000),
                static_cast<long long>(ticks % 10000));
  out->append(buf);
}

}  // namespace

int RunGenerate(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, 1, kFlags);
  if (!args.ok() || args->Has("help") || !args->positional().empty()) {
    if (!args.ok())
      std::fprintf(stderr, "ebb generate: %s\n\n",
                   std::string(args.status().message()).c_str());
    std::fputs(kUsage, stderr);
    return args.ok() && args->Has("help") ? 0 : 1;
  }
  auto usage_error = [](const std::string& message) {
    std::fprintf(stderr, "ebb generate: %s\n", message.c_str());
    return 1;
  };
  int64_t symbols = 0, days = 0;
  uint64_t seed = 0;
  double crash_depth = 0;
  if (!absl::SimpleAtoi(args->Get("symbols", "12"), &symbols) || symbols < 1 ||
      symbols > 10'000'000) {
    return usage_error("--symbols: expected a whole number from 1 to 10000000");
  }
  if (!absl::SimpleAtoi(args->Get("days", "120"), &days) || days < 1 ||
      days > 36500) {
    return usage_error("--days: expected a whole number from 1 to 36500");
  }
  if (!absl::SimpleAtoi(args->Get("seed", "42"), &seed)) {
    return usage_error("--seed: expected a whole number");
  }
  auto interval = ParseDuration(args->Get("interval", "1h"), "--interval");
  if (!interval.ok())
    return usage_error(std::string(interval.status().message()));
  if (*interval < kNanosPerSecond || kNanosPerDay % *interval != 0) {
    return usage_error(
        "--interval: must be at least 1s and divide a day (e.g. 1m, 5m, 1h, "
        "1d)");
  }
  auto start = ParseFileTime(args->Get("start", "2025-01-01T00:00:00Z"));
  if (!start.ok())
    return usage_error(absl::StrCat("--start: ", start.status().message()));
  int64_t crash_day = days / 2, crash_days = 6;
  if (!absl::SimpleAtoi(args->Get("crash-day", absl::StrCat(days / 2)),
                        &crash_day) ||
      crash_day < 0) {
    return usage_error("--crash-day: expected a whole number of days >= 0");
  }
  if (!absl::SimpleAtoi(args->Get("crash-days", "6"), &crash_days) ||
      crash_days < 1) {
    return usage_error("--crash-days: expected a whole number of days >= 1");
  }
  if (!absl::SimpleAtod(args->Get("crash-depth", "0.35"), &crash_depth) ||
      !(crash_depth >= 0 && crash_depth < 0.95)) {
    return usage_error("--crash-depth: expected a fraction in [0, 0.95)");
  }
  const std::string format = args->Get("format", "csv");
  if (format != "csv" && format != "jsonl" && format != "binpb") {
    return usage_error("--format: expected csv, jsonl or binpb");
  }
  const std::string out_path = args->Get("out", "-");
  std::FILE* out =
      out_path == "-" ? stdout : std::fopen(out_path.c_str(), "wb");
  if (out == nullptr) {
    return usage_error(absl::StrCat(
        out_path, ": cannot open for writing: ", std::strerror(errno)));
  }
  std::setvbuf(out, nullptr, _IOFBF, 1 << 20);
  int write_errno = 0;

  Rng rng(seed);
  std::vector<SymbolModel> models(static_cast<size_t>(symbols));
  const int width =
      std::max<int>(3, static_cast<int>(absl::StrCat(symbols).size()));
  for (int64_t i = 0; i < symbols; ++i) {
    SymbolModel& m = models[static_cast<size_t>(i)];
    m.name = absl::StrFormat("SYN%0*d", width, i + 1);
    m.beta = 0.6 + rng.Uniform();
    m.daily_vol = 0.004 + 0.008 * rng.Uniform();
    m.log_price = std::log(5.0) + rng.Uniform() * std::log(400.0);
  }

  const int64_t steps_per_day = kNanosPerDay / *interval;
  const int64_t steps = days * steps_per_day;
  const double dt = 1.0 / static_cast<double>(steps_per_day);
  const double crash_drift =
      std::log(1.0 - crash_depth) / static_cast<double>(crash_days);
  const int64_t recovery_days = 3 * crash_days;
  std::string line;
  ebb::v1::PriceEvent event;
  ProgressLine progress("ebb generate", !args->Has("no-progress"));
  if (format == "csv") std::fputs("timestamp,symbol,price\n", out);
  for (int64_t step = 1; step <= steps; ++step) {
    const int64_t day = (step - 1) / steps_per_day;
    double drift = 0.001, vol = 0.006;  // per day: calm
    if (day >= crash_day && day < crash_day + crash_days) {
      drift = crash_drift;
      vol = 0.03;
    } else if (day >= crash_day + crash_days &&
               day < crash_day + crash_days + recovery_days) {
      drift = -0.5 * crash_drift * static_cast<double>(crash_days) /
              static_cast<double>(recovery_days);
      vol = 0.02;
    }
    const double market = drift * dt + vol * std::sqrt(dt) * rng.Normal();
    const TimeNs time = *start + step * *interval;
    for (SymbolModel& m : models) {
      m.log_price +=
          m.beta * market + m.daily_vol * std::sqrt(dt) * rng.Normal();
      const int64_t ticks =
          std::max<int64_t>(1, std::llround(std::exp(m.log_price) * 1e4));
      line.clear();
      if (format == "csv") {
        AppendRfc3339(time, &line);
        line.push_back(',');
        line.append(m.name);
        line.push_back(',');
        AppendTicks(ticks, &line);
        line.push_back('\n');
      } else {
        std::string price_text;
        AppendTicks(ticks, &price_text);
        double price = 0;
        std::from_chars(price_text.data(),
                        price_text.data() + price_text.size(), price);
        if (format == "jsonl") {
          absl::StrAppend(&line, "{\"symbol\":\"", m.name,
                          "\",\"eventTime\":\"");
          AppendRfc3339(time, &line);
          absl::StrAppend(&line, "\",\"price\":", price_text, "}\n");
        } else {
          event.set_symbol(m.name);
          ToTimestamp(time, event.mutable_event_time());
          event.set_price(price);
          AppendDelimited(event, &line);  // line is empty here
        }
      }
      if (std::fwrite(line.data(), 1, line.size(), out) != line.size()) {
        write_errno = errno;
        break;
      }
    }
    if (write_errno != 0) break;
    progress.Update(static_cast<uint64_t>(step * symbols),
                    static_cast<uint64_t>(step), static_cast<uint64_t>(steps));
  }
  progress.Finish();
  // Every write, the flush and the close are checked (a full disk, a closed
  // standard output).
  if (write_errno == 0 && (std::fflush(out) != 0 || std::ferror(out) != 0)) {
    write_errno = errno != 0 ? errno : EIO;
  }
  if (out != stdout && std::fclose(out) != 0 && write_errno == 0) {
    write_errno = errno;
  }
  if (write_errno != 0) {
    return usage_error(
        absl::StrCat("write failed: ", out_path == "-" ? "stdout" : out_path,
                     ": ", std::strerror(write_errno)));
  }
  return 0;
}

}  // namespace ebb
