// End-to-end encryption with users of other servers (server-server spec "End-to-End
// Encryption", "Device Management", "Send-to-device messaging"): their device keys and
// one-time keys are asked of their servers (user/keys/query, user/devices, user/keys/claim);
// the device lists of those who share a room with a user of this server are cached
// (DeviceListStore's remote lists) and kept up to date by their servers' m.device_list_update
// and m.signing_key_update EDUs, a missed update (a prev_id we never saw) making the copy
// stale until it is fetched again; to-device messages for them leave as m.direct_to_device.
#pragma once

#include "core/config.h"
#include "service/federation/outbox.h"
#include "service/federation/sender.h"
#include "service/keys/key_service.h"
#include "service/notifier/notifier.h"
#include "storage/database.h"
#include "storage/device_list_store.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <mutex>
#include <set>
#include <string>

namespace despatch {

class RemoteKeys final : public KeyFederation {
 public:
  RemoteKeys(const Config& config, storage::Database& db, FederationSender& sender, Outbox& outbox,
             Notifier& notifier, boost::asio::io_context& io);

  boost::asio::awaitable<json::object> query(std::map<std::string, std::set<std::string>> wanted,
                                             std::chrono::milliseconds timeout) override;
  boost::asio::awaitable<json::object> claim(json::object wanted, std::chrono::milliseconds timeout) override;
  Status queue_to_device(storage::Txn& t, const std::string& sender, const std::string& type,
                         const std::string& message_id, const json::object& messages) override;
  void to_device_committed(const std::string& sender, const std::string& message_id) override;

  // The Inbox's EDUs of these kinds from origin (already checked to be objects).
  boost::asio::awaitable<void> device_list_update(const std::string& origin, const json::object& content);
  boost::asio::awaitable<void> signing_key_update(const std::string& origin, const json::object& content);

 private:
  using Clock = std::chrono::steady_clock;
  // One request, given up at deadline (504).
  boost::asio::awaitable<Result<FederationResponse>> send_by(const std::string& destination, const std::string& method,
                                                             const std::string& target, std::optional<json::value> body,
                                                             Clock::time_point deadline);
  // GET user/devices/{user}, checked: the list as the user's server has it now.
  boost::asio::awaitable<Result<storage::RemoteDeviceList>> fetch_devices(const std::string& user,
                                                                          Clock::time_point deadline);
  // Fetches user's list again (once at a time per user) and tells local users it changed.
  boost::asio::awaitable<void> resync(std::string user);
  // Does a user of this server share a room with user? Only then are their servers sure to
  // send us their updates, so only then is a cached copy trusted and kept.
  bool shared_with_local(const std::string& user);
  void wake_co_members(const std::string& user);

  const Config& config_;
  storage::Database& db_;
  FederationSender& sender_;
  Outbox& outbox_;
  Notifier& notifier_;
  boost::asio::io_context& io_;

  std::mutex mu_;
  std::set<std::string> resyncing_;  // users whose lists are being fetched again (mu_)
};

}  // namespace despatch
