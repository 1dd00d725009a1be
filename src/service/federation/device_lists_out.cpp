#include "service/federation/device_lists_out.h"

#include "core/ids.h"
#include "core/log.h"
#include "storage/device_list_store.h"
#include "storage/device_store.h"
#include "storage/membership_store.h"
#include "storage/meta_store.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace despatch {

namespace asio = boost::asio;

namespace {

constexpr int64_t kChangesPerCommit = 200;
constexpr char kCommitName[] = "device-lists";  // one publisher, one commit at a time

}  // namespace

DeviceListPublisher::DeviceListPublisher(const Config& config, storage::Database& db, Outbox& outbox,
                                         KeyService& keys, asio::io_context& io, std::chrono::milliseconds poll)
    : config_(config), db_(db), outbox_(outbox), keys_(keys), io_(io), poll_(poll), allow_(config.federation.allow) {}

Status DeviceListPublisher::init_blocking() {
  DS_ASSIGN(auto stored, db_.read().meta().get(kPositionKey));
  if (stored) {
    published_ = std::stoll(*stored);
    return ok_status();
  }
  published_ = db_.committed_stream_pos();
  int64_t pos = published_;
  return db_.transact_blocking<Ok>(
      [pos](storage::Txn& t) -> Status { return t.meta().put(kPositionKey, std::to_string(pos)); });
}

void DeviceListPublisher::start() { asio::co_spawn(io_, run(), asio::detached); }

asio::awaitable<void> DeviceListPublisher::run() {
  asio::steady_timer timer(io_);
  int64_t checked = published_;
  for (;;) {
    int64_t upto = db_.committed_stream_pos();
    if (upto > checked) {
      auto more = co_await publish_some(upto);
      if (!more.ok()) {
        DS_LOG(kError, "federation: cannot publish device list changes: {}", more.error().message);
      } else if (*more) {
        continue;  // a full page: the next one at once
      } else {
        checked = upto;
      }
    }
    timer.expires_after(poll_);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
  }
}

Result<json::object> DeviceListPublisher::edu_for(storage::Stores& s, const storage::DeviceListChange& change) {
  const std::string& user = change.user_id;
  std::map<std::string, std::set<std::string>> wanted{{user, {}}};
  json::object content{{"user_id", user}};
  json::object edu;
  if (change.device_id.empty()) {
    // The user's cross-signing keys as they are now (their signatures included).
    DS_ASSIGN(json::object keys, keys_.query_local("", wanted));
    if (auto* m = keys["master_keys"].as_object().if_contains(user)) content["master_key"] = *m;
    if (auto* ss = keys["self_signing_keys"].as_object().if_contains(user)) content["self_signing_key"] = *ss;
    edu["edu_type"] = "m.signing_key_update";
    edu["content"] = std::move(content);
    return edu;
  }
  const std::string& device = change.device_id;
  wanted[user].insert(device);
  content["device_id"] = device;
  content["stream_id"] = change.stream_pos;
  DS_ASSIGN(int64_t prev, s.device_lists().last_device_change(user, change.stream_pos));
  json::array prev_id;
  if (prev > 0) prev_id.push_back(prev);
  content["prev_id"] = std::move(prev_id);
  // The device as it is now, which may be later than the change: a receiver applying the
  // newer state early loses nothing, since the later change's EDU carries the same.
  DS_ASSIGN(json::object keys, keys_.query_local("", wanted));
  auto& mine = keys["device_keys"].as_object()[user].as_object();
  if (auto* k = mine.if_contains(device)) {
    json::object dk = k->as_object();
    if (auto* u = dk.if_contains("unsigned"); u && u->is_object())
      if (auto* name = u->as_object().if_contains("device_display_name")) content["device_display_name"] = *name;
    dk.erase("unsigned");
    content["keys"] = std::move(dk);
  } else {
    DS_ASSIGN(auto devices, s.devices().devices_of(user));
    bool exists = false;
    for (auto& d : devices)
      if (d.device_id == device) {
        exists = true;
        if (d.display_name) content["device_display_name"] = *d.display_name;
      }
    if (!exists) content["deleted"] = true;
  }
  edu["edu_type"] = "m.device_list_update";
  edu["content"] = std::move(content);
  return edu;
}

asio::awaitable<Result<bool>> DeviceListPublisher::publish_some(int64_t upto) {
  storage::Stores& s = db_.read();
  DS_CO_ASSIGN(auto changes, s.device_lists().changes(published_, upto, kChangesPerCommit));
  std::vector<std::pair<std::string, json::object>> items;  // (destination, EDU), in order
  int64_t last = upto;
  if (static_cast<int64_t>(changes.size()) == kChangesPerCommit) last = changes.back().stream_pos;
  for (auto& change : changes) {
    if (server_name_of(change.user_id) != config_.server_name) continue;  // other servers' users
    DS_CO_ASSIGN(auto others, s.memberships().co_members(change.user_id));
    auto dests = destinations_for(others, {}, config_.server_name, allow_);
    if (dests.empty()) continue;
    DS_CO_ASSIGN(json::object edu, edu_for(s, change));
    for (auto& d : dests) items.emplace_back(d, edu);
  }
  Outbox* outbox = &outbox_;
  auto job = [&items, last, outbox](storage::Txn& t) -> Status {
    for (auto& [d, edu] : items) DS_TRY(outbox->enqueue_edu_in(t, kCommitName, d, edu));
    return t.meta().put(kPositionKey, std::to_string(last));
  };
  auto st = co_await db_.transact<Ok>(job);
  outbox_.wake_queued(kCommitName);
  if (!st.ok()) co_return st.error();
  published_ = last;
  co_return last < upto;
}

}  // namespace despatch
