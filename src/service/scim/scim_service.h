// SCIM 2.0 provisioning (RFC 7643 resources, RFC 7644 protocol) at /scim/v2: the
// department's identity provider creates, changes and removes accounts and groups.
//  - A User's userName is the Matrix localpart (validated, never changed); externalId,
//    name and emails are kept; displayName is the Matrix display name. active:false and
//    DELETE deactivate the account through Leavers, like every other trigger.
//  - A Group is membership of department rooms: an administrator maps a group (by display
//    name) to rooms; members are invited by the department (the records keeper, or the most
//    powerful local member who may invite) and joined server-side; removed members leave.
//  - Bearer tokens are made on the command line (`despatch scim token create`); only their
//    SHA-256 is stored, and a revoked token is refused at once.
// Errors are Error values carrying the HTTP status, the detail and (extra "scimType") the
// RFC 7644 §3.12 scimType; the handlers render them in SCIM's error format.
#pragma once

#include "core/config.h"
#include "service/rooms/room_service.h"
#include "service/users/leavers.h"
#include "service/users/user_service.h"
#include "storage/database.h"
#include "storage/scim_store.h"

#include <boost/asio/awaitable.hpp>

#include <set>
#include <string>

namespace despatch {

inline constexpr const char* kScimUserSchema = "urn:ietf:params:scim:schemas:core:2.0:User";
inline constexpr const char* kScimGroupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group";
inline constexpr const char* kScimListSchema = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
inline constexpr const char* kScimPatchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
inline constexpr const char* kScimErrorSchema = "urn:ietf:params:scim:api:messages:2.0:Error";

// Inside a write job of the CLI: a new token named name; returns the token (shown once).
Result<std::string> create_scim_token(storage::Txn& t, const std::string& name);

// A page request of a list (RFC 7644 §3.4.2.4): startIndex is 1-based.
struct ScimPage {
  std::string filter;
  int64_t start_index = 1;
  int64_t count = 100;
};

class ScimService {
 public:
  ScimService(const Config& config, storage::Database& db, UserService& users, RoomService& rooms, Leavers& leavers);

  // The token's name ("scim:<name>" acts in the audit log); 401 for an unknown or revoked one.
  Result<std::string> authenticate(const std::string& bearer);

  // Discovery (RFC 7644 §4).
  json::object service_provider_config() const;
  json::object resource_types() const;
  json::object schemas() const;

  // Users (scim_users.cpp).
  boost::asio::awaitable<Result<json::object>> create_user(const json::object& body, std::string actor);
  Result<json::object> get_user(const std::string& id);
  Result<json::object> list_users(const ScimPage& page);
  boost::asio::awaitable<Result<json::object>> replace_user(const std::string& id, const json::object& body,
                                                            std::string actor);
  boost::asio::awaitable<Result<json::object>> patch_user(const std::string& id, const json::object& body,
                                                          std::string actor);
  boost::asio::awaitable<Status> delete_user(const std::string& id, std::string actor);

  // Groups (scim_groups.cpp).
  boost::asio::awaitable<Result<json::object>> create_group(const json::object& body, std::string actor);
  Result<json::object> get_group(const std::string& id);
  Result<json::object> list_groups(const ScimPage& page);
  boost::asio::awaitable<Result<json::object>> replace_group(const std::string& id, const json::object& body,
                                                             std::string actor);
  boost::asio::awaitable<Result<json::object>> patch_group(const std::string& id, const json::object& body,
                                                           std::string actor);
  boost::asio::awaitable<Status> delete_group(const std::string& id, std::string actor);

  // The administrators' mapping of groups (by display name) to rooms; setting it brings the
  // group's members into the new rooms and out of the ones removed. Audited.
  Result<json::object> group_rooms();
  boost::asio::awaitable<Status> set_group_rooms(const std::string& group_name, std::vector<std::string> rooms,
                                                 std::string actor);

 private:
  json::object render_user(const storage::ScimUser& u);
  json::object render_group(const storage::ScimGroup& g);
  std::string location(const std::string& type, const std::string& id) const;
  std::string base_url() const;  // public_baseurl (or the listener) without a trailing /
  // The rooms a SCIM user belongs in through their groups.
  Result<std::set<std::string>> rooms_of(const std::string& scim_user_id);
  // Brings the user into `add` and out of `remove` (after a change of their groups).
  boost::asio::awaitable<void> move_rooms(const storage::ScimUser& u, const std::set<std::string>& before,
                                          const std::set<std::string>& after);
  // Replaces the user with the attributes of `body` (PUT, and PATCH after its operations).
  boost::asio::awaitable<Result<json::object>> apply_user(storage::ScimUser current, const json::object& body,
                                                          std::string actor);
  boost::asio::awaitable<Result<json::object>> apply_group(storage::ScimGroup current, const json::object& body,
                                                           std::string actor, bool is_new);

  const Config& config_;
  storage::Database& db_;
  UserService& users_;
  RoomService& rooms_;
  Leavers& leavers_;
};

// Applies a PatchOp message (RFC 7644 §3.5.2: add, replace, remove; with and without path)
// to a resource's JSON (scim_patch.cpp). Errors: 400 invalidSyntax, invalidPath, noTarget,
// invalidValue.
Result<json::object> apply_scim_patch(json::object resource, const json::object& patch);

// Case-insensitive member lookup in a SCIM resource (attribute names are case-insensitive).
const json::value* scim_attr(const json::object& o, std::string_view name);

}  // namespace despatch
