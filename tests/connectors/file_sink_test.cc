// The file sinks: their lines, write errors, and the outputs-are-not-inputs
// check.

#include "connectors/file_sink.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace ebb {
namespace {

TEST(AppendRfc3339Test, EqualsProtobufTimeUtil) {
  std::mt19937_64 rng(7);
  const TimeNs fixed[] = {
      0,
      1,
      -1,
      1'000'000,
      1'000,
      1763683200LL * kNanosPerSecond,
      -2'208'988'800LL * kNanosPerSecond,                // 1900-01-01
      7'258'118'399LL * kNanosPerSecond + 999'999'999};  // 2199-12-31
  std::vector<TimeNs> times(std::begin(fixed), std::end(fixed));
  for (int i = 0; i < 20000; ++i) {
    // Seconds between 1900 and 2200 (int64 nanoseconds end in 2262), nanos that
    // exercise 0, 3, 6 and 9 digits.
    const int64_t seconds =
        -2'208'988'800LL + static_cast<int64_t>(rng() % 9'467'107'200ULL);
    const int64_t nanos_choices[] = {
        0, static_cast<int64_t>(rng() % 1000) * 1'000'000,
        static_cast<int64_t>(rng() % 1'000'000) * 1'000,
        static_cast<int64_t>(rng() % 1'000'000'000)};
    times.push_back(seconds * kNanosPerSecond + nanos_choices[rng() % 4]);
  }
  for (TimeNs t : times) {
    google::protobuf::Timestamp ts;
    ToTimestamp(t, &ts);
    std::string got;
    AppendRfc3339(t, &got);
    ASSERT_EQ(got, google::protobuf::util::TimeUtil::ToString(ts)) << t;
  }
}

// libprotobuf's line for a message: the oracle.
std::string ProtobufJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  EXPECT_TRUE(
      google::protobuf::util::MessageToJsonString(message, &json, options)
          .ok());
  return json;
}

std::string Tmp(const std::string& name) {
  return ::testing::TempDir() + "/sink_" + std::to_string(getpid()) + "_" +
         name;
}

TEST(MessageWriterTest, LinesAreLibprotobufsForAlertsAndDeadLetters) {
  const std::string path = Tmp("alerts.jsonl");
  std::vector<ebb::v1::Alert> alerts(3);
  alerts[0].set_symbol("quote\"d");
  alerts[1].add_related_news()->set_headline("news \xe2\x80\x94 dash");
  alerts[2].set_value(0.1 + 0.2);
  ToTimestamp(1'763'683'200LL * kNanosPerSecond,
              alerts[2].mutable_event_time());
  ebb::v1::DeadLetter dead_letter;
  dead_letter.set_reason(ebb::v1::MALFORMED);
  dead_letter.set_original("a,b\n");
  {
    absl::StatusOr<std::unique_ptr<MessageWriter>> writer =
        MessageWriter::Open(path);
    ASSERT_TRUE(writer.ok()) << writer.status();
    for (const ebb::v1::Alert& a : alerts) (*writer)->Write(a);
    (*writer)->Write(dead_letter);
    ASSERT_TRUE((*writer)->Close().ok());
  }
  std::string expected;
  for (const ebb::v1::Alert& a : alerts) expected += ProtobufJson(a) + "\n";
  expected += ProtobufJson(dead_letter) + "\n";
  std::ifstream in(path);
  const std::string got((std::istreambuf_iterator<char>(in)),
                        std::istreambuf_iterator<char>());
  EXPECT_EQ(got, expected);
}

// /dev/full accepts open(2) and fails every write(2) with ENOSPC.
TEST(MessageWriterTest, FailedWritesAreReportedWithPathAndReason) {
  absl::StatusOr<std::unique_ptr<MessageWriter>> writer =
      MessageWriter::Open("/dev/full");
  ASSERT_TRUE(writer.ok()) << writer.status();
  ebb::v1::Alert alert;
  alert.set_symbol("BTC-USD");
  (*writer)->Write(alert);
  EXPECT_FALSE((*writer)->failed());  // buffered: not written yet
  const absl::Status status = (*writer)->Close();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(status.message(),
            "write failed: /dev/full: No space left on device");
}

TEST(MessageWriterTest, MetricsFailAsSoonAsAChunkIsWritten) {
  absl::StatusOr<std::unique_ptr<MessageWriter>> writer =
      MessageWriter::Open("/dev/full");
  ASSERT_TRUE(writer.ok()) << writer.status();
  WindowMetrics m;
  const MetricsView view{"BTC-USD", 0, 1.5, &m, kNanosPerDay};
  int written = 0;
  while (!(*writer)->failed() && written < 100000) {
    (*writer)->WriteMetrics(view);
    ++written;
  }
  EXPECT_TRUE((*writer)->failed());
  EXPECT_LT(written, 10000);  // about 1 MiB of lines
  EXPECT_EQ((*writer)->Close().message(),
            "write failed: /dev/full: No space left on device");
}

TEST(MessageWriterTest, AnAlertWithoutJsonFormFailsTheWriter) {
  const std::string path = Tmp("bad_alert.jsonl");
  absl::StatusOr<std::unique_ptr<MessageWriter>> writer =
      MessageWriter::Open(path);
  ASSERT_TRUE(writer.ok());
  ebb::v1::Alert alert;
  alert.set_id("a1");
  alert.mutable_event_time()->set_seconds(-70'000'000'000LL);
  (*writer)->Write(alert);
  EXPECT_TRUE((*writer)->failed());
  const absl::Status status = (*writer)->Close();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find(path + ": alert a1: eventTime has no JSON"),
            std::string::npos)
      << status;
}

class CheckOutputsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    input_ = Tmp("input.csv");
    std::ofstream(input_) << "timestamp,price\n";
  }
  std::string input_;
};

