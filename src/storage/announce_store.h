// Public announcements (service/announce): the rooms marked as announcement channels, their
// ActivityPub followers, the posts published from them, the activities waiting to be
// delivered to followers' inboxes, and the RSA key the channels sign with.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

struct ChannelRow {
  std::string handle;   // the public account name: acct:<handle>@<server_name>
  std::string room_id;
  std::string name;     // the account's display name
  std::string summary;  // its description ("" for none)
  int64_t min_power = 50;  // the power level a member needs for a message to be published
  std::string created_by;
  int64_t created_ts = 0;
};

struct FollowerRow {
  std::string handle;
  std::string actor;      // the follower's actor ID
  std::string inbox;      // where activities go: its shared inbox when it has one
  std::string follow_id;  // the Follow activity's ID, for the Accept
  int64_t followed_ts = 0;
};

struct PostRow {
  int64_t id = 0;
  std::string handle, event_id, sender;
  std::string body;        // plain text
  std::string media;       // mxc:// URI of the picture ("" for a text post)
  std::string media_type;  // its content type
  int64_t published_ts = 0;
  int64_t updated_ts = 0;    // 0: never edited
  int64_t withdrawn_ts = 0;  // 0: still published
};

struct DeliveryRow {
  int64_t id = 0;
  std::string handle;    // the actor that signs it ("" for the instance actor)
  std::string inbox;
  std::string activity;  // the activity, serialised
  int64_t attempts = 0;
  int64_t next_ts = 0;
  std::string last_error;
};

class AnnounceStore {
 public:
  virtual ~AnnounceStore() = default;

  // announce_channels: handle -> room_id (unique), name, summary, min_power, created_by/ts.
  virtual Status add_channel(const ChannelRow& c) = 0;
  virtual Result<std::optional<ChannelRow>> channel(const std::string& handle) = 0;
  virtual Result<std::optional<ChannelRow>> channel_of_room(const std::string& room_id) = 0;
  virtual Result<std::vector<ChannelRow>> channels() = 0;
  // Deletes the channel with its followers, posts and queued deliveries; false when unknown.
  virtual Result<bool> remove_channel(const std::string& handle) = 0;

  // announce_followers: (handle, actor) -> inbox, follow_id, followed_ts.
  virtual Status put_follower(const FollowerRow& f) = 0;
  virtual Result<bool> remove_follower(const std::string& handle, const std::string& actor) = 0;
  virtual Result<std::vector<FollowerRow>> followers(const std::string& handle) = 0;
  virtual Result<int64_t> follower_count(const std::string& handle) = 0;

  // announce_posts: id -> handle, event_id (unique), content, published/updated/withdrawn.
  virtual Result<int64_t> add_post(const PostRow& p) = 0;
  virtual Result<std::optional<PostRow>> post(const std::string& handle, int64_t id) = 0;
  virtual Result<std::optional<PostRow>> post_of_event(const std::string& event_id) = 0;
  virtual Status update_post(int64_t id, const std::string& body, int64_t updated_ts) = 0;
  virtual Status withdraw_post(int64_t id, int64_t withdrawn_ts) = 0;
  // Published (not withdrawn) posts of handle with id < before (0: from the newest), newest first.
  virtual Result<std::vector<PostRow>> posts(const std::string& handle, int64_t before, int limit) = 0;
  virtual Result<int64_t> post_count(const std::string& handle) = 0;

  // announce_deliveries: id -> an activity for one inbox, its attempts and next try.
  virtual Status enqueue_delivery(const DeliveryRow& d) = 0;
  // Up to limit deliveries due at now, oldest first.
  virtual Result<std::vector<DeliveryRow>> due_deliveries(int64_t now, int limit) = 0;
  // The earliest next_ts of any waiting delivery.
  virtual Result<std::optional<int64_t>> next_delivery_ts() = 0;
  virtual Status reschedule_delivery(int64_t id, int64_t attempts, int64_t next_ts, const std::string& error) = 0;
  virtual Status remove_delivery(int64_t id) = 0;
  virtual Result<int64_t> delivery_backlog() = 0;

  // announce_keys: name -> RSA key pair (PEM).
  virtual Result<std::optional<std::pair<std::string, std::string>>> key(const std::string& name) = 0;
  virtual Status put_key(const std::string& name, const std::string& private_pem, const std::string& public_pem) = 0;
};

}  // namespace despatch::storage
