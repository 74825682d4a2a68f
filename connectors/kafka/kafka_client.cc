#include "connectors/kafka/kafka_client.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"

namespace ebb::kafka {
namespace {

int TimeoutMs(absl::Duration timeout) {
  return static_cast<int>(absl::ToInt64Milliseconds(timeout));
}

// Transient errors (a broker down, a timed-out request) are retried by
// librdkafka itself, and its own log line (which folds repeats) already says
// so; only a fatal error is reported again here. Callers learn of it through
// Flush() and the consumer's error messages.
void ReportFatal(rd_kafka_t* rk, int err, const char* reason, void*) {
  if (err != RD_KAFKA_RESP_ERR__FATAL) return;
  std::fprintf(stderr, "ebb: kafka %s: fatal error: %s\n", rd_kafka_name(rk),
               reason);
}

// Asks the brokers for `topic`'s metadata. With `must_exist`, a topic the
// brokers do not know, or one without partitions, is NotFound.
absl::Status TopicMetadata(rd_kafka_t* rk, const std::string& topic,
                           absl::Duration timeout, bool must_exist) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  if (rkt == nullptr) {
    return KafkaError(rd_kafka_last_error(), absl::StrCat("topic ", topic));
  }
  const rd_kafka_metadata_t* metadata = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk, 0, rkt, &metadata, TimeoutMs(timeout));
  rd_kafka_topic_destroy(rkt);
  absl::Status status;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    status = KafkaError(err, absl::StrCat("metadata of ", topic));
  } else if (must_exist &&
             (metadata->topic_cnt < 1 ||
              metadata->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR ||
              metadata->topics[0].partition_cnt == 0)) {
    status = absl::NotFoundError(absl::StrCat(
        "topic ", topic, ": ",
        rd_kafka_err2str(metadata->topic_cnt < 1
                             ? RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
                             : metadata->topics[0].err)));
  }
  if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
  return status;
}

}  // namespace

bool IsSecretProperty(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  for (absl::string_view marker :
       {"password", "secret", "sasl.jaas.config", "ssl.key.pem", "ssl.keystore",
        "token", "ssl_key", "private", "oauthbearer.config", "credential"}) {
    if (absl::StrContains(lower, marker)) return true;
  }
  return false;
}

absl::StatusOr<std::string> ResolvePropertyValue(absl::string_view name,
                                                 absl::string_view value) {
  if (value.size() < 4 || !absl::StartsWith(value, "${") ||
      !absl::EndsWith(value, "}")) {
    return std::string(value);
  }
  const std::string variable(value.substr(2, value.size() - 3));
  const char* from_env = std::getenv(variable.c_str());
  if (from_env == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("kafka property ", name,
                                                   ": environment variable ",
                                                   variable, " is not set"));
  }
  return std::string(from_env);
}

std::string DescribeProperties(const Properties& properties) {
  std::string out;
  for (const auto& [name, value] : properties) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", name, "=",
                    IsSecretProperty(name) ? "[redacted]" : value);
  }
  return out;
}

absl::StatusOr<ConfPtr> MakeConf(const Properties& properties) {
  ConfPtr conf(rd_kafka_conf_new());
  char errstr[512];
  for (const auto& [name, raw] : properties) {
    absl::StatusOr<std::string> value = ResolvePropertyValue(name, raw);
    if (!value.ok()) return value.status();
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value->c_str(), errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK) {
      // librdkafka's message quotes the value; never echo a secret.
      return absl::InvalidArgumentError(absl::StrCat(
          "kafka property ", name, ": ",
          IsSecretProperty(name) ? "invalid value ([redacted])" : errstr));
    }
  }
  rd_kafka_conf_set_error_cb(conf.get(), &ReportFatal);
  return conf;
}

absl::Status KafkaError(rd_kafka_resp_err_t err, absl::string_view what) {
  return absl::UnavailableError(
      absl::StrCat(what, ": ", rd_kafka_err2str(err)));
}

// ---------------------------------------------------------------------------
// ErrorLog

