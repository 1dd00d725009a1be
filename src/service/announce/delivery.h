// Delivery of announcement activities to followers' inboxes: a durable queue
// (announce_deliveries) worked through on the I/O threads, each POST signed draft-cavage
// with a Digest as the channel's actor. A failed delivery is retried with doubling delays
// (retry_seconds, up to six hours) until max_attempts; an inbox that answers that the
// request can never succeed (400, 403, 404, 410, ...) is given up at once. The queue is the
// table, so what was waiting at a restart is sent after it.
#pragma once

#include "core/config.h"
#include "core/http_signature.h"
#include "core/web_transport.h"
#include "service/announce/documents.h"
#include "storage/announce_store.h"
#include "storage/database.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>

namespace despatch {

class AnnounceDelivery {
 public:
  AnnounceDelivery(const Config& config, storage::Database& db, WebTransport& web, const RsaKeyPair& key,
                   announce::Urls urls, boost::asio::io_context& io);
  // Starts the worker on io.
  void start();
  // Any thread: something was queued; look now rather than at the next timer.
  void wake();

  int64_t delivered() const { return delivered_.load(); }
  int64_t dropped() const { return dropped_.load(); }

 private:
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> deliver(storage::DeliveryRow d);

  const Config& config_;
  storage::Database& db_;
  WebTransport& web_;
  const RsaKeyPair& key_;
  announce::Urls urls_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::steady_timer timer_;
  std::atomic<bool> woken_{false};
  std::atomic<int64_t> delivered_{0}, dropped_{0};
};

}  // namespace despatch
