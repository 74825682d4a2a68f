#include "apps/args.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ebb {

absl::StatusOr<Args> Args::Parse(int argc, char** argv, int first,
                                 const std::vector<FlagSpec>& specs) {
  Args args;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (!absl::StartsWith(arg, "--") || arg == "--") {
      args.positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string inline_value;
    bool has_inline = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_inline = true;
    }
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr)
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    std::vector<std::string>& values = args.values_[name];
    if (!spec->takes_value) {
      if (has_inline) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " takes no value"));
      }
      values.push_back("true");
      continue;
    }
    if (has_inline) {
      values.push_back(inline_value);
      continue;
    }
    const size_t before = values.size();
    while (i + 1 < argc && !absl::StartsWith(argv[i + 1], "--")) {
      values.push_back(argv[++i]);
      if (!spec->repeated) break;
    }
    if (values.size() == before) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " needs a value"));
    }
  }
  return args;
}

std::string Args::Get(const std::string& name,
                      const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() || it->second.empty() ? fallback
                                                   : it->second.back();
}

const std::vector<std::string>& Args::GetAll(const std::string& name) const {
  static const std::vector<std::string> kEmpty;
  auto it = values_.find(name);
  return it == values_.end() ? kEmpty : it->second;
}

std::string Thousands(uint64_t n) {
  std::string digits = absl::StrCat(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> PropertyFlags(
    const Args& args) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& p : args.GetAll("property")) {
    const size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      // Not echoed: it may be a secret typed with the wrong separator.
      return absl::InvalidArgumentError(
          "--property: every value must be KEY=VALUE");
    }
    out.emplace_back(p.substr(0, eq), p.substr(eq + 1));
  }
  return out;
}

}  // namespace ebb