void ErrorLog::Record(rd_kafka_resp_err_t err, absl::string_view reason) {
  std::string text =
      reason.empty() ? rd_kafka_err2str(err) : std::string(reason);
  std::lock_guard<std::mutex> lock(mu_);
  switch (err) {
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM:
    case RD_KAFKA_RESP_ERR__SSL:
      authentication_ = std::move(text);
      break;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
      authorization_ = std::move(text);
      break;
    case RD_KAFKA_RESP_ERR__FATAL:
      fatal_ = std::move(text);
      break;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__RESOLVE:
      unreachable_ = std::move(text);
      break;
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
      // "1/1 brokers are down": the transport error before it says why.
      all_down_ = std::move(text);
      break;
    default:
      other_ = std::move(text);
  }
}

std::string ErrorLog::Explain(absl::string_view brokers) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!authentication_.empty()) {
    return absl::StrCat("authentication failed (", authentication_, ")");
  }
  if (!authorization_.empty()) {
    return absl::StrCat("not authorized (", authorization_, ")");
  }
  if (!fatal_.empty()) return absl::StrCat("fatal error (", fatal_, ")");
  if (!unreachable_.empty() || !all_down_.empty()) {
    return absl::StrCat("brokers ", brokers, " unreachable (",
                        unreachable_.empty() ? all_down_ : unreachable_, ")");
  }
  if (!other_.empty()) return absl::StrCat("kafka error (", other_, ")");
  return "";
}

// ---------------------------------------------------------------------------
// Producer

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(
    const Properties& properties) {
  absl::StatusOr<ConfPtr> conf = MakeConf(properties);
  if (!conf.ok()) return conf.status();
  std::unique_ptr<Producer> producer(new Producer());
  rd_kafka_conf_set_opaque(conf->get(), producer.get());
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &Producer::OnDelivery);
  rd_kafka_conf_set_error_cb(conf->get(), &Producer::OnError);
  char errstr[512];
  rd_kafka_t* rk =
      rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr, sizeof(errstr));
  if (rk == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("kafka producer: ", errstr));
  }
  (void)conf->release();  // rd_kafka_new took it
  producer->handle_.reset(rk);
  for (const auto& [key, value] : properties) {
    if (key == "transactional.id") producer->transactional_ = !value.empty();
  }
  return producer;
}

Producer::~Producer() {
  if (handle_ != nullptr) {
    // Whatever is still queued gets a last chance; the caller has already
    // decided (by not committing) what a loss here would mean.
    rd_kafka_flush(handle_.get(), 5000);
  }
}

void Producer::OnError(rd_kafka_t* rk, int err, const char* reason,
                       void* opaque) {
  static_cast<Producer*>(opaque)->errors_.Record(
      static_cast<rd_kafka_resp_err_t>(err), reason);
  ReportFatal(rk, err, reason, nullptr);
}

void Producer::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message,
                          void* opaque) {
  auto* self = static_cast<Producer*>(opaque);
  // The message's number, set by Produce() as its per-message opaque.
  const int tag = self->Settle(
      static_cast<uint64_t>(reinterpret_cast<uintptr_t>(message->_private)));
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++self->delivered_;
    if (tag >= 0) ++self->delivered_by_tag_[tag];
    return;
  }
  if (self->first_failure_.ok()) {
    self->first_failure_ = KafkaError(
        message->err,
        absl::StrCat("delivery to ", rd_kafka_topic_name(message->rkt),
                     message->partition >= 0
                         ? absl::StrCat(" [", message->partition, "]")
                         : "",
                     " failed"));
  }
}

int Producer::Settle(uint64_t number) {
  if (number <= settled_through_ || number > queued_) return -1;  // not ours
  Pending& pending = settled_after_[number - settled_through_ - 1];
  if (pending.settled) return -1;  // reported twice
  pending.settled = true;
  const int tag = pending.tag;
  while (!settled_after_.empty() && settled_after_.front().settled) {
    settled_after_.pop_front();
    ++settled_through_;
  }
  return tag;
}

