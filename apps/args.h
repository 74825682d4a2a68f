#pragma once

// A small command-line parser for ebb's subcommands: `--name value`,
// `--name=value`, boolean
// `--name`, and flags that take several values (`--prices A B C`).

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace ebb {

struct FlagSpec {
  std::string name;  // without the leading "--"
  bool takes_value;  // false: a boolean switch
  bool repeated;     // true: collects every value up to the next --flag
};

class Args {
 public:
  // Parses argv[first..argc). Unknown flags and missing values are
  // InvalidArgument.
  static absl::StatusOr<Args> Parse(int argc, char** argv, int first,
                                    const std::vector<FlagSpec>& specs);

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  // The last value given, or `fallback`.
  std::string Get(const std::string& name,
                  const std::string& fallback = "") const;
  const std::vector<std::string>& GetAll(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

// "10,080,000": counts in summaries.
std::string Thousands(uint64_t n);

// Every --property KEY=VALUE (librdkafka pass-through), split; an entry
// without '=' is an error.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> PropertyFlags(
    const Args& args);

}  // namespace ebb