TEST_F(CheckOutputsTest, RefusesAnOutputThatIsAnInputBeforeOpeningIt) {
  for (int which = 0; which < 3; ++which) {
    FileOutputOptions outputs;
    outputs.alerts_path = Tmp("alerts.jsonl");
    (which == 0   ? outputs.alerts_path
     : which == 1 ? outputs.metrics_path
                  : outputs.dead_letter_path) = input_;
    const absl::Status status =
        CheckOutputsAreNotInputs({Tmp("other.csv"), input_}, outputs);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << which;
    const char* names[] = {"alerts", "metrics", "dead letters"};
    EXPECT_EQ(
        status.message(),
        absl::StrCat("the ", names[which], " output ", input_, " is the input ",
                     input_, " (the same file): refusing to overwrite it"));
  }
  std::ifstream in(input_);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "timestamp,price");  // untouched
}

TEST_F(CheckOutputsTest, SameFileByInodeNotByName) {
  const std::string hard = Tmp("hard.csv"), soft = Tmp("soft.csv");
  std::remove(hard.c_str());
  std::remove(soft.c_str());
  ASSERT_EQ(link(input_.c_str(), hard.c_str()), 0);
  ASSERT_EQ(symlink(input_.c_str(), soft.c_str()), 0);
  FileOutputOptions outputs;
  outputs.alerts_path = hard;
  EXPECT_FALSE(CheckOutputsAreNotInputs({input_}, outputs).ok());
  outputs.alerts_path = soft;
  EXPECT_FALSE(CheckOutputsAreNotInputs({input_}, outputs).ok());
  // A name that differs only in spelling.
  outputs.alerts_path =
      ::testing::TempDir() + "/./" + input_.substr(input_.rfind('/') + 1);
  EXPECT_FALSE(CheckOutputsAreNotInputs({input_}, outputs).ok());
}

TEST_F(CheckOutputsTest, AcceptsDistinctFilesNewFilesAndStreams) {
  const std::string other = Tmp("other_existing.jsonl");
  std::ofstream(other) << "x\n";
  FileOutputOptions outputs;
  outputs.alerts_path = other;
  outputs.metrics_path = Tmp("does_not_exist_yet.jsonl");
  outputs.dead_letter_path = "/dev/null";
  EXPECT_TRUE(CheckOutputsAreNotInputs({input_}, outputs).ok());
  // /dev/null is no regular file: reading and writing it at once is harmless.
  outputs = FileOutputOptions{};
  outputs.alerts_path = "/dev/null";
  EXPECT_TRUE(CheckOutputsAreNotInputs({"/dev/null"}, outputs).ok());
  // Inputs that do not exist are their readers' errors.
  EXPECT_TRUE(CheckOutputsAreNotInputs({Tmp("missing.csv")}, outputs).ok());
}

TEST_F(CheckOutputsTest, RefusesTwoOutputsOnOneFile) {
  FileOutputOptions outputs;
  outputs.alerts_path = Tmp("both.jsonl");
  std::ofstream(outputs.alerts_path) << "";
  outputs.metrics_path = outputs.alerts_path;
  const absl::Status status = CheckOutputsAreNotInputs({input_}, outputs);
  EXPECT_EQ(status.message(),
            absl::StrCat("the metrics output ", outputs.alerts_path,
                         " and the alerts output ", outputs.alerts_path,
                         " are the same file"));
}

}  // namespace
}  // namespace ebb
