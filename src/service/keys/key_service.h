// End-to-end encryption support: the server stores and hands out device keys, one-time and
// fallback keys, cross-signing keys and signatures, carries to-device messages, and tells
// clients whose device lists changed. It never sees plaintext.
#pragma once

#include "service/notifier/notifier.h"
#include "storage/database.h"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace despatch {

struct DeviceListDelta {
  std::set<std::string> changed, left;
};

// A device the server itself runs (the records keeper). To-device messages for it are
// handed over inside the sending write job instead of being queued, and it tops up its
// one-time keys inside the claiming job. Both run on the writer thread; an error fails the
// job (and so the client's request), so implementations fail only on database errors.
// They take the job's Conn until the records keeper moves to stores.
class ServerDevice {
 public:
  virtual ~ServerDevice() = default;
  virtual const std::string& user_id() const = 0;
  virtual const std::string& device_id() const = 0;
  virtual Status receive_to_device(storage::Conn& c, const std::string& sender,
                                   const std::string& type, const json::object& content) = 0;
  virtual Status keys_claimed(storage::Conn& c) = 0;
};

// What the keys service asks of federation (service/federation/remote_keys.h implements
// it; unset when federation is off): the keys of users of other servers, and to-device
// messages for them.
class KeyFederation {
 public:
  virtual ~KeyFederation() = default;
  // /keys/query for users of other servers (user -> devices, empty: all): the part of the
  // answer for them, {device_keys, master_keys, self_signing_keys, failures}, within timeout.
  virtual boost::asio::awaitable<json::object> query(std::map<std::string, std::set<std::string>> wanted,
                                                     std::chrono::milliseconds timeout) = 0;
  // /keys/claim for devices of other servers ({user: {device: algorithm}}): {one_time_keys, failures}.
  virtual boost::asio::awaitable<json::object> claim(json::object wanted, std::chrono::milliseconds timeout) = 0;
  // Inside the /sendToDevice job: queues m.direct_to_device EDUs for messages
  // ({user: {device: content}}, users of other servers only), one per destination.
  virtual Status queue_to_device(storage::Txn& t, const std::string& sender, const std::string& type,
                                 const std::string& message_id, const json::object& messages) = 0;
  // After that job's commit (or its failure): wakes the senders of the destinations queued
  // for the sender's message_id.
  virtual void to_device_committed(const std::string& sender, const std::string& message_id) = 0;
};

// Bounds on to-device messages.
struct ToDeviceLimits {
  // What one sender may leave waiting for one device. Beyond it, further messages from that
  // sender to that device are dropped (see queue_to_device for why not refused).
  int64_t max_pending_per_sender = 10'000;
  int64_t max_pending_bytes_per_sender = 32 << 20;
  // What one /sync hands out: at most this many messages and, past the first, this many
  // bytes of content. The spec recommends 100 messages; bytes keep a body from reaching
  // tens of megabytes when messages are large.
  int64_t max_per_sync = 100;
  int64_t max_bytes_per_sync = 1 << 20;
};

class KeyService {
 public:
  KeyService(storage::Database& db, Notifier& notifier, ToDeviceLimits limits = {})
      : db_(db), notifier_(notifier), limits_(limits) {}

  // Registers the server's own device (before serving; may stay unset).
  void set_server_device(ServerDevice* d) { server_device_ = d; }
  // Federation on: users of other servers are asked for through f (before serving).
  void set_federation(KeyFederation* f, std::string server_name) {
    federation_ = f;
    server_name_ = std::move(server_name);
  }

  // POST /keys/upload: returns {one_time_key_counts}.
  boost::asio::awaitable<Result<json::object>> upload(const std::string& user,
                                                      const std::string& device,
                                                      const json::object& body);
  // POST /keys/query: this server's users from storage, others' from their servers.
  boost::asio::awaitable<Result<json::object>> query(const std::string& requester, const json::object& body);
  // The same for this server's users only (the federation API's user/keys/query): requester
  // "" is another server, which gets no user-signing keys and no signatures but the owners'.
  Result<json::object> query_local(const std::string& requester,
                                   const std::map<std::string, std::set<std::string>>& wanted);
  // POST /keys/claim: takes one key per device (a fallback key when none is left); devices
  // of other servers are claimed from their servers.
  boost::asio::awaitable<Result<json::object>> claim(const json::object& body);
  // The same for this server's users only (the federation API's user/keys/claim).
  boost::asio::awaitable<Result<json::object>> claim_local(const json::object& one_time_keys);
  // GET /_matrix/federation/v1/user/devices/{userId} for a user of this server: stream_id,
  // the devices that have keys, and the cross-signing keys.
  Result<json::object> user_devices(const std::string& user);
  // GET /keys/changes between two stream positions.
  Result<DeviceListDelta> changes(const std::string& user, int64_t from, int64_t to);

