#pragma once

// SIGINT and SIGTERM ask a long-running command to stop cleanly: finish the
// batch, flush, commit, exit 0. A second signal is not special; SIGKILL is
// the hard stop.

#include <atomic>
#include <csignal>

namespace ebb {

inline std::atomic<bool>& StopRequested() {
  static std::atomic<bool> stop{false};
  return stop;
}

inline void InstallStopHandlers() {
  struct sigaction action = {};
  action.sa_handler = [](int) {
    StopRequested().store(true, std::memory_order_relaxed);
  };
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

}  // namespace ebb
