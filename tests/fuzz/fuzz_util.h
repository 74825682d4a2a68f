#pragma once

// What the decoder fuzz harnesses share: the input handed to a file source
// (through an in-memory file), every record through a Pipeline, and the
// invariants that must hold for any input. A violated invariant aborts, which
// is what libFuzzer (and the corpus regression runner) report.

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "base/clock.h"
#include "connectors/file_source.h"
#include "engine/config.h"
#include "engine/pipeline.h"
#include "engine/validate.h"

namespace ebb_fuzz {

#define EBB_FUZZ_CHECK(condition)                                           \
  do {                                                                      \
    if (!(condition)) {                                                     \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                   #condition);                                             \
      std::abort();                                                         \
    }                                                                       \
  } while (0)

// Dead letters must be valid UTF-8 where the schema says string, and carry
// a reason.
class CheckingOutput : public ebb::Output {
 public:
  void OnDeadLetter(const ebb::DeadLetterView& d) override {
    EBB_FUZZ_CHECK(d.reason != ebb::v1::REJECT_REASON_UNSPECIFIED);
    EBB_FUZZ_CHECK(ebb::IsValidUtf8(d.detail));
    EBB_FUZZ_CHECK(ebb::IsValidUtf8(d.symbol));
    EBB_FUZZ_CHECK(!d.detail.empty());
    ++dead_letters;
  }
  uint64_t dead_letters = 0;
};

// A clock fixed at 2030-01-01, so results do not depend on the day.
class FixedClock : public ebb::Clock {
 public:
  ebb::TimeNs NowNs() const override {
    return 1'893'456'000LL * ebb::kNanosPerSecond;
  }
};

// Writes `data` to an in-memory file and reads it back as `format` ("csv",
// "jsonl", "binpb"), prices or news, through a Pipeline: the source must
// never fail on content, every record must be accounted for, every dead
// letter must hold.
inline void ReadThroughPipeline(const uint8_t* data, size_t size,
                                const char* format, bool news) {
  const int fd = memfd_create("ebb_fuzz", MFD_CLOEXEC);
  EBB_FUZZ_CHECK(fd >= 0);
  for (size_t written = 0; written < size;) {
    const ssize_t n = ::write(fd, data + written, size - written);
    EBB_FUZZ_CHECK(n > 0);
    written += static_cast<size_t>(n);
  }
  ebb::FileSourceOptions options;
  options.path = "/proc/self/fd/" + std::to_string(fd);
  options.symbol = "FUZZ";
  options.format = format;
  options.news = news;
  auto source = ebb::OpenFileSource(options);
  EBB_FUZZ_CHECK(source.ok());

  static const FixedClock clock;
  CheckingOutput output;
  auto engine = ebb::CompileConfig(ebb::DefaultConfig());
  EBB_FUZZ_CHECK(engine.ok());
  auto pipeline = ebb::Pipeline::Create(*std::move(engine), &clock, &output);
  EBB_FUZZ_CHECK(pipeline.ok());
  ebb::SourceRecord record;
  uint64_t records = 0;
  int64_t last_offset = -1;
  for (;;) {
    absl::StatusOr<bool> more = (*source)->Next(&record);
    EBB_FUZZ_CHECK(more.ok());  // content problems are records, not errors
    if (!*more) break;
    ++records;
    EBB_FUZZ_CHECK(records <= size + 1);  // each record consumes input
    EBB_FUZZ_CHECK(record.offset > last_offset);
    last_offset = record.offset;
    const ebb::Origin origin{0, -1, record.offset};
    switch (record.kind) {
      case ebb::SourceRecord::Kind::kPrice:
        (*pipeline)->OnPrice(record.symbol(), record.time, record.price, origin,
                             record.original, record.event_id);
        break;
      case ebb::SourceRecord::Kind::kEncoded:
        (*pipeline)->OnEncodedPrice(record.original, origin);
        break;
      case ebb::SourceRecord::Kind::kNews:
        (*pipeline)->OnNews(record.news, origin, record.original);
        break;
      case ebb::SourceRecord::Kind::kError:
        EBB_FUZZ_CHECK(record.reason != ebb::v1::REJECT_REASON_UNSPECIFIED);
        (*pipeline)->OnUndecodable(record.reason, record.detail,
                                   record.original, record.symbol(), origin);
        break;
    }
  }
  (*pipeline)->Flush();
  const ebb::PipelineStats& stats = (*pipeline)->stats();
  EBB_FUZZ_CHECK(stats.received == records);
  EBB_FUZZ_CHECK(stats.received ==
                 stats.applied + stats.news + stats.total_rejected());
  EBB_FUZZ_CHECK(output.dead_letters == stats.total_rejected());
  ::close(fd);
}

}  // namespace ebb_fuzz
