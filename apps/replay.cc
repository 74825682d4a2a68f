// ebb replay: runs price (and news) files through the pipeline, in event-time
// order.

#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "apps/args.h"
#include "apps/commands.h"
#include "apps/common.h"
#include "apps/progress.h"
#include "base/status_macros.h"
#include "connectors/file_sink.h"
#include "connectors/file_source.h"
#include "engine/pipeline.h"

namespace ebb {
namespace {

constexpr char kUsage[] =
    R"(usage: ebb replay [--config FILE] --prices [SYMBOL=]FILE|-... [--news FILE...]
                  [--window 30d] [--resolution exact|1m|1h|...] [--lateness 0s]
                  [--max-symbols N]
                  [--format csv|jsonl|binpb] [--price-column close]
                  [--alerts-out PATH|-] [--metrics-out PATH] [--dlq-out PATH]
                  [--strict] [--no-progress] [--quiet]

Replays price files (CSV, JSON lines or length-delimited protobuf; see docs/formats.md) through
the drawdown engine, merged in event-time order, and writes alerts as JSON lines (stdout by
default). `-` reads standard input (CSV unless --format says otherwise; --prices SYMBOL=- when
it has no symbol column). Paths ending in .binpb write length-delimited protobuf instead. A
summary goes to stderr. With --strict the first rejected record is an error (exit status 2).
With --max-symbols N, events of symbols beyond the first N with state are dead letters
(symbol_limit); 0 (the default) means no limit.
)";

const std::vector<FlagSpec> kFlags = {
    {"config", true, false},       {"prices", true, true},
    {"news", true, true},          {"window", true, false},
    {"resolution", true, false},   {"lateness", true, false},
    {"max-symbols", true, false},  {"format", true, false},
    {"price-column", true, false}, {"alerts-out", true, false},
    {"metrics-out", true, false},  {"dlq-out", true, false},
    {"strict", false, false},      {"no-progress", false, false},
    {"quiet", false, false},       {"help", false, false},
};

// "SYMBOL=path" or "path".
ebb::v1::FileInput ParseInputArg(const std::string& arg) {
  ebb::v1::FileInput input;
  const size_t eq = arg.find('=');
  if (eq != std::string::npos && eq > 0 && arg.find('/') > eq) {
    input.set_symbol(arg.substr(0, eq));
    input.set_path(arg.substr(eq + 1));
  } else {
    input.set_path(arg);
  }
  return input;
}

void PrintSummary(const Pipeline& pipeline, size_t inputs, double seconds) {
  const PipelineStats& s = pipeline.stats();
  const double rate =
      seconds > 0 ? static_cast<double>(s.received) / seconds : 0;
  std::fprintf(
      stderr,
      "ebb replay: %zu input%s, %s records in %.2f s (%.2f M records/s)\n",
      inputs, inputs == 1 ? "" : "s", Thousands(s.received).c_str(), seconds,
      rate / 1e6);
  PrintSummaryLine("applied",
                   absl::StrCat(Thousands(s.applied), " price events, ",
                                Counted(s.symbols, "symbol"), "; ",
                                Thousands(s.news), " news"));
  PrintSummaryLine("rejected", Rejected(s));
  PrintSummaryLine("alerts",
                   absl::StrCat(Thousands(s.total_alerts()), " ",
                                ByTransition(s.alerts[ebb::v1::OPENED],
                                             s.alerts[ebb::v1::ESCALATED],
                                             s.alerts[ebb::v1::RESOLVED])));
  const size_t entries = pipeline.WindowEntries();
  std::string freed;
  if (s.freed > 0) {
    freed = absl::StrCat("; ", Thousands(s.freed),
                         " freed after their symbol went quiet");
    if (s.restarted > 0) {
      absl::StrAppend(&freed, " (", Thousands(s.restarted),
                      " events found their window restarted)");
    }
    if (s.forgotten > 0) {
      absl::StrAppend(&freed, "; ", Thousands(s.forgotten),
                      " forgotten to stay within --max-symbols");
    }
  }
  PrintSummaryLine(
      "windows",
      absl::StrFormat(
          "%s entries, %.1f MiB, %s%s", Thousands(entries),
          static_cast<double>(pipeline.WindowMemoryBytes()) / (1 << 20),
          Counted(pipeline.live_symbols(), "live symbol"), freed));
}

// A record OnPrices takes: a price whose fields are known.
bool IsPrice(const SourceRecord& record) {
  return record.kind == SourceRecord::Kind::kPrice ||
         (record.kind == SourceRecord::Kind::kEncoded && record.decoded);
}

// Any other record, handed over on its own.
void HandOver(const SourceRecord& record, const Origin& origin,
              Pipeline& engine) {
  switch (record.kind) {
    case SourceRecord::Kind::kPrice:
      engine.OnPrice(record.symbol(), record.time, record.price, origin,
                     record.original, record.event_id);
      break;
    case SourceRecord::Kind::kEncoded:
      engine.OnEncodedPrice(record.original, origin);
      break;
    case SourceRecord::Kind::kNews:
      engine.OnNews(record.news, origin, record.original);
      break;
    case SourceRecord::Kind::kError:
      engine.OnUndecodable(record.reason, record.detail, record.original,
                           record.symbol(), origin);
      break;
  }
}

// An input that gave no record is most likely a mistake (a wrong file, a
// failed download): say so, naming it. Inputs are counted in the order they
// were opened, prices then news.
void WarnAboutEmptyInputs(const ebb::v1::EbbConfig& config,
                          const std::vector<uint64_t>& records_per_input) {
  size_t i = 0;
  for (const auto* inputs : {&config.prices(), &config.news()}) {
    for (const ebb::v1::FileInput& in : *inputs) {
      if (records_per_input[i++] != 0) continue;
      struct stat st;
      const bool empty = in.path() != kStandardInput &&
                         ::stat(in.path().c_str(), &st) == 0 &&
                         S_ISREG(st.st_mode) && st.st_size == 0;
      std::fprintf(
          stderr, "ebb replay: warning: %s: %s\n",
          in.path() == kStandardInput ? "standard input" : in.path().c_str(),
          empty ? "the file is empty"
                : "no records (only a header or blank lines)");
    }
  }
}

absl::StatusOr<ebb::v1::EbbConfig> BuildConfig(const Args& args) {
  ASSIGN_OR_RETURN(ebb::v1::EbbConfig config, ConfigFromFlags(args));
  for (const std::string& p : args.GetAll("prices"))
    *config.add_prices() = ParseInputArg(p);
  for (const std::string& n : args.GetAll("news"))
    config.add_news()->set_path(n);
  for (auto* input : {config.mutable_prices(), config.mutable_news()}) {
    for (ebb::v1::FileInput& in : *input) {
      if (in.format().empty()) in.set_format(args.Get("format"));
      if (in.price_column().empty())
        in.set_price_column(args.Get("price-column"));
    }
  }
  if (args.Has("alerts-out"))
    config.mutable_outputs()->set_alerts(args.Get("alerts-out"));
  if (args.Has("metrics-out"))
    config.mutable_outputs()->set_metrics(args.Get("metrics-out"));
  if (args.Has("dlq-out"))
    config.mutable_outputs()->set_dead_letters(args.Get("dlq-out"));
  if (args.Has("strict")) config.set_strict(true);
  if (config.prices().empty()) {
    return absl::InvalidArgumentError(
        "no price input: give --prices FILE (or prices in --config)");
  }
  return config;
}

}  // namespace

