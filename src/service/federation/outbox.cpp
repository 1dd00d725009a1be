#include "service/federation/outbox.h"

#include "core/ids.h"
#include "core/log.h"
#include "service/common/time.h"
#include "service/rooms/server_acl.h"
#include "storage/membership_store.h"
#include "storage/room_store.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <set>

namespace despatch {

namespace asio = boost::asio;

namespace {

// The spec has events still sent to a server the room's ACL denies while it is resident
// (it must hear of its users' removal); a denied server with no user joined, such as the
// target of an invite, is not contacted.
Result<std::vector<std::string>> drop_acl_denied(storage::Stores& s, const std::string& room_id,
                                                 const std::vector<std::string>& joined,
                                                 std::vector<std::string> dests) {
  DS_ASSIGN(auto acl, room_server_acl(s, room_id));
  if (!acl) return dests;
  std::set<std::string> resident;
  for (auto& u : joined) resident.insert(std::string(server_name_of(u)));
  std::erase_if(dests, [&](const std::string& d) { return !resident.count(d) && !acl->allows(d); });
  return dests;
}

}  // namespace

std::vector<std::string> destinations_for(const std::vector<std::string>& joined,
                                          const std::vector<json::object>& pdus, const std::string& own,
                                          const ServerAllowList& allowed) {
  std::set<std::string> out;
  for (auto& user : joined) out.insert(std::string(server_name_of(user)));
  // The target of an invite, kick or ban is no longer (or not yet) joined, but its server
  // must hear of it.
  for (auto& pdu : pdus) {
    auto* type = json_string_at(pdu, "type");
    auto* key = json_string_at(pdu, "state_key");
    auto* sender = json_string_at(pdu, "sender");
    if (!type || *type != "m.room.member" || !key || !is_valid_user_id(*key)) continue;
    auto* content = pdu.if_contains("content");
    auto* m = content && content->is_object() ? json_string_at(content->as_object(), "membership") : nullptr;
    if (!m) continue;
    bool by_other = sender && *sender != *key;
    if (*m == "invite" || *m == "ban" || (*m == "leave" && by_other)) out.insert(std::string(server_name_of(*key)));
  }
  // Events all sent by users of one other server came from it (a join it handed this
  // server as the room's resident): that server has them, and may not hold the room yet.
  std::string maker;
  for (auto& pdu : pdus) {
    auto* sender = json_string_at(pdu, "sender");
    std::string server = sender ? std::string(server_name_of(*sender)) : std::string();
    if (server.empty() || server == own || (!maker.empty() && server != maker)) {
      maker.clear();
      break;
    }
    maker = server;
  }
  std::vector<std::string> result;
  for (auto& s : out)
    if (!s.empty() && s != own && s != maker && allowed.allows(s)) result.push_back(s);
  return result;
}

std::string transaction_id(const storage::QueueBatch& batch) {
  int64_t lo = INT64_MAX, hi = 0;
  for (auto* list : {&batch.pdus, &batch.edus})
    for (auto& i : *list) {
      lo = std::min(lo, i.id);
      hi = std::max(hi, i.id);
    }
  return std::to_string(lo) + "-" + std::to_string(hi);
}

Outbox::Outbox(const Config& config, storage::Database& db, FederationSender& sender, FederationMetrics& metrics,
               asio::io_context& io, Retry retry)
    : config_(config), db_(db), sender_(sender), metrics_(metrics), io_(io), retry_(retry),
      allow_(config.federation.allow) {}

std::vector<std::string> Outbox::room_servers(const std::string& room_id) {
  auto joined = db_.read().memberships().users_with(room_id, "join");
  if (!joined.ok()) {
    DS_LOG(kError, "federation: cannot read the members of {}: {}", room_id, joined.error().message);
    return {};
  }
  return *joined;
}

Status Outbox::enqueue_in(storage::Txn& t, const std::string& room_id, const std::vector<json::object>& pdus) {
  if (!config_.federation.enabled) return ok_status();
  // The members as of these events, from the transaction that writes them.
  DS_ASSIGN(auto joined, t.memberships().users_with(room_id, "join"));
  DS_ASSIGN(auto dests, drop_acl_denied(t, room_id, joined,
                                        destinations_for(joined, pdus, config_.server_name, allow_)));
  if (dests.empty()) return ok_status();
  int64_t ts = now_ms();
  for (auto& pdu : pdus) {
    std::string text = json::serialize(pdu);
    for (auto& d : dests) DS_TRY(t.federation_queue().enqueue(d, storage::QueueKind::kPdu, text, ts));
  }
  // Counted now: if the commit fails the backlog reads a little high until the next start.
  metrics_.queue_backlog += static_cast<int64_t>(dests.size() * pdus.size());
  std::lock_guard lock(mu_);
  queued_in_commit_[room_id].insert(dests.begin(), dests.end());
  return ok_status();
}

Status Outbox::enqueue_edu_in(storage::Txn& t, const std::string& commit, const std::string& destination,
                              const json::object& edu) {
  if (!config_.federation.enabled || destination == config_.server_name || !allow_.allows(destination))
    return ok_status();
  DS_TRY(t.federation_queue().enqueue(destination, storage::QueueKind::kEdu, json::serialize(edu), now_ms()));
  metrics_.queue_backlog += 1;
  std::lock_guard lock(mu_);
  queued_in_commit_[commit].insert(destination);
  return ok_status();
}

std::set<std::string> Outbox::take_queued(const std::string& commit) {
  std::lock_guard lock(mu_);
  auto node = queued_in_commit_.extract(commit);
  return node ? std::move(node.mapped()) : std::set<std::string>{};
}

void Outbox::wake_queued(const std::string& commit) {
  for (auto& d : take_queued(commit)) wake(d);
}

void Outbox::on_sent(const std::string& room_id, const std::vector<json::object>& pdus) {
  if (!config_.federation.enabled) return;
  // The room's lane runs one commit at a time, so what is queued under its name is this one's.
  if (in_commit_) {
    wake_queued(room_id);
    return;
  }
  auto joined = room_servers(room_id);
  auto dests = drop_acl_denied(db_.read(), room_id, joined, destinations_for(joined, pdus, config_.server_name, allow_));
  if (!dests.ok()) {
    DS_LOG(kError, "federation: cannot read the server ACL of {}: {}", room_id, dests.error().message);
    return;
  }
  if (dests->empty()) return;
  std::vector<Pending> items;
  for (auto& pdu : pdus) items.push_back({*dests, storage::QueueKind::kPdu, json::serialize(pdu)});
  push(std::move(items));
}

void Outbox::send_edu_to_room(const std::string& room_id, json::object edu) {
  if (!config_.federation.enabled) return;
  auto dests = destinations_for(room_servers(room_id), {}, config_.server_name, allow_);
  if (dests.empty()) return;
  std::vector<Pending> items;
  items.push_back({std::move(dests), storage::QueueKind::kEdu, json::serialize(edu)});
  push(std::move(items));
}

void Outbox::send_edu(const std::string& destination, json::object edu) {
  if (!config_.federation.enabled || destination == config_.server_name || !allow_.allows(destination)) return;
  std::vector<Pending> items;
  items.push_back({{destination}, storage::QueueKind::kEdu, json::serialize(edu)});
  push(std::move(items));
}

// co_spawn may start the coroutine at once on this thread, so it is never called with mu_ held.
void Outbox::push(std::vector<Pending> items) {
  {
    std::lock_guard lock(mu_);
    for (auto& i : items) pending_.push_back(std::move(i));
    if (writing_) return;
    writing_ = true;
  }
  asio::co_spawn(io_, write_pending(), asio::detached);
}

// One writer of the queue at a time, taking everything queued meanwhile as one job, so the
// rows keep the order on_sent saw (a room's lane calls it in commit order).
asio::awaitable<void> Outbox::write_pending() {
  for (;;) {
    std::vector<Pending> items;
    {
      std::lock_guard lock(mu_);
      if (pending_.empty()) {
        writing_ = false;
        co_return;
      }
      items.assign(std::make_move_iterator(pending_.begin()), std::make_move_iterator(pending_.end()));
      pending_.clear();
    }
    int64_t ts = now_ms();
    auto job = [&items, ts](storage::Txn& t) -> Result<int64_t> {
      int64_t rows = 0;
      for (auto& i : items)
        for (auto& d : i.destinations) {
          DS_TRY(t.federation_queue().enqueue(d, i.kind, i.json, ts));
          ++rows;
        }
      return rows;
    };
    auto r = co_await db_.transact<int64_t>(job);
    if (!r.ok()) {
      // Nothing to retry with: the commit itself failed. The events stay in the room; the
      // destinations can fetch them (get_missing_events) when the next one arrives.
      DS_LOG(kError, "federation: cannot queue {} item(s) for sending: {}", items.size(), r.error().message);
      continue;
    }
    metrics_.queue_backlog += *r;
    std::set<std::string> dests;
    for (auto& i : items) dests.insert(i.destinations.begin(), i.destinations.end());
    for (auto& d : dests) wake(d);
  }
}

void Outbox::start() {
  if (!config_.federation.enabled) return;
  auto dests = db_.read().federation_queue().destinations();
  if (!dests.ok()) {
    DS_LOG(kError, "federation: cannot read the outgoing queues: {}", dests.error().message);
    return;
  }
  for (auto& d : *dests) {
    if (!allow_.allows(d)) {
      DS_LOG(kWarn, "federation: {} is no longer on the allow-list; dropping what was queued for it", d);
      auto n = db_.read().federation_queue().backlog(d);
      auto drop = db_.transact_blocking<Ok>([&d](storage::Txn& t) -> Status {
        for (;;) {
          DS_ASSIGN(auto b, t.federation_queue().batch(d, 1000, 1000));
          if (b.empty()) return ok_status();
          std::vector<int64_t> ids;
          for (auto& i : b.pdus) ids.push_back(i.id);
          for (auto& i : b.edus) ids.push_back(i.id);
          DS_TRY(t.federation_queue().remove(d, ids));
        }
      });
      if (!drop.ok()) DS_LOG(kError, "federation: cannot drop the queue of {}: {}", d, drop.error().message);
      (void)n;
      continue;
    }
    auto n = db_.read().federation_queue().backlog(d);
    if (n.ok()) metrics_.queue_backlog += *n;
    DS_LOG(kInfo, "federation: resuming delivery to {} ({} waiting)", d, n.ok() ? *n : -1);
    wake(d);
  }
  // A server that could not reach this one while it was down waits out its back-off (up to
  // Retry::max) before it tries again, and nothing it does would shorten that: a server that
  // is sent nothing hears that this one is back from an empty transaction (the resumed ones
  // hear it from their backlog).
  std::set<std::string> resumed(dests->begin(), dests->end());
  for (auto& d : servers_sharing_rooms())
    if (!resumed.count(d)) asio::co_spawn(io_, announce(d), asio::detached);
}

// The other servers with a user joined to a room that a user of this server is joined to.
std::vector<std::string> Outbox::servers_sharing_rooms() {
  storage::Stores& read = db_.read();
  auto rooms = read.rooms().all_rooms();
  if (!rooms.ok()) {
    DS_LOG(kError, "federation: cannot list the rooms: {}", rooms.error().message);
    return {};
  }
  std::set<std::string> out;
  for (auto& room : *rooms) {
    auto joined = read.memberships().users_with(room.room_id, "join");
    if (!joined.ok()) continue;
    bool resident = std::any_of(joined->begin(), joined->end(),
                                [&](const std::string& u) { return server_name_of(u) == config_.server_name; });
    if (!resident) continue;
    for (auto& d : destinations_for(*joined, {}, config_.server_name, allow_)) out.insert(d);
  }
  return {out.begin(), out.end()};
}

// One empty transaction, not retried: if the destination is down too, it will hear from
// this server with the next event sent to it.
asio::awaitable<void> Outbox::announce(std::string destination) {
  json::object body{{"origin", config_.server_name}, {"origin_server_ts", now_ms()}, {"pdus", json::array{}}};
  const std::string method = "PUT";
  std::string target = "/_matrix/federation/v1/send/" + query_escape("start-" + std::to_string(now_ms()));
  auto res = co_await sender_.send(destination, method, target, json::value(std::move(body)));
  if (!res.ok() || res->status != 200)
    DS_LOG(kInfo, "federation: {} did not take the transaction saying this server is back", destination);
}

void Outbox::heard_from(const std::string& server) {
  std::lock_guard lock(mu_);
  auto it = destinations_.find(server);
  if (it == destinations_.end()) return;
  it->second.backoff = std::chrono::milliseconds(0);
  if (it->second.timer) it->second.timer->cancel();
}

void Outbox::wake(const std::string& destination) {
  {
    std::lock_guard lock(mu_);
    Destination& d = destinations_[destination];
    if (d.running) {
      d.dirty = true;
      return;
    }
    d.running = true;
    d.dirty = false;
  }
  asio::co_spawn(io_, run(destination), asio::detached);
}

asio::awaitable<void> Outbox::run(std::string destination) {
  std::optional<storage::QueueBatch> batch;  // kept until acknowledged: retries send the same
  for (;;) {
    if (!batch) {
      auto b = db_.read().federation_queue().batch(destination, kMaxTxnPdus, kMaxTxnEdus);
      if (!b.ok()) {
        DS_LOG(kError, "federation: cannot read the queue of {}: {}", destination, b.error().message);
      } else if (!b->empty()) {
        batch = std::move(*b);
      }
    }
    if (!batch) {
      std::lock_guard lock(mu_);
      Destination& d = destinations_[destination];
      if (!d.dirty) {
        d.running = false;
        co_return;
      }
      d.dirty = false;
      continue;
    }
    if (co_await deliver(destination, *batch)) {
      batch.reset();
      std::lock_guard lock(mu_);
      destinations_[destination].backoff = std::chrono::milliseconds(0);
      continue;
    }
    auto timer = std::make_shared<asio::steady_timer>(io_);
    std::chrono::milliseconds wait;
    {
      std::lock_guard lock(mu_);
      Destination& d = destinations_[destination];
      d.backoff = d.backoff.count() == 0 ? retry_.first : std::min(d.backoff * 2, retry_.max);
      wait = d.backoff;
      d.timer = timer;
    }
    DS_LOG(kInfo, "federation: {} unreachable; trying again in {} ms", destination, wait.count());
    timer->expires_after(wait);
    (void)co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    std::lock_guard lock(mu_);
    destinations_[destination].timer.reset();
  }
}

// Sends one transaction; true when the destination acknowledged it (its rows are then
// deleted). Errors the destination reports for single PDUs are logged, not retried: the
// spec leaves them to the sender's judgement, and resending a refused event changes nothing.
asio::awaitable<bool> Outbox::deliver(const std::string& destination, const storage::QueueBatch& batch) {
  json::array pdus, edus;
  std::vector<int64_t> ids;
  for (auto& i : batch.pdus) {
    auto v = json::parse(i.json);
    pdus.push_back(std::move(v));
    ids.push_back(i.id);
  }
  for (auto& i : batch.edus) {
    edus.push_back(json::parse(i.json));
    ids.push_back(i.id);
  }
  std::string txn = transaction_id(batch);
  json::object body{{"origin", config_.server_name}, {"origin_server_ts", now_ms()}, {"pdus", std::move(pdus)}};
  if (!edus.empty()) body["edus"] = std::move(edus);
  const std::string method = "PUT";
  std::string target = "/_matrix/federation/v1/send/" + query_escape(txn);
  auto res = co_await sender_.send(destination, method, target, json::value(std::move(body)));
  if (!res.ok() || res->status != 200) {
    ++metrics_.txn_send_failures;
    if (res.ok())
      DS_LOG(kWarn, "federation: transaction {} to {} answered {}: {}", txn, destination, res->status,
             json::serialize(res->body));
    co_return false;
  }
  if (res->body.is_object())
    if (auto* answers = res->body.as_object().if_contains("pdus"); answers && answers->is_object())
      for (auto& [event_id, answer] : answers->as_object())
        if (answer.is_object())
          if (auto* e = answer.as_object().if_contains("error"))
            DS_LOG(kWarn, "federation: {} refused {}: {}", destination, std::string(event_id), json::serialize(*e));
  auto job = [&destination, &ids](storage::Txn& t) -> Status { return t.federation_queue().remove(destination, ids); };
  auto r = co_await db_.transact<Ok>(job);
  if (!r.ok()) {
    // Sent again later under the same ID, which the destination recognises.
    DS_LOG(kError, "federation: cannot mark transaction {} to {} as delivered: {}", txn, destination,
           r.error().message);
    co_return false;
  }
  ++metrics_.txn_sent;
  metrics_.pdus_sent += static_cast<int64_t>(batch.pdus.size());
  metrics_.edus_sent += static_cast<int64_t>(batch.edus.size());
  metrics_.queue_backlog -= static_cast<int64_t>(ids.size());
  co_return true;
}

}  // namespace despatch