void Producer::Purge() {
  rd_kafka_purge(handle_.get(),
                 RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(handle_.get(), 0);
}

absl::Status Producer::status() {
  if (!first_failure_.ok()) return first_failure_;
  char errstr[512];
  if (rd_kafka_fatal_error(handle_.get(), errstr, sizeof(errstr)) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(absl::StrCat("kafka producer: ", errstr));
  }
  return absl::OkStatus();
}

absl::Status Producer::Produce(const std::string& topic, int32_t partition,
                               absl::string_view key, absl::string_view value,
                               absl::Span<const Header> headers,
                               int64_t timestamp_ms, int tag) {
  absl::Time deadline = absl::InfiniteFuture();  // set when the queue is full
  while (true) {
    rd_kafka_headers_t* hdrs = nullptr;
    if (!headers.empty()) {
      hdrs = rd_kafka_headers_new(headers.size());
      for (const Header& h : headers) {
        rd_kafka_header_add(hdrs, h.name.data(),
                            static_cast<ssize_t>(h.name.size()), h.value.data(),
                            static_cast<ssize_t>(h.value.size()));
      }
    }
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        handle_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
        RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_TIMESTAMP(timestamp_ms), RD_KAFKA_V_HEADERS(hdrs),
        RD_KAFKA_V_OPAQUE(
            reinterpret_cast<void*>(static_cast<uintptr_t>(queued_ + 1))),
        RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      // Reports are served only on this thread (Poll(), Flush(), the wait
      // below, the destructor), so none for this message can have arrived.
      ++queued_;
      settled_after_.push_back({false, static_cast<int8_t>(tag)});
      return absl::OkStatus();
    }
    if (hdrs != nullptr) rd_kafka_headers_destroy(hdrs);  // not taken
    if (err == RD_KAFKA_RESP_ERR__STATE && transactional_ &&
        rd_kafka_fatal_error(handle_.get(), nullptr, 0) ==
            RD_KAFKA_RESP_ERR_NO_ERROR) {
      // The open transaction failed (an abortable error of a request it
      // sent): nothing more can be queued until it is aborted.
      return absl::AbortedError(absl::StrCat(
          "produce to ", topic,
          ": the transaction must be aborted (Local: Erroneous state)"));
    }
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      return KafkaError(err, absl::StrCat("produce to ", topic));
    }
    // Back-pressure: serve delivery reports until there is room.
    if (deadline == absl::InfiniteFuture()) {
      deadline = absl::Now() + absl::Seconds(60);
    }
    rd_kafka_poll(handle_.get(), 10);
    if (!first_failure_.ok()) return first_failure_;
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "produce to ", topic, ": the local queue stayed full for 60 s (",
          outstanding(), " messages unacknowledged)"));
    }
  }
}

absl::Status Producer::FetchMetadata(const std::string& topic,
                                     absl::Duration timeout) {
  return TopicMetadata(handle_.get(), topic, timeout, /*must_exist=*/false);
}

