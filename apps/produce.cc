// ebb produce: publishes price or news files (any format `replay` reads) to a
// topic as ebb.v1 protobufs keyed by symbol (news: by id), in the order replay
// would apply them.

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "apps/args.h"
#include "apps/commands.h"
#include "apps/progress.h"
#include "connectors/file_source.h"
#include "connectors/kafka/kafka_client.h"
#include "ebb/v1/events.pb.h"
#include "pipeline/price_event_codec.h"
#include "pipeline/time_util.h"

namespace ebb {
namespace {

constexpr char kUsage[] =
    R"(usage: ebb produce --brokers B [--topic T] [--news] [--format csv|jsonl|binpb]
                   [--price-column close] [--property KEY=VALUE ...] [--no-progress] FILE...

Publishes price files (default topic ebb.prices) or, with --news, news files (default
ebb.news) as serialized ebb.v1.PriceEvent / NewsEvent messages keyed by symbol / news id,
with the event time as the message timestamp. Several files are merged in event-time order,
as `ebb replay` reads them. Records that cannot be read are reported and not published.
)";

const std::vector<FlagSpec> kFlags = {
    {"brokers", true, false},      {"topic", true, false},
    {"news", false, false},        {"format", true, false},
    {"price-column", true, false}, {"property", true, true},
    {"no-progress", false, false}, {"help", false, false},
};

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "ebb produce: %s\n",
               std::string(status.message()).c_str());
  return 1;
}

}  // namespace

int RunProduce(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, 1, kFlags);
  if (!args.ok() || args->Has("help") || args->positional().empty() ||
      !args->Has("brokers")) {
    if (!args.ok()) {
      std::fprintf(stderr, "ebb produce: %s\n\n",
                   std::string(args.status().message()).c_str());
    } else if (!args->Has("help")) {
      std::fprintf(stderr,
                   "ebb produce: give --brokers and at least one FILE\n\n");
    }
    std::fputs(kUsage, stderr);
    return args.ok() && args->Has("help") ? 0 : 1;
  }
  const bool news = args->Has("news");
  const std::string topic =
      args->Get("topic", news ? "ebb.news" : "ebb.prices");
  auto extra = PropertyFlags(*args);
  if (!extra.ok()) return Fail(extra.status());
  kafka::Properties properties = {{"bootstrap.servers", args->Get("brokers")},
                                  {"enable.idempotence", "true"},
                                  {"acks", "all"},
                                  {"linger.ms", "5"},
                                  // Java's partitioner (murmur2), so a symbol
                                  // lands where Java and Python clients put it.
                                  {"partitioner", "murmur2_random"},
                                  {"client.id", "ebb-produce"}};
  properties.insert(properties.end(), extra->begin(), extra->end());
  auto producer = kafka::Producer::Create(properties);
  if (!producer.ok()) return Fail(producer.status());

  std::vector<std::unique_ptr<RecordSource>> sources;
  for (const std::string& path : args->positional()) {
    FileSourceOptions options{path, "", args->Get("format"),
                              args->Get("price-column"), news};
    auto source = OpenFileSource(options);
    if (!source.ok()) return Fail(source.status());
    sources.push_back(*std::move(source));
  }
  std::unique_ptr<RecordSource> merged = MergeSources(std::move(sources));
  ProgressLine progress("ebb produce", !args->Has("no-progress"));
  SourceRecord record;
  ebb::v1::PriceEvent price;
  PriceEventDecoder decoder;
  DecodedPrice decoded;
  std::string value;
  uint64_t published = 0, skipped = 0;
  while (true) {
    auto more = merged->Next(&record);
    if (!more.ok()) {
      progress.Finish();
      return Fail(more.status());
    }
    if (!*more) break;
    std::string key;
    int64_t timestamp_ms = 0;
    switch (record.kind) {
      case SourceRecord::Kind::kPrice:
        price.Clear();
        price.set_symbol(record.symbol);
        ToTimestamp(record.time, price.mutable_event_time());
        price.set_price(record.price);
        price.set_event_id(record.event_id);
        value.clear();
        price.SerializeToString(&value);
        key = record.symbol;
        timestamp_ms = record.time / 1000000;
        break;
      case SourceRecord::Kind::kEncoded:
        if (!decoder.Decode(record.original, &decoded)) {
          record.kind = SourceRecord::Kind::kError;
          record.detail = "not a valid ebb.v1.PriceEvent";
          break;
        }
        key = std::string(decoded.symbol);
        timestamp_ms = decoded.seconds * 1000 + decoded.nanos / 1000000;
        value = record.original;
        break;
      case SourceRecord::Kind::kNews:
        value.clear();
        record.news.SerializeToString(&value);
        key = record.news.id();
        timestamp_ms = record.news.event_time().seconds() * 1000 +
                       record.news.event_time().nanos() / 1000000;
        break;
      case SourceRecord::Kind::kError:
        break;
    }
    if (record.kind == SourceRecord::Kind::kError) {
      if (++skipped <= 5) {
        progress.Finish();
        std::fprintf(stderr, "ebb produce: skipped record at %lld: %s\n",
                     static_cast<long long>(record.offset),
                     record.detail.c_str());
      }
      continue;
    }
    absl::Status status = (*producer)->Produce(
        topic, -1, key, value, {}, timestamp_ms > 0 ? timestamp_ms : 0);
    if (!status.ok()) {
      progress.Finish();
      return Fail(status);
    }
    (*producer)->Poll();
    progress.Update(++published, [&] {
      return std::make_pair(merged->bytes_read(), merged->size_bytes());
    });
  }
  absl::Status flushed = (*producer)->Flush(absl::Seconds(120));
  progress.Finish();
  if (!flushed.ok()) return Fail(flushed);
  std::fprintf(
      stderr, "ebb produce: %s messages to %s in %.2f s (%s acknowledged)%s\n",
      Thousands(published).c_str(), topic.c_str(), progress.ElapsedSeconds(),
      Thousands((*producer)->delivered()).c_str(),
      skipped > 0 ? absl::StrCat("; ", Thousands(skipped),
                                 " unreadable records skipped")
                        .c_str()
                  : "");
  return 0;
}

}  // namespace ebb
