#pragma once

// Where the streaming runtime's messages go (assignments, revocations,
// postponed commits, transient errors). Injected, so that tests can read
// them; the default writes each message as one stderr line.

#include <cstdio>
#include <string>

#include "absl/strings/string_view.h"

namespace ebb::kafka {

class Logger {
 public:
  virtual ~Logger() = default;
  // One message, without a trailing newline. Called on the runner's thread.
  virtual void Log(absl::string_view message) = 0;
};

// "ebb run: <message>" on stderr.
class StderrLogger : public Logger {
 public:
  void Log(absl::string_view message) override {
    std::fprintf(stderr, "ebb run: %.*s\n", static_cast<int>(message.size()),
                 message.data());
  }
  static StderrLogger* Get() {
    static StderrLogger logger;
    return &logger;
  }
};

}  // namespace ebb::kafka
