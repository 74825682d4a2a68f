#pragma once

// What several commands share: the engine configuration from --config and
// the window flags, and pieces of their summaries.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "apps/args.h"
#include "ebb/v1/config.pb.h"
#include "engine/pipeline.h"

namespace ebb {

// --config FILE (or the built-in defaults), then --window, --resolution,
// --lateness and --max-symbols over it.
absl::StatusOr<ebb::v1::EbbConfig> ConfigFromFlags(const Args& args);

// Routes libprotobuf's log lines through ebb: those that say a string field
// is not valid UTF-8 are dropped (the record's dead letter says so, once),
// any other is printed on stderr as "ebb: libprotobuf LEVEL file:line: text".
// Called once, at start.
void InstallProtobufLogHandler();

// The lines of a run summary (ebb replay, ebb run), on stderr after the
// first: "  LABEL     TEXT", the texts aligned.
void PrintSummaryLine(absl::string_view label, absl::string_view text);

// "1,234 (truncated 2, late 1)": the rejections, then by reason when any.
std::string Rejected(const PipelineStats& stats);

// " (truncated 2, late 1)" for the rejections by reason; empty when none.
std::string RejectedByReason(const PipelineStats& stats);

// "(opened 5, escalated 4, resolved 3)": alerts by transition.
std::string ByTransition(uint64_t opened, uint64_t escalated,
                         uint64_t resolved);

// "1 symbol", "12,000 symbols": a count with its noun in the right number
// (`plural` empty: the noun + "s").
std::string Counted(uint64_t n, absl::string_view singular,
                    absl::string_view plural = "");

}  // namespace ebb
