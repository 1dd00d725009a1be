#include "service/federation/inbox.h"

#include "service/federation/event_signatures.h"

#include "core/ids.h"
#include "core/log.h"
#include "service/rooms/event_format.h"
#include "service/rooms/event_limits.h"
#include "service/rooms/room_version.h"
#include "service/rooms/room_writer.h"
#include "service/rooms/server_acl.h"
#include "storage/event_store.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <set>

namespace despatch {

namespace asio = boost::asio;

namespace {

int64_t depth_of(const json::object& pdu) {
  auto* d = pdu.if_contains("depth");
  return d && d->is_int64() ? d->as_int64() : 0;
}

// Oldest first: depth is the order the graph gives; queue order breaks ties.
void sort_topologically(std::vector<CheckedPdu>& pdus) {
  std::stable_sort(pdus.begin(), pdus.end(),
                   [](const CheckedPdu& a, const CheckedPdu& b) { return depth_of(a.pdu) < depth_of(b.pdu); });
}

}  // namespace

Result<TransactionBody> parse_transaction(const json::value& body, const std::string& origin) {
  if (!body.is_object()) return Error::bad_json("A transaction is a JSON object");
  const json::object& o = body.as_object();
  if (auto* from = o.if_contains("origin"); from && !(from->is_string() && from->as_string() == origin))
    return Error::bad_json("The transaction's origin is not the server that signed the request");
  auto* pdus = o.if_contains("pdus");
  if (!pdus || !pdus->is_array()) return Error::bad_json("pdus must be an array");
  if (pdus->as_array().size() > static_cast<size_t>(kMaxTxnPdus))
    return Error::bad_json("A transaction carries at most 50 PDUs");
  TransactionBody out;
  out.pdus.assign(pdus->as_array().begin(), pdus->as_array().end());
  if (auto* edus = o.if_contains("edus"); edus && !edus->is_null()) {
    if (!edus->is_array()) return Error::bad_json("edus must be an array");
    if (edus->as_array().size() > static_cast<size_t>(kMaxTxnEdus))
      return Error::bad_json("A transaction carries at most 100 EDUs");
    out.edus.assign(edus->as_array().begin(), edus->as_array().end());
  }
  return out;
}

Result<CheckedPdu> precheck_pdu(const json::value& v,
                                const std::function<Result<std::string>(const std::string& room_id)>& room_version,
                                const ServerAllowList& allow) {
  if (!v.is_object()) return Error::bad_json("The PDU is not a JSON object");
  CheckedPdu p;
  p.pdu = v.as_object();
  auto* room = json_string_at(p.pdu, "room_id");
  if (!room || !is_valid_room_id(*room)) return Error::bad_json("The PDU has no valid room_id");
  p.room_id = *room;
  auto version = room_version(p.room_id);
  if (!version.ok()) return Error::not_found("Unknown room " + p.room_id);
  p.room_version = *version;
  const RoomVersion* rv = find_room_version(p.room_version);
  if (!rv) return Error::make(400, errc::kUnsupportedRoomVersion, "Unsupported room version");
  p.event_id = compute_event_id(p.pdu, p.room_version);
  if (p.event_id.empty() || !is_valid_event_id(p.event_id)) return Error::bad_json("The PDU has no valid event ID");
  DS_TRY(check_event_size(p.pdu));
  auto* sender = json_string_at(p.pdu, "sender");
  if (!sender || !is_valid_user_id(*sender)) return Error::bad_json("The PDU has no valid sender");
  std::string server(server_name_of(*sender));
  if (!allow.allows(server)) return Error::forbidden(server + " is not on this server's federation allow-list");
  if (rv->event_ids == EventIdFormat::kOpaque && !allow.allows(server_name_of(p.event_id)))
    return Error::forbidden("The event ID's server is not on this server's federation allow-list");
  auto* sigs = p.pdu.if_contains("signatures");
  if (!sigs || !sigs->is_object()) return Error::forbidden("The PDU is not signed");
  return p;
}

std::vector<std::string> required_signers(const CheckedPdu& p) {
  return required_signers(p.pdu, p.event_id, p.room_version);
}

Status apply_content_hash(CheckedPdu& p) {
  Status st = verify_event_content_hash(p.pdu);
  if (st.ok()) return st;
  if (st.error().status != 403) return st;
  // The hash covers the full event: a mismatch means it was redacted (or altered) on the
  // way, so only what the signature covers is used (spec: "Checks performed on receipt").
  p.pdu = redact_event(p.pdu, p.room_version);
  p.redacted = true;
  return ok_status();
}

Inbox::Inbox(const Config& config, storage::Database& db, RoomService& rooms, ServerKeys& keys,
             FederationSender& sender, FederationMetrics& metrics, Notifier& notifier, Typing& typing,
             Presence& presence, AccountService& account, KeyService& key_service, Outbox* outbox)
    : config_(config), db_(db), rooms_(rooms), keys_(keys), sender_(sender), metrics_(metrics), notifier_(notifier),
      typing_(typing), presence_(presence), account_(account), key_service_(key_service), outbox_(outbox),
      allow_(config.federation.allow) {}

asio::awaitable<Result<CheckedPdu>> Inbox::check(const json::value& v) {
  auto lookup = [this](const std::string& room_id) { return rooms_.room_version(room_id); };
  DS_CO_ASSIGN(CheckedPdu p, precheck_pdu(v, lookup, allow_));
  DS_CO_TRY(co_await check_event_signatures(keys_, p.pdu, p.event_id, p.room_version));
  DS_CO_TRY(apply_content_hash(p));
  co_return p;
}

bool Inbox::known(const std::string& event_id) {
  auto f = db_.read().events().flags(event_id);
  return f.ok() && f->has_value();
}

asio::awaitable<Result<json::object>> Inbox::receive(const std::string& origin, const std::string& txn_id,
                                                     const json::value& body) {
  {
    std::lock_guard lock(mu_);
    if (auto it = seen_.find(origin); it != seen_.end())
      for (auto& [id, answer] : it->second)
        if (id == txn_id) {
          ++metrics_.txn_replayed;
          co_return answer;
        }
  }
  DS_CO_ASSIGN(TransactionBody txn, parse_transaction(body, origin));
  ++metrics_.txn_received;
  if (outbox_) outbox_->heard_from(origin);
  Answers answers;
  // Checked PDUs by room, each room's in the order sent; rooms in order of first mention.
  RoomBatches rooms;
  for (size_t i = 0; i < txn.pdus.size(); ++i) {
    ++metrics_.pdus_received;
    auto p = co_await check(txn.pdus[i]);
    // The room's ACL judges the server that sent the transaction (spec: per PDU).
    if (p.ok())
      if (auto acl = check_server_acl(db_.read(), p->room_id, origin); !acl.ok()) p = acl.error();
    if (!p.ok()) {
      ++metrics_.pdus_refused;
      // A PDU without an ID to answer by is named by its place in the transaction.
      std::string key;
      if (txn.pdus[i].is_object())
        if (auto* room = json_string_at(txn.pdus[i].as_object(), "room_id"); room && is_valid_room_id(*room)) {
          auto v = rooms_.room_version(std::string(*room));
          if (v.ok()) key = compute_event_id(txn.pdus[i].as_object(), *v);
        }
      if (key.empty()) key = "pdus[" + std::to_string(i) + "]";
      DS_LOG(kInfo, "federation: {} sent {} that was refused: {}", origin, key, p.error().message);
      answers[key] = json::object{{"error", p.error().message}};
      continue;
    }
    auto it = std::find_if(rooms.begin(), rooms.end(), [&](auto& r) { return r.first == p->room_id; });
    if (it == rooms.end()) it = rooms.insert(rooms.end(), {p->room_id, {}});
    it->second.push_back(std::move(*p));
  }
  co_await receive_rooms(origin, rooms, answers);
  for (auto& edu : txn.edus) {
    ++metrics_.edus_received;
    co_await receive_edu(origin, edu);
  }
  json::object reply{{"pdus", std::move(answers)}};
  {
    std::lock_guard lock(mu_);
    auto& list = seen_[origin];
    list.emplace_back(txn_id, reply);
    if (list.size() > kRememberedTxns) list.pop_front();
  }
  co_return reply;
}

// Rooms are independent, so their PDUs go to their lanes side by side and share the writer's
// commits: awaited one room after another, a transaction spread over 50 rooms cost 50 commits
// (fsyncs) in a row, and the sender's next transaction waited for all of them. Each room
// answers into its own object (the rooms may run on different I/O threads), merged at the end.
asio::awaitable<void> Inbox::receive_rooms(const std::string& origin, RoomBatches& rooms, Answers& answers) {
  // A transaction of EDUs alone has no rooms (awaiting an empty group left those unanswered).
  if (rooms.empty()) co_return;
  if (rooms.size() == 1) {
    co_await receive_room(origin, rooms[0].first, std::move(rooms[0].second), answers);
    co_return;
  }
  auto ex = co_await asio::this_coro::executor;
  std::vector<Answers> per_room(rooms.size());
  using Op = decltype(asio::co_spawn(ex, std::declval<asio::awaitable<void>>(), asio::deferred));
  std::vector<Op> ops;
  ops.reserve(rooms.size());
  for (size_t i = 0; i < rooms.size(); ++i)
    ops.push_back(asio::co_spawn(ex, receive_room(origin, rooms[i].first, std::move(rooms[i].second), per_room[i]),
                                 asio::deferred));
  auto [order, errors] = co_await asio::experimental::make_parallel_group(std::move(ops))
                             .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  for (auto& room_answers : per_room)
    for (auto& kv : room_answers) answers[kv.key()] = std::move(kv.value());
}

asio::awaitable<void> Inbox::receive_room(const std::string& origin, const std::string& room_id,
                                          std::vector<CheckedPdu> pdus, Answers& answers) {
  std::set<std::string> in_batch;
  for (auto& p : pdus) in_batch.insert(p.event_id);
  // Prev events neither stored nor in this transaction: asked of the origin, oldest first.
  std::vector<std::string> latest;
  for (auto& p : pdus)
    for (auto& prev : event_refs(p.pdu, "prev_events"))
      if (!in_batch.count(prev) && !known(prev)) {
        latest.push_back(p.event_id);
        break;
      }
  std::vector<CheckedPdu> earlier;
  if (!latest.empty()) earlier = co_await fetch_missing_prev(origin, room_id, latest);
  for (auto& e : earlier) in_batch.insert(e.event_id);
  // Auth events still unknown: the auth chain of the event that names them.
  std::vector<CheckedPdu> auth;
  for (auto* list : {&earlier, &pdus})
    for (auto& p : *list)
      for (auto& a : event_refs(p.pdu, "auth_events"))
        if (!in_batch.count(a) && !known(a)) {
          for (auto& c : co_await fetch_auth_chain(origin, room_id, p.event_id))
            if (!in_batch.count(c.event_id) && !known(c.event_id)) {
              in_batch.insert(c.event_id);
              auth.push_back(std::move(c));
            }
          break;
        }
  sort_topologically(auth);
  std::vector<json::object> ordered;
  for (auto* list : {&auth, &earlier})
    for (auto& p : *list) ordered.push_back(p.pdu);
  for (auto& p : pdus) ordered.push_back(p.pdu);
  auto results = co_await rooms_.receive_events(room_id, std::move(ordered), origin);
  if (!results.ok()) {
    for (auto& p : pdus) {
      ++metrics_.pdus_refused;
      answers[p.event_id] = json::object{{"error", results.error().message}};
    }
    co_return;
  }
  // One result per event handed over, in order: the transaction's own PDUs come last.
  size_t first = results->size() >= pdus.size() ? results->size() - pdus.size() : 0;
  for (size_t i = 0; i < pdus.size(); ++i) {
    auto& p = pdus[i];
    const Received* r = first + i < results->size() ? &(*results)[first + i] : nullptr;
    if (!r || r->verdict == Acceptance::kRejected) {
      std::string why = r ? r->reason : "Not processed";
      ++metrics_.pdus_refused;
      answers[p.event_id] = json::object{{"error", why}};
      continue;
    }
    ++metrics_.pdus_accepted;
    answers[p.event_id] = json::object{};
  }
  for (size_t i = 0; i < first; ++i)
    if ((*results)[i].verdict == Acceptance::kRejected)
      DS_LOG(kInfo, "federation: an event fetched from {} was refused: {}", origin, (*results)[i].reason);
}

asio::awaitable<std::vector<CheckedPdu>> Inbox::fetch_missing_prev(const std::string& origin,
                                                                   const std::string& room_id,
                                                                   const std::vector<std::string>& latest) {
  std::vector<CheckedPdu> out;
  auto extremities = db_.read().events().forward_extremities(room_id);
  json::array earliest, latest_ids;
  if (extremities.ok())
    for (auto& x : *extremities) earliest.emplace_back(json::string(x.event_id));
  for (auto& id : latest) latest_ids.emplace_back(json::string(id));
  // No depth bound (the spec's default, 0): a fork that split off below our extremities has
  // events shallower than any of them, and the limit bounds the walk anyway.
  json::object body{{"earliest_events", std::move(earliest)},
                    {"latest_events", std::move(latest_ids)},
                    {"limit", 10},
                    {"min_depth", 0}};
  const std::string method = "POST";
  std::string target = "/_matrix/federation/v1/get_missing_events/" + query_escape(room_id);
  auto res = co_await sender_.send(origin, method, target, json::value(std::move(body)));
  if (!res.ok() || res->status != 200 || !res->body.is_object()) {
    DS_LOG(kInfo, "federation: get_missing_events in {} from {} failed", room_id, origin);
    co_return out;
  }
  auto* events = res->body.as_object().if_contains("events");
  if (!events || !events->is_array()) co_return out;
  std::set<std::string> seen;
  for (auto& e : events->as_array()) {
    if (out.size() >= 10) break;
    auto p = co_await check(e);
    if (!p.ok() || p->room_id != room_id || known(p->event_id) || !seen.insert(p->event_id).second) continue;
    out.push_back(std::move(*p));
  }
  sort_topologically(out);
  co_return out;
}

asio::awaitable<std::vector<CheckedPdu>> Inbox::fetch_auth_chain(const std::string& origin,
                                                                 const std::string& room_id,
                                                                 const std::string& event_id) {
  std::vector<CheckedPdu> out;
  const std::string method = "GET";
  std::string target =
      "/_matrix/federation/v1/event_auth/" + query_escape(room_id) + "/" + query_escape(event_id);
  auto res = co_await sender_.send(origin, method, target, std::nullopt);
  if (!res.ok() || res->status != 200 || !res->body.is_object()) co_return out;
  auto* chain = res->body.as_object().if_contains("auth_chain");
  if (!chain || !chain->is_array()) co_return out;
  for (auto& e : chain->as_array()) {
    auto p = co_await check(e);
    if (p.ok() && p->room_id == room_id) out.push_back(std::move(*p));
  }
  co_return out;
}

}  // namespace despatch
