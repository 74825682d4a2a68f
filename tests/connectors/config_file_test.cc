// LoadConfigFile: the file's suffix picks JSON or text format, and errors name
// the file.

#include "connectors/config_file.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "engine/config.h"
#include "gtest/gtest.h"

namespace ebb {
namespace {

constexpr char kText[] = R"pb(
  window { length: "7d" resolution: "exact" }
  rules {
    name: "crash"
    metric: "drawdown"
    levels { threshold: 0.05 severity: WARNING }
    levels { threshold: 0.25 severity: CRITICAL }
    rearm: 0.01
  }
)pb";
constexpr char kJson[] = R"({
  "window": {"length": "7d", "resolution": "exact"},
  "rules": [{"name": "crash", "metric": "drawdown",
             "levels": [{"threshold": 0.05, "severity": "WARNING"},
                        {"threshold": 0.25, "severity": "CRITICAL"}],
             "rearm": 0.01}]
})";

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(LoadConfigFileTest, ReadsTextFormatAndJsonLikeParseConfig) {
  const std::string text_path = WriteFile("ebb_config_file_test.txtpb", kText);
  const std::string json_path = WriteFile("ebb_config_file_test.json", kJson);
  absl::StatusOr<ebb::v1::EbbConfig> text = LoadConfigFile(text_path);
  ASSERT_TRUE(text.ok()) << text.status();
  absl::StatusOr<ebb::v1::EbbConfig> json = LoadConfigFile(json_path);
  ASSERT_TRUE(json.ok()) << json.status();
  absl::StatusOr<ebb::v1::EbbConfig> parsed = ParseConfig(kText, false, "x");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(text->SerializeAsString(), parsed->SerializeAsString());
  EXPECT_EQ(json->SerializeAsString(), parsed->SerializeAsString());
  EXPECT_EQ(text->window().length(), "7d");
  ASSERT_EQ(text->rules_size(), 1);
  EXPECT_EQ(text->rules(0).name(), "crash");
  std::remove(text_path.c_str());
  std::remove(json_path.c_str());
}

TEST(LoadConfigFileTest, ErrorsNameTheFile) {
  // JSON in a text-format file.
  const std::string wrong =
      WriteFile("ebb_config_file_test_wrong.textproto", kJson);
  absl::StatusOr<ebb::v1::EbbConfig> bad = LoadConfigFile(wrong);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.status().message(), wrong)) << bad.status();
  std::remove(wrong.c_str());
  // An unknown field.
  const std::string unknown =
      WriteFile("ebb_config_file_test_unknown.json", R"({"windoww": {}})");
  bad = LoadConfigFile(unknown);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.status().message(), unknown))
      << bad.status();
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "windoww"))
      << bad.status();
  std::remove(unknown.c_str());
  // No file.
  const std::string missing = ::testing::TempDir() + "/does_not_exist.json";
  bad = LoadConfigFile(missing);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(bad.status().message(), missing))
      << bad.status();
}

}  // namespace
}  // namespace ebb