absl::Status Producer::Flush(absl::Duration timeout) {
  const rd_kafka_resp_err_t err =
      rd_kafka_flush(handle_.get(), TimeoutMs(timeout));
  if (absl::Status s = status(); !s.ok()) return s;
  if (err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
    return absl::DeadlineExceededError(absl::StrCat(
        "flush: ", outstanding(), " messages not acknowledged yet"));
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err, "flush");
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Transactions

TxnResult TxnResult::From(rd_kafka_error_t* error, absl::string_view what) {
  TxnResult result;
  if (error == nullptr) return result;
  if (rd_kafka_error_is_fatal(error)) {
    result.kind = kFatal;
  } else if (rd_kafka_error_txn_requires_abort(error)) {
    result.kind = kAbortable;
  } else if (rd_kafka_error_is_retriable(error)) {
    result.kind = kRetriable;
  } else {
    result.kind = kFatal;
  }
  static constexpr const char* kNames[] = {"", "retriable", "abortable",
                                           "fatal"};
  const std::string message = absl::StrCat(
      what, ": ", rd_kafka_error_string(error), " (", kNames[result.kind], ")");
  result.status = result.kind == kFatal       ? absl::InternalError(message)
                  : result.kind == kAbortable ? absl::AbortedError(message)
                                              : absl::UnavailableError(message);
  rd_kafka_error_destroy(error);
  return result;
}

TxnResult Producer::InitTransactions(absl::Duration timeout) {
  return TxnResult::From(
      rd_kafka_init_transactions(handle_.get(), TimeoutMs(timeout)),
      "init_transactions");
}

TxnResult Producer::BeginTransaction() {
  return TxnResult::From(rd_kafka_begin_transaction(handle_.get()),
                         "begin_transaction");
}

TxnResult Producer::SendOffsetsToTransaction(
    const rd_kafka_topic_partition_list_t* offsets,
    const rd_kafka_consumer_group_metadata_t* group, absl::Duration timeout) {
  return TxnResult::From(rd_kafka_send_offsets_to_transaction(
                             handle_.get(), offsets, group, TimeoutMs(timeout)),
                         "send_offsets_to_transaction");
}

TxnResult Producer::CommitTransaction(absl::Duration timeout) {
  return TxnResult::From(
      rd_kafka_commit_transaction(handle_.get(), TimeoutMs(timeout)),
      "commit_transaction");
}

TxnResult Producer::AbortTransaction(absl::Duration timeout) {
  TxnResult result = TxnResult::From(
      rd_kafka_abort_transaction(handle_.get(), TimeoutMs(timeout)),
      "abort_transaction");
  // The purged messages' reports have been served by the call.
  rd_kafka_poll(handle_.get(), 0);
  if (result.ok()) ClearFailure();
  return result;
}

// ---------------------------------------------------------------------------
// Consumer

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(
    const Properties& properties, RebalanceListener* listener) {
  Properties all = {{"enable.auto.commit", "false"},
                    {"enable.auto.offset.store", "false"},
                    {"enable.partition.eof", "false"}};
  all.insert(all.end(), properties.begin(), properties.end());
  absl::StatusOr<ConfPtr> conf = MakeConf(all);
  if (!conf.ok()) return conf.status();
  std::unique_ptr<Consumer> consumer(new Consumer());
  consumer->listener_ = listener;
  rd_kafka_conf_set_opaque(conf->get(), consumer.get());
  rd_kafka_conf_set_rebalance_cb(conf->get(), &Consumer::OnRebalance);
  rd_kafka_conf_set_error_cb(conf->get(), &Consumer::OnError);
  char errstr[512];
  rd_kafka_t* rk =
      rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), errstr, sizeof(errstr));
  if (rk == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", errstr));
  }
  (void)conf->release();
  consumer->handle_.reset(rk);
  // Everything (messages, rebalances, errors) arrives on one queue, served by
  // ConsumeBatch on the caller's thread.
  rd_kafka_poll_set_consumer(rk);
  consumer->queue_.reset(rd_kafka_queue_get_consumer(rk));
  consumer->commit_results_.reset(rd_kafka_queue_new(rk));
  return consumer;
}

Consumer::~Consumer() { (void)Close(); }

void Consumer::OnError(rd_kafka_t* rk, int err, const char* reason,
                       void* opaque) {
  static_cast<Consumer*>(opaque)->errors_.Record(
      static_cast<rd_kafka_resp_err_t>(err), reason);
  ReportFatal(rk, err, reason, nullptr);
}

void Consumer::OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions,
                           void* opaque) {
  auto* self = static_cast<Consumer*>(opaque);
  const bool cooperative = !self->eager();
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (self->listener_ != nullptr) self->listener_->OnAssign(partitions);
    if (cooperative) {
      rd_kafka_error_t* error = rd_kafka_incremental_assign(rk, partitions);
      if (error != nullptr) {
        std::fprintf(stderr, "ebb: kafka assign: %s\n",
                     rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
      }
    } else {
      rd_kafka_assign(rk, partitions);
    }
    return;
  }
  // Revoked: the owner finishes and commits what it processed. Lost: it
  // drops the partitions (another member may own them already).
  if (self->listener_ != nullptr) {
    self->listener_->OnRevoke(partitions, rd_kafka_assignment_lost(rk) != 0);
  }
  if (cooperative) {
    rd_kafka_error_t* error = rd_kafka_incremental_unassign(rk, partitions);
    if (error != nullptr) rd_kafka_error_destroy(error);
  } else {
    rd_kafka_assign(rk, nullptr);
  }
}

