#pragma once

// Where a newly assigned partition starts, and how much of it is warm-start
// history (docs/kafka.md, "Warm start"): a price partition is read from its
// oldest retained message (or from offsetsForTimes(now - window -
// lateness)) up to where live processing resumes, so its windows are whole
// when the first live message arrives.

#include <librdkafka/rdkafka.h>

#include <cstdint>

#include "base/clock.h"
#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/partition_task.h"
#include "connectors/kafka/stream_options.h"
#include "engine/config.h"

namespace ebb::kafka {

class WarmStartPlanner {
 public:
  using Task = PartitionTask;
  // Every argument must outlive it.
  WarmStartPlanner(Consumer* consumer, const StreamOptions& options,
                   const EngineConfig& engine, const Clock* clock)
      : consumer_(consumer),
        options_(options),
        engine_(engine),
        clock_(clock) {}

  // Decides where a newly assigned price partition starts (the element's
  // offset and the task's next_offset) and how much of it is warm-start
  // history (the task's warm_until), given the group's committed offset (-1:
  // none).
  void PlanWarmStart(Task& task, rd_kafka_topic_partition_t* element,
                     int64_t committed);
  // Resumes at the committed offset, or (none) where a new group starts.
  void StartWithoutWarmUp(Task& task, rd_kafka_topic_partition_t* element,
                          int64_t committed);
  // History messages planned by warm starts so far.
  uint64_t warm_total() const { return warm_total_; }

 private:
  Consumer* const consumer_;
  const StreamOptions& options_;
  const EngineConfig& engine_;
  const Clock* const clock_;
  uint64_t warm_total_ = 0;
};

}  // namespace ebb::kafka
