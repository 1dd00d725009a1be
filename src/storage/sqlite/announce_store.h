#pragma once

#include "storage/announce_store.h"
#include "storage/conn.h"

namespace despatch::storage {

class SqliteAnnounceStore final : public AnnounceStore {
 public:
  explicit SqliteAnnounceStore(Conn& c) : c_(c) {}
  Status add_channel(const ChannelRow& c) override;
  Result<std::optional<ChannelRow>> channel(const std::string& handle) override;
  Result<std::optional<ChannelRow>> channel_of_room(const std::string& room_id) override;
  Result<std::vector<ChannelRow>> channels() override;
  Result<bool> remove_channel(const std::string& handle) override;
  Status put_follower(const FollowerRow& f) override;
  Result<bool> remove_follower(const std::string& handle, const std::string& actor) override;
  Result<std::vector<FollowerRow>> followers(const std::string& handle) override;
  Result<int64_t> follower_count(const std::string& handle) override;
  Result<int64_t> add_post(const PostRow& p) override;
  Result<std::optional<PostRow>> post(const std::string& handle, int64_t id) override;
  Result<std::optional<PostRow>> post_of_event(const std::string& event_id) override;
  Status update_post(int64_t id, const std::string& body, int64_t updated_ts) override;
  Status withdraw_post(int64_t id, int64_t withdrawn_ts) override;
  Result<std::vector<PostRow>> posts(const std::string& handle, int64_t before, int limit) override;
  Result<int64_t> post_count(const std::string& handle) override;
  Status enqueue_delivery(const DeliveryRow& d) override;
  Result<std::vector<DeliveryRow>> due_deliveries(int64_t now, int limit) override;
  Result<std::optional<int64_t>> next_delivery_ts() override;
  Status reschedule_delivery(int64_t id, int64_t attempts, int64_t next_ts, const std::string& error) override;
  Status remove_delivery(int64_t id) override;
  Result<int64_t> delivery_backlog() override;
  Result<std::optional<std::pair<std::string, std::string>>> key(const std::string& name) override;
  Status put_key(const std::string& name, const std::string& private_pem, const std::string& public_pem) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
