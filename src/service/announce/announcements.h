// Public announcements: rooms an administrator marks as channels publish what their
// members with the power to post write there, for anyone to read without a Matrix account:
// over ActivityPub (followable from Mastodon), as an Atom feed and as an HTML page.
//
// Publishing rides on the room write path: inside the commit of the events themselves
// (RoomService::add_sent_queue) a message from a channel room becomes a post, an edit
// updates it and a redaction withdraws it; each change is archived and queued for every
// follower's inbox in that same transaction, so none is lost to a crash and none is sent
// for an event that was never committed. Rooms that are not channels cost one primary-key
// lookup per committed batch. Delivery itself runs later (delivery.h).
#pragma once

#include "core/config.h"
#include "core/http_signature.h"
#include "core/web_transport.h"
#include "service/announce/documents.h"
#include "service/media/media_service.h"
#include "service/records/archive.h"
#include "storage/announce_store.h"
#include "storage/database.h"

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <set>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace despatch {

// What `announce create` and the admin API ask for.
struct ChannelRequest {
  std::string room;  // a room ID or a local alias
  std::string handle, name, summary;
  int64_t min_power = 50;
  static Result<ChannelRequest> from_json(const json::object& body);
};

// In a write job (the command line and the service share them; both audit).
Result<storage::ChannelRow> create_channel(storage::Txn& t, const ChannelRequest& req, const std::string& actor,
                                           int64_t now);
Result<bool> remove_channel(storage::Txn& t, const std::string& handle, const std::string& actor);
// A channel as the admin API and the command line list it.
json::object channel_json(const storage::ChannelRow& c, const announce::Urls& u, int64_t followers, int64_t posts);
announce::Urls announce_urls(const Config& config);

// A request to an inbox, as the HTTP layer received it.
struct InboxRequest {
  std::string handle;  // "" for the shared inbox
  std::string method, target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// A public document and its content type.
struct PublicDocument {
  std::string content_type;
  std::string body;
};

class Announcements {
 public:
  Announcements(const Config& config, storage::Database& db, Archive& archive, MediaService& media);

  // Loads the RSA key the channels sign with, making it on first start.
  Status init_blocking();
  // Outgoing requests (key fetches and, in delivery.h, deliveries); set before serving.
  void set_transport(WebTransport* web) { web_ = web; }
  // Called after the deliveries a commit queued are durable (set by the delivery queue).
  void set_wake(std::function<void()> fn) { wake_ = std::move(fn); }

  // The write path's hooks (RoomService::add_sent_queue / add_sent_listener).
  Status on_sent(storage::Txn& t, const std::string& room_id, const std::vector<json::object>& pdus);
  void after_sent();

  // The admin API.
  boost::asio::awaitable<Result<json::object>> create(const std::string& actor, ChannelRequest req);
  boost::asio::awaitable<Status> remove(const std::string& actor, const std::string& handle);
  Result<json::array> list();
  Result<json::object> describe(const std::string& handle);

  // Public reads (announce_reads.cpp). M_NOT_FOUND for anything not published.
  Result<PublicDocument> webfinger(const std::string& resource);
  Result<PublicDocument> actor(const std::string& handle);
  PublicDocument instance_actor();
  Result<PublicDocument> outbox(const std::string& handle, bool page, int64_t before);
  Result<PublicDocument> followers(const std::string& handle);
  Result<PublicDocument> note(const std::string& handle, int64_t id);
  PublicDocument nodeinfo_links();
  Result<PublicDocument> nodeinfo(const std::string& version);
  Result<PublicDocument> atom(const std::string& handle);
  Result<PublicDocument> html(const std::string& handle, int64_t before);
  // The picture of a published post (never any other media).
  boost::asio::awaitable<Result<MediaService::Served>> picture(const std::string& handle, int64_t id);

  // An inbox POST (announce_inbox.cpp): the HTTP signature checked against the sender's key
  // (fetched from its actor, signed as the instance actor), then Follow, Undo{Follow} and
  // Delete of the sender handled. 401 for an unsigned or forged request.
  boost::asio::awaitable<Result<int>> receive(InboxRequest req);

  const announce::Urls& urls() const { return urls_; }
  const RsaKeyPair& key() const { return key_; }

 private:
  struct RemoteKey {
    std::string pem, owner;
    int64_t fetched_ms = 0;
  };
  // A signed GET of an ActivityPub document (as the instance actor, for secure mode).
  boost::asio::awaitable<Result<json::object>> fetch_object(const std::string& url);
  boost::asio::awaitable<Result<RemoteKey>> remote_key(const std::string& key_id, bool refresh);
  boost::asio::awaitable<Result<int>> follow(const std::string& handle, const json::object& activity);
  Status queue_to_followers(storage::Txn& t, const std::string& handle, const json::object& activity);
  Status publish(storage::Txn& t, const storage::ChannelRow& c, const json::object& pdu, const std::string& event_id,
                 int64_t level);

  const Config& config_;
  storage::Database& db_;
  Archive& archive_;
  MediaService& media_;
  announce::Urls urls_;
  RsaKeyPair key_;
  WebTransport* web_ = nullptr;
  std::function<void()> wake_;
  std::atomic<bool> queued_{false};  // a commit queued deliveries: wake the queue after it
  std::mutex keys_mu_;
  std::map<std::string, RemoteKey> keys_;  // other servers' keys by keyId
};

}  // namespace despatch
