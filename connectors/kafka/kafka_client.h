#pragma once

// Thin RAII owners of librdkafka handles: client configuration (with secrets
// from the environment, never logged), an idempotent producer with its
// delivery-report loop, and a consumer-group member whose rebalances are
// served on the consuming thread. This folder is the only one that links
// librdkafka.

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace ebb::kafka {

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
struct MessageDeleter {
  void operator()(rd_kafka_message_t* message) const {
    rd_kafka_message_destroy(message);
  }
};
struct GroupMetadataDeleter {
  void operator()(rd_kafka_consumer_group_metadata_t* metadata) const {
    rd_kafka_consumer_group_metadata_destroy(metadata);
  }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* queue) const {
    rd_kafka_queue_destroy(queue);
  }
};
using HandlePtr = std::unique_ptr<rd_kafka_t, HandleDeleter>;
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using PartitionListPtr =
    std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
using GroupMetadataPtr =
    std::unique_ptr<rd_kafka_consumer_group_metadata_t, GroupMetadataDeleter>;

// librdkafka properties, applied in order (later ones win).
using Properties = std::vector<std::pair<std::string, std::string>>;

// True for properties whose values are secrets (passwords, private keys,
// tokens, client secrets): their values are never printed.
bool IsSecretProperty(absl::string_view name);

// A property value as given, or, for "${NAME}", the environment variable NAME
// (an error when it is not set).
absl::StatusOr<std::string> ResolvePropertyValue(absl::string_view name,
                                                 absl::string_view value);

// "name=value, ..." for logs, with secret values replaced by "[redacted]".
std::string DescribeProperties(const Properties& properties);

// A librdkafka configuration with every property set; an invalid property is
// an InvalidArgument naming it (and, unless secret, its value).
absl::StatusOr<ConfPtr> MakeConf(const Properties& properties);

// A Kafka error as a Status: "what: Local: Broker transport failure".
absl::Status KafkaError(rd_kafka_resp_err_t err, absl::string_view what);

// The outcome of a transactional producer call, with librdkafka's class of
// the error: retriable (the same call again), abortable (abort the
// transaction, rewind the input, begin again) or fatal (the producer is
// unusable, e.g. fenced by a newer instance with the same transactional.id).
// An error with none of librdkafka's three flags is fatal.
struct TxnResult {
  enum Kind { kOk, kRetriable, kAbortable, kFatal };
  // Takes (and destroys) `error`; null is kOk. `what` names the call.
  static TxnResult From(rd_kafka_error_t* error, absl::string_view what);
  bool ok() const { return kind == kOk; }
  Kind kind = kOk;
  // "commit_transaction: Broker: Producer attempted an operation with an old
  // epoch (fatal)"; OK for kOk.
  absl::Status status;
};

struct Header {
  absl::string_view name;
  absl::string_view value;
};

// What librdkafka reported through a client's error callback (brokers
// unreachable, authentication refused, ...), kept to explain a later failure
// such as "no partition assigned". Thread-safe.
class ErrorLog {
 public:
  void Record(rd_kafka_resp_err_t err, absl::string_view reason);
  // The most telling error reported so far, in words: "authentication failed
  // (...)", "not authorized (...)", "fatal error (...)", "brokers B
  // unreachable (...)" or "kafka error (...)", in that order of precedence,
  // with librdkafka's own reason in the parentheses; empty when none was.
  std::string Explain(absl::string_view brokers) const;

 private:
  mutable std::mutex mu_;
  std::string authentication_, authorization_, fatal_, unreachable_, all_down_,
      other_;
};

// An idempotent (by default) producer. Produce() queues; delivery reports are
// served by Poll() and Flush(). A failed delivery is sticky: Flush() and
// status() report it, so the caller never commits input whose output was lost.
//
// Messages are numbered 1, 2, ... in the order Produce() queued them, so a
// caller can wait for "everything queued so far" without blocking: note
// queued() now, and act once settled_through() has reached it (and status()
// is still OK). Each message also carries a tag in [0, kTags) of the caller's
// choosing (what kind of output it is); acknowledgements are counted per tag.
class Producer {
 public:
  static absl::StatusOr<std::unique_ptr<Producer>> Create(
      const Properties& properties);
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  static constexpr int kTags = 4;

  // Queues one message (the bytes are copied). `partition` -1 lets the
  // partitioner choose by key. Waits for queue space when the local queue is
  // full, at most 60 s (then DeadlineExceeded). A transactional producer
  // whose open transaction failed with an abortable error answers Aborted
  // (AbortTransaction() makes it usable again). REQUIRES: 0 <= tag < kTags.
  absl::Status Produce(const std::string& topic, int32_t partition,
                       absl::string_view key, absl::string_view value,
                       absl::Span<const Header> headers,
                       int64_t timestamp_ms = 0, int tag = 0);

