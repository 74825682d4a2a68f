#include "connectors/kafka/warm_start.h"

#include <algorithm>
#include <cstdio>
#include <string>

namespace ebb::kafka {
namespace {

constexpr absl::Duration kRequestTimeout = absl::Seconds(10);

}  // namespace

void WarmStartPlanner::StartWithoutWarmUp(Task& task,
                                          rd_kafka_topic_partition_t* element,
                                          int64_t committed) {
  element->offset = committed >= 0            ? committed
                    : options_.start_earliest ? RD_KAFKA_OFFSET_BEGINNING
                                              : RD_KAFKA_OFFSET_END;
  task.next_offset = committed >= 0 ? committed : -1;
}

void WarmStartPlanner::PlanWarmStart(Task& task,
                                     rd_kafka_topic_partition_t* element,
                                     int64_t committed) {
  int64_t low = 0, high = 0;
  absl::Status marks = consumer_->Watermarks(*task.topic, task.partition, &low,
                                             &high, kRequestTimeout);
  if (!marks.ok()) {
    // Without the log's bounds there is no warm start: say so, loudly.
    std::fprintf(stderr,
                 "ebb run: %s: %s; starting without warm start (windows of "
                 "this partition begin empty)\n",
                 task.topic->c_str(), std::string(marks.message()).c_str());
    StartWithoutWarmUp(task, element, committed);
    return;
  }
  // Where live processing resumes.
  int64_t resume = committed >= 0            ? committed
                   : options_.start_earliest ? low
                                             : high;
  resume = std::max(resume, low);  // committed offsets may have been pruned
  int64_t from = resume;
  if (options_.warm_start && resume > low) {
    from = low;
  }
  // Skip history older than the windows need, when the broker can tell. A
  // live event at t needs its window (t - window, t] and, for `change` and
  // `full_window`, its symbol's newest event at or before t - window: that
  // anchor lies before the window by up to the symbol's interval between
  // events (a weekend, a holiday, a night), which the margin covers. The
  // partition holds many symbols and offsetsForTimes knows none of them: one
  // margin for all, measured from now. That is right only for live events
  // stamped after now - lateness - margin: when no message up to the resume
  // offset is that recent (the group is behind by more than the margin, or
  // the feed has been idle that long), the history starts at the oldest.
  if (options_.warm_start && options_.warm_start_by_time && resume > low) {
    const absl::Time recent = absl::FromUnixNanos(clock_->NowNs()) -
                              absl::Nanoseconds(engine_.allowed_lateness) -
                              options_.warm_start_margin;
    const absl::Time since = recent - absl::Nanoseconds(engine_.window.length);
    // The first offset stamped at or after `time`, or -1 when there is none
    // or the broker does not say. Before the epoch a timestamp query means
    // something else (-1 latest, -2 earliest): none is asked.
    auto first_stamped = [&](absl::Time time) -> int64_t {
      const int64_t ms = absl::ToUnixMillis(time);
      if (ms <= 0) return -1;
      PartitionListPtr times(rd_kafka_topic_partition_list_new(1));
      rd_kafka_topic_partition_list_add(times.get(), task.topic->c_str(),
                                        task.partition)
          ->offset = ms;
      if (!consumer_->OffsetsForTimes(times.get(), kRequestTimeout).ok() ||
          times->elems[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return -1;
      }
      return times->elems[0].offset;
    };
    const int64_t start = first_stamped(since);
    if (start > low && start <= resume) {
      const int64_t current = first_stamped(recent);
      if (current >= 0 && current <= resume) from = start;
    }
  }
  if (options_.warm_start && resume > low) {
    task.warm_until = resume;
    warm_total_ += static_cast<uint64_t>(resume - from);
  }
  element->offset = from;
  task.next_offset = from;
}

}  // namespace ebb::kafka