int RunReplay(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, 1, kFlags);
  if (!args.ok() || args->Has("help") || !args->positional().empty()) {
    if (!args.ok())
      std::fprintf(stderr, "ebb replay: %s\n\n",
                   std::string(args.status().message()).c_str());
    std::fputs(kUsage, stderr);
    return args.ok() && args->Has("help") ? 0 : 1;
  }
  auto fail = [](const absl::Status& status) {
    std::fprintf(stderr, "ebb replay: %s\n",
                 std::string(status.message()).c_str());
    return 1;
  };
  auto config = BuildConfig(*args);
  if (!config.ok()) return fail(config.status());
  auto engine_config = CompileConfig(*config);
  if (!engine_config.ok()) return fail(engine_config.status());

  FileOutputOptions output_options;
  output_options.alerts_path =
      config->outputs().alerts().empty() ? "-" : config->outputs().alerts();
  output_options.metrics_path = config->outputs().metrics();
  output_options.dead_letter_path = config->outputs().dead_letters();
  std::vector<std::string> input_paths;
  for (const auto* inputs : {&config->prices(), &config->news()}) {
    for (const ebb::v1::FileInput& in : *inputs)
      input_paths.push_back(in.path());
  }
  if (absl::Status s = CheckOutputsAreNotInputs(input_paths, output_options);
      !s.ok()) {
    return fail(s);
  }
  auto output = FileOutput::Create(output_options);
  if (!output.ok()) return fail(output.status());
  auto pipeline = Pipeline::Create(*std::move(engine_config),
                                   SystemClock::Get(), output->get());
  if (!pipeline.ok()) return fail(pipeline.status());
  (*output)->set_pipeline(pipeline->get());

  std::vector<std::unique_ptr<RecordSource>> sources;
  std::vector<uint32_t> source_ids;
  for (int kind = 0; kind < 2; ++kind) {
    const auto& inputs = kind == 0 ? config->prices() : config->news();
    for (const ebb::v1::FileInput& in : inputs) {
      FileSourceOptions options{in.path(), in.symbol(), in.format(),
                                in.price_column(), kind == 1};
      auto source = OpenFileSource(options);
      if (!source.ok()) return fail(source.status());
      sources.push_back(*std::move(source));
      source_ids.push_back((*pipeline)->RegisterSource(in.path()));
    }
  }
  const size_t inputs = sources.size();
  std::vector<uint64_t> records_per_input(inputs, 0);
  std::unique_ptr<RecordSource> merged = MergeSources(std::move(sources));
  Pipeline& engine = **pipeline;
  ProgressLine progress("ebb replay", !args->Has("no-progress"));
  // Records are read in batches (they own their bytes); each run of price
  // records in a batch goes to the engine in one call, which loads the
  // states and windows of the records ahead while it works on those before
  // (Pipeline::OnPrices).
  constexpr size_t kBatch = 256;
  std::vector<SourceRecord> batch(kBatch);
  std::vector<Pipeline::PriceRecord> prices;
  prices.reserve(kBatch);
  uint64_t records = 0;
  const bool strict = config->strict();
  // After each record: --strict and a rejection, or an output that failed (a
  // full disk, a closed pipe), end the replay.
  const auto stop = [&] {
    return (strict && engine.stats().total_rejected() > 0) ||
           (*output)->failed();
  };
  absl::Status read = absl::OkStatus();
  bool exhausted = false, stopped = false;
  while (!exhausted && !stopped) {
    size_t n = 0;
    while (n < kBatch) {
      absl::StatusOr<bool> more = merged->Next(&batch[n]);
      if (!more.ok()) read = more.status();
      if (!more.ok() || !*more) {
        exhausted = true;
        break;
      }
      ++n;
    }
    size_t i = 0;
    while (i < n && !stopped) {
      prices.clear();
      for (size_t k = i; k < n && IsPrice(batch[k]); ++k) {
        const SourceRecord& r = batch[k];
        prices.push_back({r.symbol(), r.time, r.price,
                          Origin{source_ids[r.source_index], -1, r.offset},
                          r.original, r.event_id});
      }
      size_t handed = 1;
      if (!prices.empty()) {
        handed = engine.OnPrices(prices, stop);
      } else {
        const SourceRecord& r = batch[i];
        HandOver(r, Origin{source_ids[r.source_index], -1, r.offset}, engine);
      }
      for (size_t k = i; k < i + handed; ++k) {
        ++records_per_input[batch[k].source_index];
        progress.Update(++records, [&] {
          return std::make_pair(merged->bytes_read(), merged->size_bytes());
        });
      }
      i += handed;
      stopped = stop();
    }
  }
  if (!read.ok() && !stopped) {
    progress.Finish();
    return fail(read);
  }
  if (strict && engine.stats().total_rejected() > 0) {
    progress.Finish();
    std::fprintf(stderr, "ebb replay: --strict: %s\n",
                 (*output)->first_rejection().c_str());
    (void)(*output)->Close();
    return 2;
  }
  engine.Flush();
  progress.Finish();
  WarnAboutEmptyInputs(*config, records_per_input);
  const absl::Status closed = (*output)->Close();
  if (!args->Has("quiet"))
    PrintSummary(engine, inputs, progress.ElapsedSeconds());
  if (!closed.ok()) return fail(closed);
  return 0;
}

}  // namespace ebb
