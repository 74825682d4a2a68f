#pragma once

// Running the `ebb` binary from tests and reading its JSON-lines outputs.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace ebb_test {

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

// Runs `ebb <args>` (args are passed to /bin/sh as they are), capturing stdout
// and stderr, with standard input read from `input`.
inline RunResult RunEbb(const std::string& args,
                        const std::string& input = "/dev/null") {
  static int counter = 0;
  // ctest runs test programs in parallel: the pid keeps their files apart.
  const std::string base = ::testing::TempDir() + "/ebb_run_" +
                           std::to_string(getpid()) + "_" +
                           std::to_string(++counter);
  const std::string command = std::string(EBB_BINARY_PATH) + " " + args + " >" +
                              base + ".out 2>" + base + ".err <" + input;
  const int status = std::system(command.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFile(base + ".out");
  r.err = ReadFile(base + ".err");
  return r;
}

// Parses every line of a JSON-lines file as message type M (protobuf JSON
// mapping).
template <typename M>
std::vector<M> ReadJsonLines(const std::string& path_or_text,
                             bool is_text = false) {
  std::istringstream in(is_text ? path_or_text : ReadFile(path_or_text));
  std::vector<M> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    M m;
    auto status = google::protobuf::util::JsonStringToMessage(line, &m);
    EXPECT_TRUE(status.ok()) << status.ToString() << " in line: " << line;
    out.push_back(std::move(m));
  }
  return out;
}

inline std::string SharedData() {
  const char* env = std::getenv("EBB_SHARED_DATA");
  return env != nullptr ? env : "";
}

}  // namespace ebb_test
