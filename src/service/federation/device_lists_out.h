// Device lists going out (server-server spec "Device Management", "End-to-End Encryption"):
// each change of a local user's device list becomes an m.device_list_update EDU (a change
// of their cross-signing keys an m.signing_key_update) for every other server sharing a
// room with them. The changes are the rows of device_list_changes, read in stream order
// after the last one published; EDUs are queued and the position moved in one commit, so
// after a crash nothing is lost or sent twice, and each user's EDUs go out in order with
// prev_id naming the one before.
#pragma once

#include "core/config.h"
#include "service/federation/outbox.h"
#include "service/keys/key_service.h"
#include "storage/database.h"
#include "storage/device_list_store.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>

namespace despatch {

class DeviceListPublisher {
 public:
  DeviceListPublisher(const Config& config, storage::Database& db, Outbox& outbox, KeyService& keys,
                      boost::asio::io_context& io, std::chrono::milliseconds poll = std::chrono::milliseconds(200));

  // Before serving. The first start publishes nothing of the past: what other servers need
  // of it they fetch with user/devices.
  Status init_blocking();
  // Starts the loop that publishes new changes (it looks every `poll` whether the stream
  // moved; a cheap check of a counter when nothing happened).
  void start();

  static constexpr const char* kPositionKey = "device_lists_published";

 private:
  boost::asio::awaitable<void> run();
  // Publishes the next changes up to the committed position; false when they were all done.
  boost::asio::awaitable<Result<bool>> publish_some(int64_t upto);
  Result<json::object> edu_for(storage::Stores& s, const storage::DeviceListChange& change);

  const Config& config_;
  storage::Database& db_;
  Outbox& outbox_;
  KeyService& keys_;
  boost::asio::io_context& io_;
  std::chrono::milliseconds poll_;
  ServerAllowList allow_;
  int64_t published_ = 0;  // only the loop touches it after init
};

}  // namespace despatch
