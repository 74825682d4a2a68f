#pragma once

// A progress line on stderr, redrawn in place at most ~5 times a second, only
// on a terminal.

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <utility>

namespace ebb {

class ProgressLine {
 public:
  explicit ProgressLine(const char* what, bool enabled = true)
      : what_(what),
        enabled_(enabled && isatty(STDERR_FILENO) == 1),
        start_(std::chrono::steady_clock::now()),
        last_(start_) {}

  // Call often; cheap unless a redraw is due. total may be 0 when unknown.
  void Update(uint64_t records, uint64_t done_bytes, uint64_t total_bytes) {
    Update(records, [&] { return std::make_pair(done_bytes, total_bytes); });
  }
  // The same, with the byte counts (done, total) asked of `bytes` only when a
  // redraw is due: a replay's sources answer through virtual calls, which
  // cost more per record than the check.
  template <typename Bytes>
  void Update(uint64_t records, Bytes bytes) {
    if (!enabled_ || (++calls_ & 0x3fff) != 0) return;
    const auto [done_bytes, total_bytes] = bytes();
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate =
        seconds > 0 ? static_cast<double>(records) / seconds : 0;
    if (total_bytes > 0) {
      std::fprintf(stderr, "\r\033[K%s: %5.1f%%  %llu records  %.2f M/s", what_,
                   100.0 * static_cast<double>(done_bytes) /
                       static_cast<double>(total_bytes),
                   static_cast<unsigned long long>(records), rate / 1e6);
    } else {
      std::fprintf(stderr, "\r\033[K%s: %llu records  %.2f M/s", what_,
                   static_cast<unsigned long long>(records), rate / 1e6);
    }
    drawn_ = true;
  }

  // Clears the line, if one was drawn.
  void Finish() {
    if (drawn_) std::fprintf(stderr, "\r\033[K");
    drawn_ = false;
  }

  double ElapsedSeconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start_)
        .count();
  }

 private:
  const char* what_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_;
  uint64_t calls_ = 0;
  bool drawn_ = false;
};

}  // namespace ebb
