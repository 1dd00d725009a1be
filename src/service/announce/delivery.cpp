#include "service/announce/delivery.h"

#include "core/log.h"
#include "service/common/time.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace despatch {

namespace asio = boost::asio;

namespace {

constexpr int kBatch = 32;
constexpr int64_t kMaxDelayMs = 6 * 3600 * 1000;
constexpr int64_t kIdleMs = 30'000;  // look again this often even with nothing due

// Answers after which the same request can never succeed.
bool permanent(int status) {
  return status == 400 || status == 403 || status == 404 || status == 405 || status == 410 || status == 422;
}

}  // namespace

AnnounceDelivery::AnnounceDelivery(const Config& config, storage::Database& db, WebTransport& web,
                                   const RsaKeyPair& key, announce::Urls urls, asio::io_context& io)
    : config_(config), db_(db), web_(web), key_(key), urls_(std::move(urls)), strand_(asio::make_strand(io)),
      timer_(strand_) {}

void AnnounceDelivery::start() { asio::co_spawn(strand_, run(), asio::detached); }

void AnnounceDelivery::wake() {
  woken_ = true;
  asio::post(strand_, [this] { timer_.cancel(); });
}

asio::awaitable<void> AnnounceDelivery::run() {
  for (;;) {
    woken_ = false;
    auto due = db_.read().announce().due_deliveries(now_ms(), kBatch);
    if (!due.ok()) DS_LOG(kError, "announce: cannot read the delivery queue: {}", due.error().message);
    else
      for (auto& d : *due) co_await deliver(std::move(d));
    if (due.ok() && static_cast<int>(due->size()) == kBatch) continue;
    int64_t wait = kIdleMs;
    if (auto next = db_.read().announce().next_delivery_ts(); next.ok() && *next)
      wait = std::clamp<int64_t>(**next - now_ms(), 0, kIdleMs);
    if (woken_ || wait == 0) continue;
    timer_.expires_after(std::chrono::milliseconds(wait));
    auto [ec] = co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;  // cancelled by wake(): look again
  }
}

asio::awaitable<void> AnnounceDelivery::deliver(storage::DeliveryRow d) {
  std::string error;
  int status = 0;
  auto url = parse_web_url(d.inbox);
  if (!url.ok()) {
    error = url.error().message;
    status = 400;
  } else {
    WebRequest req;
    req.method = "POST";
    req.url = d.inbox;
    req.body = d.activity;
    req.headers["host"] = url->host_header();
    req.headers["content-type"] = announce::kActivityJson;
    req.headers["accept"] = announce::kActivityJson;
    auto signed_ok = sign_request(req.headers, "POST", url->target, req.body, urls_.key_id(d.handle), key_.private_pem);
    if (!signed_ok.ok()) {
      error = signed_ok.error().message;
    } else {
      auto res = co_await web_.send(std::move(req));
      if (!res.ok()) {
        error = res.error().message;
        if (res.error().status == 403) status = 403;  // refused by policy (plain http): never sendable
      } else {
        status = res->status;
        if (status < 200 || status > 299) error = "answered " + std::to_string(status);
      }
    }
  }
  int64_t id = d.id;
  if (error.empty()) {
    ++delivered_;
    auto r = co_await db_.transact<Ok>([id](storage::Txn& t) { return t.announce().remove_delivery(id); });
    if (!r.ok()) DS_LOG(kError, "announce: cannot update the delivery queue: {}", r.error().message);
    co_return;
  }
  int64_t attempts = d.attempts + 1;
  if (permanent(status) || attempts >= config_.announce.max_attempts) {
    ++dropped_;
    DS_LOG(kWarn, "announce: gave up delivering to {} after {} tries: {}", d.inbox, attempts, error);
    auto r = co_await db_.transact<Ok>([id](storage::Txn& t) { return t.announce().remove_delivery(id); });
    if (!r.ok()) DS_LOG(kError, "announce: cannot update the delivery queue: {}", r.error().message);
    co_return;
  }
  int64_t delay = config_.announce.retry_seconds * 1000;
  for (int64_t i = 1; i < attempts && delay < kMaxDelayMs; ++i) delay *= 2;
  int64_t next = now_ms() + std::min(delay, kMaxDelayMs);
  DS_LOG(kInfo, "announce: delivery to {} failed ({}); try {} in {} s", d.inbox, error, attempts + 1,
         std::min(delay, kMaxDelayMs) / 1000);
  auto r = co_await db_.transact<Ok>([id, attempts, next, error](storage::Txn& t) {
    return t.announce().reschedule_delivery(id, attempts, next, error);
  });
  if (!r.ok()) DS_LOG(kError, "announce: cannot update the delivery queue: {}", r.error().message);
}

}  // namespace despatch
