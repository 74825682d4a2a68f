#pragma once

// What several commands share: the engine configuration from --config and
// the window flags, and pieces of their summaries.

#include <string>

#include "absl/status/statusor.h"
#include "apps/args.h"
#include "ebb/v1/config.pb.h"
#include "pipeline/pipeline.h"

namespace ebb {

// --config FILE (or the built-in defaults), then --window, --resolution,
// --lateness and --max-symbols over it.
absl::StatusOr<ebb::v1::EbbConfig> ConfigFromFlags(const Args& args);

// " (truncated 2, late 1)" for the rejections by reason; empty when none.
std::string RejectedByReason(const PipelineStats& stats);

}  // namespace ebb
