#pragma once

// Reading a configuration file (engine/config.h parses and checks the text;
// the engine itself never touches files).

#include <string>

#include "absl/status/statusor.h"
#include "ebb/v1/config.pb.h"

namespace ebb {

// Reads a config file: JSON for .json, text format otherwise (.textproto,
// .txtpb, .pbtxt, .cfg). Unknown fields are errors, and errors name the file.
// The result is merged over DefaultConfig() for unset scalars; rules given in
// the file replace the default rules (ParseConfig). NotFound when the file
// cannot be opened.
absl::StatusOr<ebb::v1::EbbConfig> LoadConfigFile(const std::string& path);

}  // namespace ebb
