// ebb produce: publishes price or news files (any format `replay` reads) to a
// topic as ebb.v1 protobufs keyed by symbol (news: by id), in the order replay
// would apply them.

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "apps/args.h"
#include "apps/commands.h"
#include "apps/common.h"
#include "apps/progress.h"
#include "base/clock.h"
#include "base/time_util.h"
#include "connectors/file_source.h"
#include "connectors/kafka/kafka_client.h"
#include "ebb/v1/events.pb.h"
#include "engine/config.h"
#include "engine/price_event_codec.h"
#include "engine/validate.h"

namespace ebb {
namespace {

constexpr char kUsage[] =
    R"(usage: ebb produce --brokers B [--topic T] [--news] [--format csv|jsonl|binpb]
                   [--price-column close] [--property KEY=VALUE ...] [--no-progress] FILE...

Publishes price files (default topic ebb.prices) or, with --news, news files (default
ebb.news) as serialized ebb.v1.PriceEvent / NewsEvent messages keyed by symbol / news id,
with the event time as the message timestamp. Several files are merged in event-time order,
as `ebb replay` reads them. A price that cannot be read, or that replay would reject
(invalid symbol, price or time), is reported with its file and line and not published.

message.timeout.ms is 30000 unless a --property sets it: a message the brokers have not
acknowledged by then fails the command.

Exit status: 0 every record published and acknowledged; 1 an error (unreadable file,
brokers unreachable, a delivery failed); 2 all valid records published and acknowledged,
but some were skipped.
)";

const std::vector<FlagSpec> kFlags = {
    {"brokers", true, false},      {"topic", true, false},
    {"news", false, false},        {"format", true, false},
    {"price-column", true, false}, {"property", true, true},
    {"no-progress", false, false}, {"help", false, false},
};

constexpr int kSkippedRecords = 2;
// Reported one by one; beyond that, counted.
constexpr uint64_t kSkippedShown = 5;
constexpr char kDefaultMessageTimeoutMs[] = "30000";

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "ebb produce: %s\n",
               std::string(status.message()).c_str());
  return 1;
}

// The effective message.timeout.ms of `properties` (the last one set wins).
absl::Duration MessageTimeout(const kafka::Properties& properties) {
  int64_t ms = 0;
  for (const auto& [name, value] : properties) {
    if (name == "message.timeout.ms") (void)absl::SimpleAtoi(value, &ms);
  }
  return absl::Milliseconds(ms);
}