absl::Status Consumer::Subscribe(const std::vector<std::string>& topics) {
  PartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const std::string& topic : topics) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(),
                                      RD_KAFKA_PARTITION_UA);
  }
  const rd_kafka_resp_err_t err = rd_kafka_subscribe(handle_.get(), list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err, "subscribe");
  return absl::OkStatus();
}

size_t Consumer::ConsumeBatch(int timeout_ms, rd_kafka_message_t** out,
                              size_t max) {
  const ssize_t n =
      rd_kafka_consume_batch_queue(queue_.get(), timeout_ms, out, max);
  return n < 0 ? 0 : static_cast<size_t>(n);
}

namespace {

absl::Status CommitStatus(rd_kafka_resp_err_t err) {
  if (err == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS ||
      err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
      err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID) {
    return absl::AbortedError(absl::StrCat("commit: ", rd_kafka_err2str(err)));
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err, "commit");
  return absl::OkStatus();
}

}  // namespace

absl::Status Consumer::Commit(const rd_kafka_topic_partition_list_t* offsets) {
  if (offsets->cnt == 0) return absl::OkStatus();
  return CommitStatus(rd_kafka_commit(handle_.get(), offsets, /*async=*/0));
}

absl::Status Consumer::CommitAsync(
    const rd_kafka_topic_partition_list_t* offsets, uint64_t tag) {
  if (offsets->cnt == 0) return absl::InvalidArgumentError("nothing to commit");
  // With a queue and no callback the result is an event on that queue, with
  // the opaque (the tag) beside it.
  return CommitStatus(rd_kafka_commit_queue(
      handle_.get(), offsets, commit_results_.get(), nullptr,
      reinterpret_cast<void*>(static_cast<uintptr_t>(tag))));
}

void Consumer::PollCommitResults(
    int timeout_ms,
    absl::FunctionRef<void(const absl::Status& status,
                           const rd_kafka_topic_partition_list_t* offsets,
                           uint64_t tag)>
        on_result) {
  if (commit_results_ == nullptr) return;
  int wait = timeout_ms;
  while (rd_kafka_event_t* event =
             rd_kafka_queue_poll(commit_results_.get(), wait)) {
    wait = 0;
    if (rd_kafka_event_type(event) == RD_KAFKA_EVENT_OFFSET_COMMIT) {
      on_result(CommitStatus(rd_kafka_event_error(event)),
                rd_kafka_event_topic_partition_list(event),
                static_cast<uint64_t>(
                    reinterpret_cast<uintptr_t>(rd_kafka_event_opaque(event))));
    }
    rd_kafka_event_destroy(event);
  }
}

absl::Status Consumer::Seek(const rd_kafka_topic_partition_list_t* partitions,
                            absl::Duration timeout) {
  PartitionListPtr copy(rd_kafka_topic_partition_list_copy(partitions));
  rd_kafka_error_t* error =
      rd_kafka_seek_partitions(handle_.get(), copy.get(), TimeoutMs(timeout));
  if (error != nullptr) {
    absl::Status status = absl::UnavailableError(
        absl::StrCat("seek: ", rd_kafka_error_string(error)));
    rd_kafka_error_destroy(error);
    return status;
  }
  for (int i = 0; i < copy->cnt; ++i) {
    if (copy->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return KafkaError(copy->elems[i].err,
                        absl::StrCat("seek ", copy->elems[i].topic, "[",
                                     copy->elems[i].partition, "] to ",
                                     copy->elems[i].offset));
    }
  }
  return absl::OkStatus();
}