  // Looks up the topic's partitions and leaders now, so the first Produce()
  // to it does not wait for them (about a second with librdkafka 2.0.2).
  absl::Status FetchMetadata(const std::string& topic, absl::Duration timeout);

  // Serves delivery reports without blocking.
  void Poll() { rd_kafka_poll(handle_.get(), 0); }

  // Waits until every queued message is acknowledged (or failed). Returns the
  // first delivery failure since the producer was created, or
  // DeadlineExceeded when messages are still waiting after `timeout`.
  absl::Status Flush(absl::Duration timeout);

  // The first delivery failure since the producer was created, or a fatal
  // error of the handle; OK otherwise.
  absl::Status status();

  // Gives up on every message not acknowledged yet (their delivery reports
  // fail, so status() is an error afterwards) and serves those reports, so
  // that destroying the producer does not wait for a broker. Whether the
  // broker got a purged in-flight message is unknown: call it only once the
  // caller no longer counts on them (the input that caused them is not
  // committed).
  void Purge();

  // Transactions (a producer created with transactional.id): the calls of
  // librdkafka's transactional API, each with its error class. `timeout`
  // bounds the blocking ones.
  TxnResult InitTransactions(absl::Duration timeout);
  TxnResult BeginTransaction();
  // Adds `offsets` (each the next offset to consume) of the consumer group
  // `group` (Consumer::GroupMetadata()) to the open transaction.
  TxnResult SendOffsetsToTransaction(
      const rd_kafka_topic_partition_list_t* offsets,
      const rd_kafka_consumer_group_metadata_t* group, absl::Duration timeout);
  // Flushes the transaction's messages and commits it.
  TxnResult CommitTransaction(absl::Duration timeout);
  // Aborts the open transaction: its queued messages are purged (their
  // delivery reports fail), those already written are never visible to
  // read_committed readers. A delivery failure of the aborted transaction is
  // forgotten (status() is OK again unless the handle is fatal).
  TxnResult AbortTransaction(absl::Duration timeout);
  // Forgets the first delivery failure (a transaction's failures are decided
  // by its commit or abort, not by each message).
  void ClearFailure() { first_failure_ = absl::OkStatus(); }

  // What the error callback reported (brokers unreachable, ...).
  const ErrorLog& errors() const { return errors_; }
  // How many messages Produce() has queued.
  uint64_t queued() const { return queued_; }
  // Every message numbered up to this one has its delivery report
  // (acknowledged, or failed: then status() is not OK). Reports of different
  // partitions arrive in any order; this is the end of the settled prefix.
  uint64_t settled_through() const { return settled_through_; }

  int outstanding() const { return rd_kafka_outq_len(handle_.get()); }
  uint64_t delivered() const { return delivered_; }
  // Acknowledged messages queued with `tag`.
  uint64_t delivered(int tag) const { return delivered_by_tag_[tag]; }
  rd_kafka_t* handle() { return handle_.get(); }

 private:
  Producer() = default;
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* message,
                         void* opaque);
  static void OnError(rd_kafka_t* rk, int err, const char* reason,
                      void* opaque);

  // Marks message `number` settled and advances settled_through_. Returns
  // its tag (-1: not a message of this producer).
  int Settle(uint64_t number);

  ErrorLog errors_;  // before handle_: its callbacks write here until the end
  HandlePtr handle_;
  bool transactional_ = false;  // created with a transactional.id
  uint64_t delivered_ = 0;
  uint64_t delivered_by_tag_[kTags] = {};
  absl::Status first_failure_;
  uint64_t queued_ = 0;
  uint64_t settled_through_ = 0;
  // One entry per message after settled_through_: its tag, and whether its
  // report has arrived.
  struct Pending {
    bool settled;
    int8_t tag;
  };
  std::deque<Pending> settled_after_;
};

// What a consumer's owner does on rebalance (called on the consuming thread,
// from inside Consumer::Poll).
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  // The partitions about to be assigned; the listener may set each element's
  // offset (RD_KAFKA_OFFSET_INVALID: resume from the committed offset).
  virtual void OnAssign(rd_kafka_topic_partition_list_t* partitions) = 0;
  // The partitions about to be taken away: finish, flush and commit them now.
  // `lost`: the membership was lost (its session expired, or the group
  // fenced it), so the partitions may already belong to another member and
  // nothing of them can be committed any more.
  virtual void OnRevoke(const rd_kafka_topic_partition_list_t* partitions,
                        bool lost) = 0;
};

