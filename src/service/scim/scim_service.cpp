#include "service/scim/scim_service.h"

#include "core/base64.h"
#include "core/crypto.h"
#include "core/ids.h"
#include "core/log.h"
#include "service/common/time.h"
#include "service/records/audit.h"
#include "service/scim/scim_filter.h"

#include <sodium.h>

namespace despatch {

namespace asio = boost::asio;

namespace {

std::string token_hash(const std::string& token) { return base64_encode(sha256(token)); }

}  // namespace

Result<std::string> create_scim_token(storage::Txn& t, const std::string& name) {
  if (name.empty() || name.size() > 64) return Error::invalid_param("a token needs a name of 1 to 64 characters");
  std::string token = "scim_" + random_string(40);
  storage::ScimToken row;
  row.name = name;
  row.token_hash = token_hash(token);
  row.created_ts = now_ms();
  DS_TRY(t.scim().add_token(row));
  return token;
}

ScimService::ScimService(const Config& config, storage::Database& db, UserService& users, RoomService& rooms,
                         Leavers& leavers)
    : config_(config), db_(db), users_(users), rooms_(rooms), leavers_(leavers) {}

Result<std::string> ScimService::authenticate(const std::string& bearer) {
  if (bearer.empty()) return scim_error(401, "", "A SCIM bearer token is required");
  // Read each time, so that a revocation on the command line takes effect at once.
  DS_ASSIGN(auto token, db_.read().scim().token_by_hash(token_hash(bearer)));
  if (!token || token->revoked_ts) return scim_error(401, "", "Unknown or revoked SCIM token");
  return token->name;
}

std::string ScimService::base_url() const {
  // Absolute URIs (RFC 7644 §3.1), from the advertised base URL as .well-known gives it.
  std::string base = config_.public_baseurl;
  if (base.empty()) base = "http://" + config_.listen_address + ":" + std::to_string(config_.listen_port);
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

std::string ScimService::location(const std::string& type, const std::string& id) const {
  return base_url() + "/scim/v2/" + type + "/" + id;
}

json::object ScimService::service_provider_config() const {
  json::object out{
      {"schemas", json::array{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"}},
      {"documentationUri", "https://github.com/despatch/despatch#provisioning"},
      {"patch", json::object{{"supported", true}}},
      {"bulk", json::object{{"supported", false}, {"maxOperations", 0}, {"maxPayloadSize", 0}}},
      {"filter", json::object{{"supported", true}, {"maxResults", 1000}}},
      {"changePassword", json::object{{"supported", false}}},
      {"sort", json::object{{"supported", false}}},
      {"etag", json::object{{"supported", false}}},
      {"authenticationSchemes",
       json::array{json::object{{"type", "oauthbearertoken"},
                                {"name", "Bearer token"},
                                {"description", "A token made with `despatch scim token create`"},
                                {"primary", true}}}},
      {"meta", json::object{{"resourceType", "ServiceProviderConfig"},
                            {"location", base_url() + "/scim/v2/ServiceProviderConfig"}}}};
  return out;
}

json::object ScimService::resource_types() const {
  auto type = [this](const char* name, const char* endpoint, const char* schema) {
    return json::object{{"schemas", json::array{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"}},
                        {"id", name},
                        {"name", name},
                        {"endpoint", endpoint},
                        {"schema", schema},
                        {"meta", json::object{{"resourceType", "ResourceType"}, {"location", location("ResourceTypes", name)}}}};
  };
  json::array list{type("User", "/Users", kScimUserSchema), type("Group", "/Groups", kScimGroupSchema)};
  return json::object{{"schemas", json::array{kScimListSchema}}, {"totalResults", 2}, {"startIndex", 1},
                      {"itemsPerPage", 2}, {"Resources", std::move(list)}};
}

json::object ScimService::schemas() const {
  auto attr = [](const char* name, const char* type, bool required, const char* mutability, bool multi = false,
                 const char* uniqueness = "none", bool case_exact = false) {
    return json::object{{"name", name},          {"type", type},
                        {"multiValued", multi},  {"required", required},
                        {"caseExact", case_exact}, {"mutability", mutability},
                        {"returned", "default"}, {"uniqueness", uniqueness}};
  };
  json::array user_attrs{attr("userName", "string", true, "immutable", false, "server"),
                         attr("externalId", "string", false, "readWrite", false, "none", true),
                         attr("name", "complex", false, "readWrite"),
                         attr("displayName", "string", false, "readWrite"),
                         attr("emails", "complex", false, "readWrite", true),
                         attr("active", "boolean", false, "readWrite"),
                         attr("groups", "complex", false, "readOnly", true)};
  json::array group_attrs{attr("displayName", "string", true, "readWrite", false, "server"),
                          attr("externalId", "string", false, "readWrite", false, "none", true),
                          attr("members", "complex", false, "readWrite", true)};
  auto schema = [this](const char* id, const char* name, json::array attrs) {
    return json::object{{"schemas", json::array{"urn:ietf:params:scim:schemas:core:2.0:Schema"}},
                        {"id", id},
                        {"name", name},
                        {"attributes", std::move(attrs)},
                        {"meta", json::object{{"resourceType", "Schema"}, {"location", location("Schemas", id)}}}};
  };
  json::array list{schema(kScimUserSchema, "User", std::move(user_attrs)),
                   schema(kScimGroupSchema, "Group", std::move(group_attrs))};
  return json::object{{"schemas", json::array{kScimListSchema}}, {"totalResults", 2}, {"startIndex", 1},
                      {"itemsPerPage", 2}, {"Resources", std::move(list)}};
}

Result<std::set<std::string>> ScimService::rooms_of(const std::string& scim_user_id) {
  storage::Stores& s = db_.read();
  std::set<std::string> out;
  DS_ASSIGN(auto groups, s.scim().groups_of(scim_user_id));
  for (auto& gid : groups) {
    DS_ASSIGN(auto g, s.scim().group(gid));
    if (!g) continue;
    DS_ASSIGN(auto rooms, s.scim().group_rooms(g->display_name));
    out.insert(rooms.begin(), rooms.end());
  }
  return out;
}

asio::awaitable<void> ScimService::move_rooms(const storage::ScimUser& u, const std::set<std::string>& before,
                                              const std::set<std::string>& after) {
  if (!u.active) co_return;
  for (auto& room : after) {
    if (before.count(room)) continue;
    const std::string reason = "Provisioned by the department's directory";
    auto st = co_await rooms_.place_member(room, u.user_id, reason);
    if (!st.ok()) DS_LOG(kWarn, "scim: could not bring {} into {}: {}", u.user_id, room, st.error().message);
  }
  for (auto& room : before) {
    if (after.count(room)) continue;
    auto m = rooms_.membership(room, u.user_id);
    if (!m.ok() || (*m != "join" && *m != "invite")) continue;
    const std::string leave = "leave";
    std::optional<std::string> reason = std::string("No longer in the directory group for this room");
    auto r = co_await rooms_.set_membership(u.user_id, room, u.user_id, leave, reason);
    if (!r.ok()) DS_LOG(kWarn, "scim: could not take {} out of {}: {}", u.user_id, room, r.error().message);
  }
}

Result<json::object> ScimService::group_rooms() {
  DS_ASSIGN(auto all, db_.read().scim().all_group_rooms());
  json::object out;
  for (auto& [group, room] : all) {
    if (!out.contains(group)) out[group] = json::array{};
    out[group].as_array().push_back(json::string(room));
  }
  return json::object{{"groups", std::move(out)}};
}

asio::awaitable<Status> ScimService::set_group_rooms(const std::string& group_name, std::vector<std::string> rooms,
                                                     std::string actor) {
  if (group_name.empty() || group_name.size() > 256) co_return Error::invalid_param("Invalid group name");
  for (auto& r : rooms)
    if (!is_valid_room_id(r)) co_return Error::invalid_param("Invalid room ID: " + r);
  // Members' rooms before and after, to move them.
  auto group = db_.read().scim().group_by_name(group_name);
  if (!group.ok()) co_return group.error();
  std::vector<storage::ScimUser> members;
  std::vector<std::set<std::string>> before;
  if (*group) {
    auto ids = db_.read().scim().members((*group)->id);
    if (!ids.ok()) co_return ids.error();
    for (auto& id : *ids) {
      auto u = db_.read().scim().user(id);
      if (!u.ok() || !*u) continue;
      auto r = rooms_of(id);
      if (!r.ok()) co_return r.error();
      members.push_back(**u);
      before.push_back(*r);
    }
  }
  json::array listed;
  for (auto& r : rooms) listed.push_back(json::string(r));
  auto job = [group_name, rooms, actor, listed](storage::Txn& t) -> Status {
    DS_TRY(t.scim().set_group_rooms(group_name, rooms));
    DS_TRY(audit_append(t, actor, "scim.group_rooms", "", json::object{{"group", group_name}, {"rooms", listed}}));
    return ok_status();
  };
  DS_CO_TRY(co_await db_.transact<Ok>(job));
  for (size_t i = 0; i < members.size(); ++i) {
    auto after = rooms_of(members[i].id);
    if (!after.ok()) co_return after.error();
    co_await move_rooms(members[i], before[i], *after);
  }
  co_return ok_status();
}

}  // namespace despatch
