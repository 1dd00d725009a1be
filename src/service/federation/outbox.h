// Outgoing transactions (server-server spec "Transactions"): what this server sends to a
// room is queued durably for each other server in the room, and one sender per destination
// delivers its queue in order with PUT /_matrix/federation/v1/send/{txnId}, retrying with
// back-off while the destination cannot be reached. Queued rows go only when the
// destination has answered 200, so a restart loses nothing.
#pragma once

#include "core/config.h"
#include "service/federation/metrics.h"
#include "service/federation/sender.h"
#include "storage/database.h"
#include "storage/federation_queue_store.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace despatch {

// The spec's limits on one transaction.
inline constexpr int kMaxTxnPdus = 50;
inline constexpr int kMaxTxnEdus = 100;

// The servers that must receive `pdus`, sent to a room whose joined members (after the
// events) are `joined`: each joined user's server and, for an invite, kick or ban, the
// target's server; never `own`, nor the one other server whose users sent all of pdus (it
// made them: a member event relayed as the room's resident), and only those `allowed`.
// Sorted, each once.
std::vector<std::string> destinations_for(const std::vector<std::string>& joined,
                                          const std::vector<json::object>& pdus, const std::string& own,
                                          const ServerAllowList& allowed);

// The transaction ID of a batch: its first and last queue ids, which are unique per
// destination (ids are never reused) and the same for every retry of the batch.
std::string transaction_id(const storage::QueueBatch& batch);

class Outbox {
 public:
  // Back-off while a destination cannot be reached: first wait, and the longest.
  struct Retry {
    std::chrono::milliseconds first{1000};
    std::chrono::milliseconds max{600000};
  };
  Outbox(const Config& config, storage::Database& db, FederationSender& sender, FederationMetrics& metrics,
         boost::asio::io_context& io, Retry retry);

  // RoomService's sent listener: queues the events this server sent to room_id for every
  // other server in the room (durably, in order, off the caller's thread) and wakes their
  // senders.
  void on_sent(const std::string& room_id, const std::vector<json::object>& pdus);
  // Inside the commit of the events themselves (RoomService::add_sent_queue): queues pdus
  // for the room's other servers in the same transaction, so that no acknowledged event can
  // be lost to them by a crash after its commit. on_sent then only wakes their senders.
  Status enqueue_in(storage::Txn& t, const std::string& room_id, const std::vector<json::object>& pdus);
  // Set once the rooms service calls enqueue_in (before serving).
  void queue_in_commits() { in_commit_ = true; }
  // Inside a write job: queues an EDU for one server in the job's own transaction (only
  // allowed servers, never this one), so that it goes out if and only if the job commits;
  // wake_queued(commit) after that commit starts the senders. `commit` names the job among
  // those that may be in flight at once (a room's commits are named by the room itself).
  // EDUs of one destination go out in the order they were queued.
  Status enqueue_edu_in(storage::Txn& t, const std::string& commit, const std::string& destination,
                        const json::object& edu);
  // After the commit named `commit` (whether it succeeded or not): wakes the destinations
  // it queued for.
  void wake_queued(const std::string& commit);
  // Queues an EDU for every other server with a user joined to room_id.
  void send_edu_to_room(const std::string& room_id, json::object edu);
  // Queues an EDU for one server.
  void send_edu(const std::string& destination, json::object edu);
  // Start-up: resumes the senders of destinations with rows waiting (dropping the rows of
  // servers no longer on the allow-list), and sends every other server sharing a room an
  // empty transaction, so that it hears this server is back (see heard_from).
  void start();
  // A destination was heard from (it sent us a transaction): a sender waiting out a
  // back-off tries again now.
  void heard_from(const std::string& server);

 private:
  struct Pending {
    std::vector<std::string> destinations;
    storage::QueueKind kind;
    std::string json;
  };
  struct Destination {
    bool running = false;
    bool dirty = false;  // rows were queued while the sender was running
    std::chrono::milliseconds backoff{0};
    std::shared_ptr<boost::asio::steady_timer> timer;  // set while waiting out a back-off
  };
  std::vector<std::string> room_servers(const std::string& room_id);
  void push(std::vector<Pending> items);
  boost::asio::awaitable<void> write_pending();
  void wake(const std::string& destination);
  std::set<std::string> take_queued(const std::string& commit);
  boost::asio::awaitable<void> run(std::string destination);
  boost::asio::awaitable<bool> deliver(const std::string& destination, const storage::QueueBatch& batch);
  std::vector<std::string> servers_sharing_rooms();
  boost::asio::awaitable<void> announce(std::string destination);

  const Config& config_;
  storage::Database& db_;
  FederationSender& sender_;
  FederationMetrics& metrics_;
  boost::asio::io_context& io_;
  Retry retry_;
  ServerAllowList allow_;

  std::mutex mu_;
  // Destinations queued for inside commits not yet finished, by commit name (mu_). Kept
  // apart so that one commit's end never wakes a sender for another's rows before they are
  // committed: that sender would find nothing, stop, and the rows would wait for the next
  // event to the same server.
  std::map<std::string, std::set<std::string>> queued_in_commit_;
  bool in_commit_ = false;
  std::deque<Pending> pending_;  // queued by on_sent, not yet written
  bool writing_ = false;
  std::map<std::string, Destination> destinations_;
};

}  // namespace despatch