// A consumer-group member with manual offset commits. Messages and rebalances
// are served on the calling thread (librdkafka 2.0.2's batch consume can lose
// messages when a rebalance runs concurrently; see docs/kafka.md).
class Consumer {
 public:
  // `properties` must include bootstrap.servers and group.id.
  static absl::StatusOr<std::unique_ptr<Consumer>> Create(
      const Properties& properties, RebalanceListener* listener);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  absl::Status Subscribe(const std::vector<std::string>& topics);

  // Up to `max` messages (and error events) into out[], waiting at most
  // `timeout_ms` for the first. The caller owns them
  // (rd_kafka_message_destroy).
  size_t ConsumeBatch(int timeout_ms, rd_kafka_message_t** out, size_t max);

  // Commits each element's offset (the next offset to read) and waits for
  // the result. Aborted: the group is rebalancing (or this member's
  // generation is gone).
  absl::Status Commit(const rd_kafka_topic_partition_list_t* offsets);
  // Sends the same commit and returns at once; its result comes out of
  // PollCommitResults() with `tag`.
  absl::Status CommitAsync(const rd_kafka_topic_partition_list_t* offsets,
                           uint64_t tag);
  // Hands every completed CommitAsync() to `on_result`, waiting at most
  // `timeout_ms` for the first: its status as Commit() would have returned
  // it, its partitions (each with the offset sent and its own err; may be
  // null) and its tag.
  void PollCommitResults(
      int timeout_ms,
      absl::FunctionRef<void(const absl::Status& status,
                             const rd_kafka_topic_partition_list_t* offsets,
                             uint64_t tag)>
          on_result);
  // The consumer's group metadata (group, generation, member id) for
  // Producer::SendOffsetsToTransaction; take it at each commit, since a
  // rebalance changes the generation.
  GroupMetadataPtr GroupMetadata() {
    return GroupMetadataPtr(rd_kafka_consumer_group_metadata(handle_.get()));
  }
  // Moves the fetch position of each element's partition to its offset
  // (messages fetched before are dropped by librdkafka). REQUIRES: the
  // partitions are assigned.
  absl::Status Seek(const rd_kafka_topic_partition_list_t* partitions,
                    absl::Duration timeout);
  // Fills each element's offset with the group's committed offset
  // (RD_KAFKA_OFFSET_INVALID when none).
  absl::Status Committed(rd_kafka_topic_partition_list_t* partitions,
                         absl::Duration timeout);
  // The partition's low and high watermarks; asks again while its leader is
  // not settled (a new topic, a restarted broker), up to `timeout`.
  absl::Status Watermarks(const std::string& topic, int32_t partition,
                          int64_t* low, int64_t* high, absl::Duration timeout);
  // OK when the brokers answer and `topic` has partitions; NotFound when it
  // does not exist; Unavailable when the brokers do not answer in time.
  absl::Status CheckTopic(const std::string& topic, absl::Duration timeout);
  // Replaces each element's offset (a timestamp in ms) with the first offset
  // at or after it, or -1 when the broker has none (or cannot tell).
  absl::Status OffsetsForTimes(rd_kafka_topic_partition_list_t* partitions,
                               absl::Duration timeout);

  // Leaves the group (revoking through the listener) and closes. Idempotent.
  // When that takes longer than `timeout` (a broker outage: leaving the group
  // can otherwise wait about session.timeout.ms), the handle is destroyed
  // without finishing and the result is DeadlineExceeded. With a finite
  // timeout the destruction itself is bounded too (at least 1 s): a handle
  // librdkafka does not release in time is left to the process's exit.
  absl::Status Close(absl::Duration timeout = absl::InfiniteDuration());

  // What the error callback reported (brokers unreachable, authentication
  // failed, ...), and consumer errors the caller chose to record.
  ErrorLog& errors() { return errors_; }

  rd_kafka_t* handle() { return handle_.get(); }
  // True with the eager protocol: a rebalance revokes every partition.
  bool eager() const;

 private:
  Consumer() = default;
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions,
                          void* opaque);
  static void OnError(rd_kafka_t* rk, int err, const char* reason,
                      void* opaque);

  ErrorLog errors_;  // before handle_: its callbacks write here until the end
  HandlePtr handle_;
  QueuePtr queue_;
  QueuePtr commit_results_;  // CommitAsync()'s results, as events
  RebalanceListener* listener_ = nullptr;
  bool closed_ = false;
};

}  // namespace ebb::kafka
