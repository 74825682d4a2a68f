#include "apps/common.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "connectors/config_file.h"
#include "pipeline/config.h"
#include "pipeline/status_macros.h"
#include "pipeline/validate.h"

namespace ebb {

absl::StatusOr<ebb::v1::EbbConfig> ConfigFromFlags(const Args& args) {
  ebb::v1::EbbConfig config;
  if (args.Has("config")) {
    ASSIGN_OR_RETURN(config, LoadConfigFile(args.Get("config")));
  } else {
    config = DefaultConfig();
  }
  if (args.Has("window"))
    config.mutable_window()->set_length(args.Get("window"));
  if (args.Has("resolution"))
    config.mutable_window()->set_resolution(args.Get("resolution"));
  if (args.Has("lateness")) config.set_allowed_lateness(args.Get("lateness"));
  if (args.Has("max-symbols")) {
    int64_t max_symbols = 0;
    if (!absl::SimpleAtoi(args.Get("max-symbols"), &max_symbols) ||
        max_symbols < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--max-symbols: \"", args.Get("max-symbols"),
                       "\" is not a count of symbols (0 means no limit)"));
    }
    config.set_max_symbols(max_symbols);
  }
  return config;
}

std::string RejectedByReason(const PipelineStats& stats) {
  std::string reasons;
  for (int r = 1; r < static_cast<int>(stats.rejected.size()); ++r) {
    if (stats.rejected[r] == 0) continue;
    absl::StrAppend(&reasons, reasons.empty() ? " (" : ", ",
                    RejectReasonName(static_cast<ebb::v1::RejectReason>(r)),
                    " ", Thousands(stats.rejected[r]));
  }
  if (!reasons.empty()) reasons += ")";
  return reasons;
}

}  // namespace ebb
