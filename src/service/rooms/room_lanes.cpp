#include "service/rooms/room_lanes.h"

#include "core/log.h"
#include "service/notifier/notifier.h"
#include "service/records/audit.h"
#include "service/rooms/room_writer.h"
#include "storage/database.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

namespace despatch {

namespace asio = boost::asio;

namespace {

// A batch is bounded so that one very busy room still answers its first senders promptly.
constexpr size_t kMaxBatch = 256;

struct BatchOutcome {
  std::vector<Status> prepared;
  std::vector<std::optional<json::object>> refusals;
  std::vector<std::optional<json::object>> classification_refusals;
};

// Runs each job's preparation in order; a job that fails (or throws) leaves no trace.
BatchOutcome prepare_batch(RoomWriter& w, std::deque<RoomLanes::Job>& batch) {
  BatchOutcome out;
  for (auto& job : batch) {
    w.begin_job();
    Status st = Error::internal("room job failed");
    try {
      st = job.prepare(w);
    } catch (const std::exception& e) {
      DS_LOG(kError, "room job threw: {}", e.what());
    }
    w.end_job(st.ok());
    out.prepared.push_back(std::move(st));
    out.refusals.push_back(w.take_keeper_refusal());
    out.classification_refusals.push_back(w.take_classification_refusal());
  }
  return out;
}

// Why a job failed: its own preparation, else the batch's commit; nullptr when it succeeded.
const Error* failure(const Status& prepared, const std::optional<Error>& commit_error) {
  if (!prepared.ok()) return &prepared.error();
  return commit_error ? &*commit_error : nullptr;
}

// An attempt to remove or silence the records keeper, refused by RoomWriter, is audited as
// suspicious.
std::function<Result<int64_t>(storage::Txn&)> refusal_audit(const json::object& details) {
  std::string actor(details.at("sender").as_string());
  DS_LOG(kWarn, "refused {}'s attempt ({}) to remove the records keeper from {}", actor,
         std::string(details.at("attempt").as_string()), std::string(details.at("room_id").as_string()));
  return [actor, details](storage::Txn& t) -> Result<int64_t> {
    return audit_append(t, actor, "suspicious.keeper_removal", "", details);
  };
}

// An event refused for its classification is audited as suspicious (what was tried, never
// the refused text).
std::function<Result<int64_t>(storage::Txn&)> classification_audit(const json::object& details) {
  std::string actor(details.at("sender").as_string());
  return [actor, details](storage::Txn& t) -> Result<int64_t> {
    return audit_append(t, actor, "suspicious.classification", "", details);
  };
}

// A refused attempt is also a suspicious-activity signal (sender: who tried).
void report_signal(AlertService* alerts, const char* name, const json::object& details) {
  if (alerts) alerts->signal(name, std::string(details.at("sender").as_string()), details);
}

}  // namespace

std::shared_ptr<RoomLanes::Lane> RoomLanes::lane(const std::string& room_id) {
  auto& l = lanes_[room_id];
  if (!l) l = std::make_shared<Lane>();
  return l;
}

void RoomLanes::submit(const std::string& room_id, const asio::any_io_executor& ex, Job job) {
  std::shared_ptr<Lane> l;
  {
    std::lock_guard lock(mu_);
    l = lane(room_id);
  }
  {
    std::lock_guard lock(l->mu);
    l->queue.push_back(std::move(job));
    if (l->active) return;
    l->active = true;
  }
  asio::co_spawn(ex, drain(room_id, std::move(l)), asio::detached);
}

asio::awaitable<void> RoomLanes::drain(std::string room_id, std::shared_ptr<Lane> lane) {
  for (;;) {
    std::deque<Job> batch;
    {
      std::lock_guard lock(lane->mu);
      if (lane->queue.empty()) {
        lane->active = false;
        co_return;
      }
      while (!lane->queue.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(lane->queue.front()));
        lane->queue.pop_front();
      }
    }
    // The writer lives across the commit: the write job runs its steps while this waits.
    auto w = std::make_unique<RoomWriter>(rooms_, room_id, lane->cache, db_.read());
    BatchOutcome out = prepare_batch(*w, batch);
    std::optional<Error> commit_error;
    if (!w->empty()) {
      RoomWriter* wp = w.get();
      auto r = co_await db_.transact<Ok>([wp](storage::Txn& t) -> Status { return wp->commit(t); });
      if (r.ok()) {
        w->committed();
      } else {
        commit_error = r.error();
        lane->cache.reset();  // what the batch prepared was never written: reload next time
      }
    }
    if (!commit_error) {
      notifier_.notify_users({w->wake().begin(), w->wake().end()});
      if (!w->sent().empty()) rooms_.notify_sent(room_id, w->sent());
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (out.refusals[i]) {
        auto a = co_await db_.transact<int64_t>(refusal_audit(*out.refusals[i]));
        if (!a.ok()) DS_LOG(kError, "cannot audit a refused keeper removal: {}", a.error().message);
        report_signal(rooms_.alerts(), "keeper.removal", *out.refusals[i]);
      }
      if (out.classification_refusals[i]) {
        auto a = co_await db_.transact<int64_t>(classification_audit(*out.classification_refusals[i]));
        if (!a.ok()) DS_LOG(kError, "cannot audit a refused classification: {}", a.error().message);
        report_signal(rooms_.alerts(), "classification.refused", *out.classification_refusals[i]);
      }
      batch[i].finish(failure(out.prepared[i], commit_error));
    }
  }
}

void RoomLanes::run_blocking(const std::string& room_id, Job job) {
  std::shared_ptr<Lane> l;
  {
    std::lock_guard lock(mu_);
    l = lane(room_id);
  }
  {
    std::lock_guard lock(l->mu);
    if (l->active) {
      Error busy = Error::internal("the room is being written to");
      job.finish(&busy);
      return;
    }
    l->active = true;
  }
  RoomWriter w(rooms_, room_id, l->cache, db_.read());
  std::deque<Job> batch;
  batch.push_back(std::move(job));
  BatchOutcome out = prepare_batch(w, batch);
  std::optional<Error> commit_error;
  if (!w.empty()) {
    auto r = db_.transact_blocking<Ok>([&w](storage::Txn& t) -> Status { return w.commit(t); });
    if (r.ok()) w.committed();
    else {
      commit_error = r.error();
      l->cache.reset();
    }
  }
  if (!commit_error) {
    notifier_.notify_users({w.wake().begin(), w.wake().end()});
    if (!w.sent().empty()) rooms_.notify_sent(room_id, w.sent());
  }
  if (out.refusals[0]) {
    (void)db_.transact_blocking<int64_t>(refusal_audit(*out.refusals[0]));
    report_signal(rooms_.alerts(), "keeper.removal", *out.refusals[0]);
  }
  if (out.classification_refusals[0]) {
    (void)db_.transact_blocking<int64_t>(classification_audit(*out.classification_refusals[0]));
    report_signal(rooms_.alerts(), "classification.refused", *out.classification_refusals[0]);
  }
  batch[0].finish(failure(out.prepared[0], commit_error));
  bool more = false;
  {
    std::lock_guard lock(l->mu);
    l->active = false;
    more = !l->queue.empty();
  }
  if (more) DS_LOG(kError, "room jobs for {} queued during a blocking job wait for the next", room_id);
}

}  // namespace despatch