absl::Status Consumer::Committed(rd_kafka_topic_partition_list_t* partitions,
                                 absl::Duration timeout) {
  const rd_kafka_resp_err_t err =
      rd_kafka_committed(handle_.get(), partitions, TimeoutMs(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaError(err, "committed offsets");
  }
  return absl::OkStatus();
}

absl::Status Consumer::Watermarks(const std::string& topic, int32_t partition,
                                  int64_t* low, int64_t* high,
                                  absl::Duration timeout) {
  // A partition whose leader is not settled yet (a topic just created, a
  // broker just restarted) answers with an error that goes away: ask again
  // until the timeout, as librdkafka does for fetches.
  const absl::Time deadline = absl::Now() + timeout;
  rd_kafka_resp_err_t err;
  while (true) {
    err = rd_kafka_query_watermark_offsets(
        handle_.get(), topic.c_str(), partition, low, high,
        TimeoutMs(std::max(deadline - absl::Now(), absl::Milliseconds(1))));
    const bool transient =
        err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
        err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
        err == RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE ||
        err == RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE ||
        err == RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH ||
        err == RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH ||
        err == RD_KAFKA_RESP_ERR__TRANSPORT ||
        err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||  // metadata not yet
        err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    if (!transient || absl::Now() + absl::Milliseconds(100) >= deadline) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaError(
        err, absl::StrCat("watermarks of ", topic, " [", partition, "]"));
  }
  return absl::OkStatus();
}

absl::Status Consumer::CheckTopic(const std::string& topic,
                                  absl::Duration timeout) {
  return TopicMetadata(handle_.get(), topic, timeout, /*must_exist=*/true);
}

absl::Status Consumer::OffsetsForTimes(
    rd_kafka_topic_partition_list_t* partitions, absl::Duration timeout) {
  const rd_kafka_resp_err_t err =
      rd_kafka_offsets_for_times(handle_.get(), partitions, TimeoutMs(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaError(err, "offsets for times");
  }
  return absl::OkStatus();
}

bool Consumer::eager() const {
  return handle_ != nullptr &&
         absl::string_view(rd_kafka_rebalance_protocol(handle_.get())) !=
             "COOPERATIVE";
}

absl::Status Consumer::Close(absl::Duration timeout) {
  if (closed_ || handle_ == nullptr) return absl::OkStatus();
  closed_ = true;
  queue_.reset();
  commit_results_.reset();
  if (timeout == absl::InfiniteDuration()) {
    const rd_kafka_resp_err_t err = rd_kafka_consumer_close(handle_.get());
    handle_.reset();
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err, "close");
    return absl::OkStatus();
  }
  // The same close, in librdkafka's background, with its rebalance callbacks
  // served here (ConsumeBatch's way) until it is done or the time is up.
  const absl::Time deadline = absl::Now() + timeout;
  QueuePtr events(rd_kafka_queue_new(handle_.get()));
  absl::Status status;
  if (rd_kafka_error_t* error =
          rd_kafka_consumer_close_queue(handle_.get(), events.get())) {
    status = absl::UnavailableError(
        absl::StrCat("close: ", rd_kafka_error_string(error)));
    rd_kafka_error_destroy(error);
  }
  rd_kafka_message_t* messages[64];
  while (status.ok() && !rd_kafka_consumer_closed(handle_.get())) {
    const int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left_ms <= 0) {
      status = absl::DeadlineExceededError(absl::StrCat(
          "leaving the group took longer than ", absl::FormatDuration(timeout),
          "; closed without finishing"));
      break;
    }
    const ssize_t n = rd_kafka_consume_batch_queue(
        events.get(), static_cast<int>(std::min<int64_t>(left_ms, 100)),
        messages, 64);
    for (ssize_t i = 0; i < n; ++i) rd_kafka_message_destroy(messages[i]);
  }
  events.reset();
  // rd_kafka_destroy can wait for good (librdkafka 2.0.2: a broker thread
  // that never ends after the subscribed topic was deleted), so it runs on a
  // thread of its own for the time left (at least a second); past that, the
  // handle is left to the process's exit.
  const int flags = rd_kafka_consumer_closed(handle_.get())
                        ? 0
                        : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE;
  auto destroyed = std::make_shared<absl::Notification>();
  std::thread([rk = handle_.release(), flags, destroyed] {
    rd_kafka_destroy_flags(rk, flags);
    destroyed->Notify();
  }).detach();
  if (!destroyed->WaitForNotificationWithTimeout(
          std::max(deadline - absl::Now(), absl::Seconds(1)))) {
    const absl::Status stuck = absl::DeadlineExceededError(
        "librdkafka did not release the consumer in time; left to the exit");
    if (status.ok()) status = stuck;
  }
  return status;
}

}  // namespace ebb::kafka
