// SCIM 2.0 provisioning (RFC 7643/7644): the bearer tokens the identity provider uses
// (scim_tokens: only their hashes), the users and groups it provisioned (scim_users,
// scim_groups, scim_group_members) and which rooms each group's members belong in
// (scim_group_rooms, by group display name, so a mapping may precede the group).
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

struct ScimToken {
  int64_t id = 0;
  std::string name;        // what the operator called it ("entra-prod")
  std::string token_hash;  // base64 SHA-256 of the token
  int64_t created_ts = 0;
  std::optional<int64_t> revoked_ts, last_used_ts;
};

// A provisioned user: the SCIM resource's attributes beside the Matrix account it maps to.
struct ScimUser {
  std::string id;         // the SCIM id (a UUID)
  std::string user_id;    // @userName:server_name
  std::string user_name;  // the localpart
  std::optional<std::string> external_id;
  std::string display_name;
  std::string name_json = "{}";    // the "name" complex attribute, JSON object
  std::string emails_json = "[]";  // the "emails" multi-valued attribute, JSON array
  bool active = true;
  int64_t created_ts = 0, updated_ts = 0, version = 1;
};

struct ScimGroup {
  std::string id;
  std::string display_name;
  std::optional<std::string> external_id;
  int64_t created_ts = 0, updated_ts = 0, version = 1;
};

// Attributes a filter may compare with eq through the store (case-insensitive where RFC 7643
// says caseExact is false).
enum class ScimField { kId, kUserName, kDisplayName, kExternalId, kActive };

class ScimStore {
 public:
  virtual ~ScimStore() = default;

  // scim_tokens
  virtual Result<int64_t> add_token(const ScimToken& t) = 0;
  // A token by its hash, revoked ones included (the caller refuses them).
  virtual Result<std::optional<ScimToken>> token_by_hash(const std::string& hash) = 0;
  virtual Result<std::vector<ScimToken>> tokens() = 0;
  // False when there is no such unrevoked token.
  virtual Result<bool> revoke_token(int64_t id, int64_t ts) = 0;
  virtual Status touch_token(int64_t id, int64_t ts) = 0;

  // scim_users (deleted users are gone from here; their Matrix account stays, deactivated)
  virtual Status put_user(const ScimUser& u) = 0;  // insert or replace by id
  virtual Result<std::optional<ScimUser>> user(const std::string& id) = 0;
  virtual Result<std::optional<ScimUser>> user_by_name(const std::string& user_name) = 0;
  virtual Status delete_user(const std::string& id) = 0;
  // Users in id order: all (field nullopt) or those whose field equals value.
  virtual Result<std::vector<ScimUser>> users(std::optional<ScimField> field, const std::string& value) = 0;

  // scim_groups, scim_group_members
  virtual Status put_group(const ScimGroup& g) = 0;
  virtual Result<std::optional<ScimGroup>> group(const std::string& id) = 0;
  virtual Result<std::optional<ScimGroup>> group_by_name(const std::string& display_name) = 0;
  virtual Status delete_group(const std::string& id) = 0;  // and its members
  virtual Result<std::vector<ScimGroup>> groups(std::optional<ScimField> field, const std::string& value) = 0;
  virtual Result<std::vector<std::string>> members(const std::string& group_id) = 0;  // SCIM user ids
  virtual Status add_member(const std::string& group_id, const std::string& user_id) = 0;
  virtual Status remove_member(const std::string& group_id, const std::string& user_id) = 0;
  // Groups a user is a member of (SCIM group ids).
  virtual Result<std::vector<std::string>> groups_of(const std::string& user_id) = 0;

  // scim_group_rooms
  virtual Status set_group_rooms(const std::string& group_name, const std::vector<std::string>& rooms) = 0;
  virtual Result<std::vector<std::string>> group_rooms(const std::string& group_name) = 0;
  // Every mapping: (group display name, room ID).
  virtual Result<std::vector<std::pair<std::string, std::string>>> all_group_rooms() = 0;
};

}  // namespace despatch::storage
