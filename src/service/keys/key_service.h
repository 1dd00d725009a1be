// End-to-end encryption support: the server stores and hands out device keys, one-time and
// fallback keys, cross-signing keys and signatures, carries to-device messages, and tells
// clients whose device lists changed. It never sees plaintext.
#pragma once

#include "service/notifier/notifier.h"
#include "storage/database.h"

#include <boost/asio/awaitable.hpp>

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

  // POST /keys/upload: returns {one_time_key_counts}.
  boost::asio::awaitable<Result<json::object>> upload(const std::string& user,
                                                      const std::string& device,
                                                      const json::object& body);
  // POST /keys/query.
  Result<json::object> query(const std::string& requester, const json::object& body);
  // POST /keys/claim: takes one key per device (a fallback key when none is left).
  boost::asio::awaitable<Result<json::object>> claim(const json::object& body);
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

  // Inside a write job: record that user's device list changed; returns who to wake.
  static Result<std::vector<std::string>> mark_changed(storage::Txn& t, const std::string& user);
  // Inside a write job: forget a removed device's keys and pending messages; returns who to
  // wake (the owner's device list changed).
  static Result<std::vector<std::string>> remove_device(storage::Txn& t, const std::string& user,
                                                        const std::string& device);

 private:
  storage::Database& db_;
  Notifier& notifier_;
  ToDeviceLimits limits_;
  ServerDevice* server_device_ = nullptr;
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
