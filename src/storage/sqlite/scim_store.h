#pragma once

#include "storage/conn.h"
#include "storage/scim_store.h"

namespace despatch::storage {

class SqliteScimStore final : public ScimStore {
 public:
  explicit SqliteScimStore(Conn& c) : c_(c) {}
  Result<int64_t> add_token(const ScimToken& t) override;
  Result<std::optional<ScimToken>> token_by_hash(const std::string& hash) override;
  Result<std::vector<ScimToken>> tokens() override;
  Result<bool> revoke_token(int64_t id, int64_t ts) override;
  Status touch_token(int64_t id, int64_t ts) override;

  Status put_user(const ScimUser& u) override;
  Result<std::optional<ScimUser>> user(const std::string& id) override;
  Result<std::optional<ScimUser>> user_by_name(const std::string& user_name) override;
  Status delete_user(const std::string& id) override;
  Result<std::vector<ScimUser>> users(std::optional<ScimField> field, const std::string& value) override;

  Status put_group(const ScimGroup& g) override;
  Result<std::optional<ScimGroup>> group(const std::string& id) override;
  Result<std::optional<ScimGroup>> group_by_name(const std::string& display_name) override;
  Status delete_group(const std::string& id) override;
  Result<std::vector<ScimGroup>> groups(std::optional<ScimField> field, const std::string& value) override;
  Result<std::vector<std::string>> members(const std::string& group_id) override;
  Status add_member(const std::string& group_id, const std::string& user_id) override;
  Status remove_member(const std::string& group_id, const std::string& user_id) override;
  Result<std::vector<std::string>> groups_of(const std::string& user_id) override;

  Status set_group_rooms(const std::string& group_name, const std::vector<std::string>& rooms) override;
  Result<std::vector<std::string>> group_rooms(const std::string& group_name) override;
  Result<std::vector<std::pair<std::string, std::string>>> all_group_rooms() override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