  // Does this /keys/device_signing/upload need user-interactive auth? Only when a master key
  // exists and the body holds a key that differs from the stored one (spec: the same keys
  // again are free, so a retry after a lost response is idempotent).
  bool cross_signing_needs_auth(const std::string& user, const json::object& body);
  // POST /keys/device_signing/upload (the caller has done user-interactive auth if needed).
  boost::asio::awaitable<Status> upload_cross_signing(const std::string& user,
                                                      const json::object& body);
  // POST /keys/signatures/upload: returns {failures}.
  boost::asio::awaitable<Result<json::object>> upload_signatures(const std::string& user,
                                                                 const json::object& body);

  // PUT /sendToDevice: messages = {user: {device or "*": content}}.
  boost::asio::awaitable<Status> send_to_device(const std::string& sender,
                                                const std::string& sender_device,
                                                const std::string& type,
                                                const std::string& txn_id,
                                                const json::object& messages);

  // Inside a write job: queues one to-device message (content serialised) for a device,
  // unless sender already has limits' worth waiting for it. Returns whether it was queued.
  static Result<bool> queue_to_device(storage::Txn& t, const ToDeviceLimits& limits,
                                      const std::string& user, const std::string& device,
                                      const std::string& sender, const std::string& type,
                                      const std::string& content);
  // For /sync, from a read view: the messages after position `after` (up to `upto`), in
  // order, as many as limits_ allow; *last_pos is the last one's position (or after).
  Result<json::array> pending_to_device(storage::Stores& s, const std::string& user,
                                        const std::string& device, int64_t after, int64_t upto,
                                        int64_t* last_pos);
  // Deletes to-device messages the client has acknowledged (positions <= upto), if any.
  boost::asio::awaitable<void> ack_to_device(const std::string& user, const std::string& device,
                                             int64_t upto);
  Result<json::object> one_time_key_counts(storage::Stores& s, const std::string& user,
                                           const std::string& device);
  Result<json::array> unused_fallback_types(storage::Stores& s, const std::string& user,
                                            const std::string& device);
  Result<DeviceListDelta> device_list_delta(storage::Stores& s, const std::string& user,
                                            int64_t since, int64_t upto);

  // Inside a write job: record that user's device list changed, about device (empty: their
  // cross-signing keys); returns who to wake. Other servers hear of it from
  // DeviceListPublisher, which reads these rows.
  static Result<std::vector<std::string>> mark_changed(storage::Txn& t, const std::string& user,
                                                       const std::string& device);
  // Inside a write job: forget a removed device's keys and pending messages; returns who to
  // wake (the owner's device list changed).
  static Result<std::vector<std::string>> remove_device(storage::Txn& t, const std::string& user,
                                                        const std::string& device);

 private:
  storage::Database& db_;
  Notifier& notifier_;
  ToDeviceLimits limits_;
  ServerDevice* server_device_ = nullptr;
  KeyFederation* federation_ = nullptr;
  std::string server_name_;  // with federation_: whose users are local
};

// Verifies that obj carries user's signature made with the ed25519 key key_id (e.g.
// "ed25519:DEVICEID"), whose public key is the unpadded base64 public_b64.
Status verify_key_signature(const json::object& obj, const std::string& user,
                            const std::string& key_id, const std::string& public_b64);

// Inside a write job: takes one key of `algorithm` from a device, as /keys/claim does: a
// one-time key (removed), else its fallback key (marked used, reusable until replaced).
// nullopt when the device has neither.
struct ClaimedKey {
  std::string key_id;
  json::value key;  // a signed key object, or a string for unsigned algorithms
};
Result<std::optional<ClaimedKey>> claim_device_key(storage::Txn& t, const std::string& user,
                                                   const std::string& device, const std::string& algorithm);

}  // namespace despatch
