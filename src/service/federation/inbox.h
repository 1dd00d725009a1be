// Incoming transactions (server-server spec "Transactions", "Checks performed on receipt of
// a PDU", "EDUs"): PUT /_matrix/federation/v1/send/{txnId} from another server. Each PDU is
// checked (room, size, signatures, content hash), its missing prev events fetched with
// get_missing_events and its missing auth events with event_auth, then handed to
// RoomService::receive_events room by room, in order. EDUs go to typing, receipts,
// to-device messages and device lists.
#pragma once

#include "core/config.h"
#include "service/account/account_service.h"
#include "service/federation/metrics.h"
#include "service/federation/outbox.h"
#include "service/federation/remote_keys.h"
#include "service/federation/sender.h"
#include "service/federation/server_keys.h"
#include "service/keys/key_service.h"
#include "service/notifier/notifier.h"
#include "service/rooms/room_service.h"
#include "service/sync/presence.h"
#include "service/sync/typing.h"
#include "storage/database.h"

#include <boost/asio/awaitable.hpp>

#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace despatch {

// A transaction body as sent: its PDUs and EDUs, not yet looked at one by one.
struct TransactionBody {
  std::vector<json::value> pdus;
  std::vector<json::value> edus;
};

// Checks a transaction's shape and limits: an object whose `pdus` is an array of at most 50
// and whose `edus` (optional) is an array of at most 100; `origin`, when given, must be
// the server that signed the request. 400 M_BAD_JSON otherwise. Entries are not checked.
Result<TransactionBody> parse_transaction(const json::value& body, const std::string& origin);

// A PDU that passed the checks that need no room state: its room and version, its ID, and
// the event itself (redacted when its content hash did not match).
struct CheckedPdu {
  std::string room_id, room_version, event_id;
  json::object pdu;
  bool redacted = false;  // the content hash did not match: only the redacted form is used
};

// The checks of one PDU that need neither keys nor room state: an object in a room this
// server knows (`room_version` gives its version, or an error for an unknown room), within
// the size limits, with a valid sender whose server is on the allow-list. Errors say why,
// for the transaction's answer.
Result<CheckedPdu> precheck_pdu(const json::value& v,
                                const std::function<Result<std::string>(const std::string& room_id)>& room_version,
                                const ServerAllowList& allow);
// The servers whose signatures the PDU needs: the sender's, and in v1-2 the event ID's.
std::vector<std::string> required_signers(const CheckedPdu& p);
// The content hash: a mismatch redacts the PDU (spec: the redacted form is used from then
// on); a missing or malformed hash is an error.
Status apply_content_hash(CheckedPdu& p);

class Inbox {
 public:
  Inbox(const Config& config, storage::Database& db, RoomService& rooms, ServerKeys& keys, FederationSender& sender,
        FederationMetrics& metrics, Notifier& notifier, Typing& typing, Presence& presence, AccountService& account,
        KeyService& key_service, Outbox* outbox);

  // Answers PUT /send/{txn_id} from origin: {"pdus": {event_id: {} or {"error": why}}}.
  // The same txn_id from the same origin within the last kRememberedTxns of that origin's
  // transactions (kept in memory: a restart forgets them, and PDUs already stored come back
  // as duplicates) gets the first answer again without anything being done.
  boost::asio::awaitable<Result<json::object>> receive(const std::string& origin, const std::string& txn_id,
                                                       const json::value& body);

  static constexpr size_t kRememberedTxns = 256;

  // Federation on: device list and cross-signing EDUs update the cache of remote keys.
  void set_remote_keys(RemoteKeys* r) { remote_keys_ = r; }

 private:
  using Answers = json::object;
  // Checked PDUs by room, each room's in the order sent; rooms in order of first mention.
  using RoomBatches = std::vector<std::pair<std::string, std::vector<CheckedPdu>>>;
  boost::asio::awaitable<void> receive_rooms(const std::string& origin, RoomBatches& rooms, Answers& answers);
  boost::asio::awaitable<void> receive_room(const std::string& origin, const std::string& room_id,
                                            std::vector<CheckedPdu> pdus, Answers& answers);
  boost::asio::awaitable<std::vector<CheckedPdu>> fetch_missing_prev(const std::string& origin,
                                                                      const std::string& room_id,
                                                                      const std::vector<std::string>& latest);
  boost::asio::awaitable<std::vector<CheckedPdu>> fetch_auth_chain(const std::string& origin,
                                                                    const std::string& room_id,
                                                                    const std::string& event_id);
  boost::asio::awaitable<Result<CheckedPdu>> check(const json::value& v);
  bool known(const std::string& event_id);
  boost::asio::awaitable<void> receive_edu(const std::string& origin, const json::value& edu);
  boost::asio::awaitable<void> typing_edu(const std::string& origin, const json::object& content);
  void presence_edu(const std::string& origin, const json::object& content);
  boost::asio::awaitable<void> receipt_edu(const std::string& origin, const json::object& content);
  boost::asio::awaitable<void> to_device_edu(const std::string& origin, const json::object& content);
  boost::asio::awaitable<void> device_list_edu(const std::string& origin, const json::object& content);

  const Config& config_;
  storage::Database& db_;
  RoomService& rooms_;
  ServerKeys& keys_;
  FederationSender& sender_;
  FederationMetrics& metrics_;
  Notifier& notifier_;
  Typing& typing_;
  Presence& presence_;
  AccountService& account_;
  KeyService& key_service_;
  Outbox* outbox_;
  RemoteKeys* remote_keys_ = nullptr;
  ServerAllowList allow_;

  std::mutex mu_;
  std::map<std::string, std::deque<std::pair<std::string, json::object>>> seen_;  // origin -> (txn, answer)
};

}  // namespace despatch