// Decodes a binary record's PriceEvent far enough to check it and key it.
// False (with *reason and *detail set as replay sets them) when replay would
// reject it before its values are even looked at.
bool DecodeEncoded(PriceEventDecoder& decoder, const std::string& bytes,
                   DecodedPrice* decoded, TimeNs* time,
                   ebb::v1::RejectReason* reason, std::string* detail) {
  if (!decoder.Decode(bytes, decoded)) {
    *reason = ebb::v1::TRUNCATED;
    *detail = "not a valid ebb.v1.PriceEvent (truncated or corrupt protobuf)";
    return false;
  }
  if (!decoded->has_time) {
    *reason = ebb::v1::INVALID_TIME;
    *detail = "event_time is missing";
    return false;
  }
  absl::StatusOr<TimeNs> parsed =
      FromSecondsAndNanos(decoded->seconds, decoded->nanos);
  if (!parsed.ok()) {
    *reason = ebb::v1::INVALID_TIME;
    *detail = absl::StrCat("event_time: ", parsed.status().message());
    return false;
  }
  *time = *parsed;
  return true;
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
  kafka::Properties properties = {
      {"bootstrap.servers", args->Get("brokers")},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"linger.ms", "5"},
      // Java's partitioner (murmur2), so a symbol lands where Java and Python
      // clients put it.
      {"partitioner", "murmur2_random"},
      {"client.id", "ebb-produce"},
      // librdkafka's default (300 s) leaves a user facing a dead broker
      // waiting five minutes for the error.
      {"message.timeout.ms", kDefaultMessageTimeoutMs}};
  properties.insert(properties.end(), extra->begin(), extra->end());
  const absl::Duration message_timeout = MessageTimeout(properties);
  auto producer = kafka::Producer::Create(properties);
  if (!producer.ok()) return Fail(producer.status());
  // The validation replay applies to every price (its default max_future).
  PriceValidator validator(SystemClock::Get(), EngineConfig().max_future);
  NewsValidator news_validator(SystemClock::Get(), EngineConfig().max_future);
  const std::vector<std::string>& paths = args->positional();

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
  std::string value, detail;
  uint64_t published = 0, skipped = 0;
  // A record replay would reject: reported (the first few) and counted.
  auto skip = [&](ebb::v1::RejectReason reason, absl::string_view why) {
    if (++skipped > kSkippedShown) return;
    progress.Finish();
    const std::string& path = record.source_index < paths.size()
                                  ? paths[record.source_index]
                                  : paths.front();
    std::fprintf(stderr, "ebb produce: skipped record: %s:%lld: %s: %s\n",
                 path.c_str(), static_cast<long long>(record.offset),
                 std::string(RejectReasonName(reason)).c_str(),
                 std::string(why).c_str());
  };
  // A delivery that failed (or could not be queued): what librdkafka said,
  // why the brokers did not answer, and how far it got.
  auto fail_delivery = [&](const absl::Status& status) {
    progress.Finish();
    const std::string why = (*producer)->errors().Explain(args->Get("brokers"));
    return Fail(absl::UnavailableError(absl::StrCat(
        status.message(), why.empty() ? "" : absl::StrCat("; ", why), "; ",
        Thousands((*producer)->delivered()), " of ", Thousands(published),
        " messages acknowledged (message.timeout.ms ",
        absl::ToInt64Milliseconds(message_timeout), ")")));
  };
  while (true) {
    auto more = merged->Next(&record);
    if (!more.ok()) {
      progress.Finish();
      return Fail(more.status());
    }
    if (!*more) break;
    std::string key;
    int64_t timestamp_ms = 0;
    if (record.kind == SourceRecord::Kind::kPrice) {
      const ebb::v1::RejectReason reason =
          validator.Check(record.symbol(), record.time, record.price, &detail);
      if (reason != ebb::v1::REJECT_REASON_UNSPECIFIED) {
        skip(reason, detail);
        continue;
      }
    }
    switch (record.kind) {
      case SourceRecord::Kind::kPrice:
        price.Clear();
        price.set_symbol(record.symbol().data(), record.symbol().size());
        ToTimestamp(record.time, price.mutable_event_time());
        price.set_price(record.price);
        price.set_event_id(record.event_id);
        value.clear();
        price.SerializeToString(&value);
        key.assign(record.symbol().data(), record.symbol().size());
        timestamp_ms = record.time / 1000000;
        break;
      case SourceRecord::Kind::kEncoded: {
        // The source decoded it, unless it is not a price with a valid time:
        // then decoding it again says why.
        TimeNs time = record.time;
        absl::string_view symbol = record.symbol();
        double price_value = record.price;
        ebb::v1::RejectReason reason = ebb::v1::REJECT_REASON_UNSPECIFIED;
        if (!record.decoded && DecodeEncoded(decoder, record.original, &decoded,
                                             &time, &reason, &detail)) {
          symbol = decoded.symbol;
          price_value = decoded.price;
        }
        if (reason == ebb::v1::REJECT_REASON_UNSPECIFIED)
          reason = validator.Check(symbol, time, price_value, &detail);
        if (reason != ebb::v1::REJECT_REASON_UNSPECIFIED) {
          record.kind = SourceRecord::Kind::kError;
          record.reason = reason;
          record.detail = detail;
          break;
        }
        key = std::string(symbol);
        // Milliseconds, rounded down (as seconds * 1000 + nanos / 10^6).
        timestamp_ms = time / 1000000 - (time % 1000000 < 0 ? 1 : 0);
        value = record.original;
        break;
      }
      case SourceRecord::Kind::kNews: {
        TimeNs time = 0;
        const ebb::v1::RejectReason reason =
            news_validator.Check(record.news, &time, &detail);
        if (reason != ebb::v1::REJECT_REASON_UNSPECIFIED) {
          record.kind = SourceRecord::Kind::kError;
          record.reason = reason;
          record.detail = detail;
          break;
        }
        value.clear();
        record.news.SerializeToString(&value);
        key = record.news.id();
        timestamp_ms = time / 1000000;
        break;
      }
      case SourceRecord::Kind::kError:
        break;
    }
    if (record.kind == SourceRecord::Kind::kError) {
      skip(record.reason, record.detail);
      continue;
    }
    absl::Status status = (*producer)->Produce(
        topic, -1, key, value, {}, timestamp_ms > 0 ? timestamp_ms : 0);
    if (!status.ok()) return fail_delivery(status);
    (*producer)->Poll();
    progress.Update(++published, [&] {
      return std::make_pair(merged->bytes_read(), merged->size_bytes());
    });
  }
  // Every message is acknowledged or has failed by message.timeout.ms (the
  // margin is for the reports to be served).
  absl::Status flushed =
      (*producer)->Flush(message_timeout + absl::Seconds(10));
  progress.Finish();
  if (!flushed.ok()) return fail_delivery(flushed);
  std::string skipped_note;
  if (skipped > 0) {
    skipped_note = absl::StrCat(
        "; ", Counted(skipped, "record"), " skipped (not published",
        skipped > kSkippedShown
            ? absl::StrCat("; the first ", kSkippedShown, " are listed above")
            : "",
        ")");
  }
  std::fprintf(stderr, "ebb produce: %s to %s in %.2f s (%s acknowledged)%s\n",
               Counted(published, "message").c_str(), topic.c_str(),
               progress.ElapsedSeconds(),
               Thousands((*producer)->delivered()).c_str(),
               skipped_note.c_str());
  return skipped > 0 ? kSkippedRecords : 0;
}

}  // namespace ebb
