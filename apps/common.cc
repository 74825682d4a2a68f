#include "apps/common.h"

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "connectors/config_file.h"
#include "engine/config.h"
#include "engine/validate.h"
#include "google/protobuf/stubs/logging.h"

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

namespace {

void HandleProtobufLog(google::protobuf::LogLevel level, const char* filename,
                       int line, const std::string& message) {
  if (absl::StrContains(message, "invalid UTF-8")) return;
  static constexpr const char* kLevels[] = {"INFO", "WARNING", "ERROR",
                                            "FATAL"};
  const int index = static_cast<int>(level);
  std::fprintf(stderr, "ebb: libprotobuf %s %s:%d: %s\n",
               index >= 0 && index < 4 ? kLevels[index] : "LOG", filename, line,
               message.c_str());
}

}  // namespace

void InstallProtobufLogHandler() {
  google::protobuf::SetLogHandler(&HandleProtobufLog);
}

void PrintSummaryLine(absl::string_view label, absl::string_view text) {
  std::fprintf(stderr, "  %-9s %.*s\n", std::string(label).c_str(),
               static_cast<int>(text.size()), text.data());
}

std::string Rejected(const PipelineStats& stats) {
  return absl::StrCat(Thousands(stats.total_rejected()),
                      RejectedByReason(stats));
}

std::string ByTransition(uint64_t opened, uint64_t escalated,
                         uint64_t resolved) {
  return absl::StrCat("(opened ", Thousands(opened), ", escalated ",
                      Thousands(escalated), ", resolved ", Thousands(resolved),
                      ")");
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

std::string Counted(uint64_t n, absl::string_view singular,
                    absl::string_view plural) {
  if (n == 1) return absl::StrCat("1 ", singular);
  if (plural.empty()) return absl::StrCat(Thousands(n), " ", singular, "s");
  return absl::StrCat(Thousands(n), " ", plural);
}

}  // namespace ebb
