#include "connectors/config_file.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/config.h"

namespace ebb {

absl::StatusOr<ebb::v1::EbbConfig> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open config file"));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const bool json = absl::EndsWith(path, ".json");
  return ParseConfig(buffer.str(), json, path);
}

}  // namespace ebb
