// SCIM Users: provisioned accounts. userName is the Matrix localpart.
#include "core/ids.h"
#include "core/log.h"
#include "service/common/time.h"
#include "service/records/audit.h"
#include "service/scim/scim_resources.h"
#include "service/scim/scim_service.h"
#include "storage/scim_store.h"
#include "storage/user_store.h"

namespace despatch {

namespace asio = boost::asio;
using storage::ScimUser;

namespace {

struct UserInput {
  std::string user_name;
  std::optional<std::string> external_id;
  std::string display_name;
  json::object name;
  json::array emails;
  bool active = true;
};

Result<UserInput> parse_user(const json::object& body) {
  if (!scim::has_schema(body, kScimUserSchema))
    return scim_error(400, "invalidSyntax", std::string("schemas must list ") + kScimUserSchema);
  UserInput in;
  DS_ASSIGN(auto user_name, scim::opt_text(body, "userName"));
  if (!user_name || user_name->empty()) return scim_error(400, "invalidValue", "userName is required");
  // The localpart: Matrix IDs are lower case, and userName compares case-insensitively.
  for (char& c : *user_name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!is_valid_localpart(*user_name) || user_name->size() > 200)
    return scim_error(400, "invalidValue",
                      "userName must be a Matrix localpart: a-z, 0-9 and . _ = - / + only (got '" + *user_name + "')");
  in.user_name = *user_name;
  DS_ASSIGN(in.external_id, scim::opt_text(body, "externalId"));
  if (const json::value* n = scim_attr(body, "name"); n && !n->is_null()) {
    if (!n->is_object()) return scim_error(400, "invalidValue", "name must be an object");
    in.name = n->as_object();
  }
  if (const json::value* e = scim_attr(body, "emails"); e && !e->is_null()) {
    if (!e->is_array()) return scim_error(400, "invalidValue", "emails must be an array");
    for (auto& item : e->as_array()) {
      const json::value* v = item.is_object() ? scim_attr(item.as_object(), "value") : nullptr;
      if (!v || !v->is_string() || v->as_string().find('@') == json::string::npos)
        return scim_error(400, "invalidValue", "each email needs a value that is an address");
    }
    in.emails = e->as_array();
  }
  DS_ASSIGN(auto active, scim::loose_bool(body, "active"));
  in.active = active.value_or(true);
  DS_ASSIGN(auto display, scim::opt_text(body, "displayName"));
  if (display && !display->empty()) {
    in.display_name = *display;
  } else if (auto* f = scim_attr(in.name, "formatted"); f && f->is_string() && !f->as_string().empty()) {
    in.display_name = std::string(f->as_string());
  } else {
    std::string given, family;
    if (auto* g = scim_attr(in.name, "givenName"); g && g->is_string()) given = std::string(g->as_string());
    if (auto* fa = scim_attr(in.name, "familyName"); fa && fa->is_string()) family = std::string(fa->as_string());
    in.display_name = given.empty() || family.empty() ? given + family : given + " " + family;
    if (in.display_name.empty()) in.display_name = in.user_name;
  }
  if (in.display_name.size() > 256) return scim_error(400, "invalidValue", "displayName is too long");
  return in;
}

}  // namespace

json::object ScimService::render_user(const ScimUser& u) {
  storage::Stores& s = db_.read();
  bool active = u.active;
  if (auto account = s.users().account(u.user_id); account.ok() && *account && (*account)->deactivated) active = false;
  json::object o{{"schemas", json::array{kScimUserSchema}}, {"id", u.id},          {"userName", u.user_name},
                 {"displayName", u.display_name},             {"active", active}};
  if (u.external_id) o["externalId"] = *u.external_id;
  if (auto name = json::parse(u.name_json); name.is_object() && !name.as_object().empty()) o["name"] = name;
  if (auto emails = json::parse(u.emails_json); emails.is_array() && !emails.as_array().empty()) o["emails"] = emails;
  json::array groups;
  if (auto ids = s.scim().groups_of(u.id); ids.ok())
    for (auto& gid : *ids)
      if (auto g = s.scim().group(gid); g.ok() && *g)
        groups.push_back(json::object{{"value", gid}, {"display", (*g)->display_name}, {"$ref", location("Groups", gid)}});
  if (!groups.empty()) o["groups"] = std::move(groups);
  o["meta"] = json::object{{"resourceType", "User"},
                           {"created", scim::iso_time(u.created_ts)},
                           {"lastModified", scim::iso_time(u.updated_ts)},
                           {"location", location("Users", u.id)},
                           {"version", "W/\"" + std::to_string(u.version) + "\""}};
  return o;
}

asio::awaitable<Result<json::object>> ScimService::create_user(const json::object& body, std::string actor) {
  DS_CO_ASSIGN(UserInput in, parse_user(body));
  std::string user_id = "@" + in.user_name + ":" + config_.server_name;
  if (user_id == config_.keeper_user_id())
    co_return scim_error(409, "uniqueness", "userName is taken by the server's records keeper");
  DS_CO_ASSIGN(auto existing, db_.read().scim().user_by_name(in.user_name));
  if (existing) co_return scim_error(409, "uniqueness", "A user with userName '" + in.user_name + "' exists");
  DS_CO_ASSIGN(auto account, users_.account(user_id));
  if (account && account->deactivated)
    co_return scim_error(409, "uniqueness", "'" + in.user_name + "' belonged to a deactivated account; names are not reused");
  ScimUser u;
  u.id = scim::new_id();
  u.user_id = user_id;
  u.user_name = in.user_name;
  u.external_id = in.external_id;
  u.display_name = in.display_name;
  u.name_json = json::serialize(in.name);
  u.emails_json = json::serialize(in.emails);
  u.active = in.active;
  u.created_ts = u.updated_ts = now_ms();
  bool adopt = account.has_value();  // an account made before provisioning is taken over
  auto job = [u, adopt, actor](storage::Txn& t) -> Status {
    // No password: a provisioned account signs in through the identity provider.
    if (!adopt) DS_TRY(insert_user(t, u.user_id, "", false));
    DS_TRY(t.users().set_displayname(u.user_id, u.display_name));
    DS_TRY(t.scim().put_user(u));
    json::object details{{"user_id", u.user_id}, {"scim_id", u.id}, {"adopted", adopt}};
    if (u.external_id) details["external_id"] = *u.external_id;
    DS_TRY(audit_append(t, actor, "scim.user.create", "", details));
    return ok_status();
  };
  DS_CO_TRY(co_await db_.transact<Ok>(job));
  if (adopt) co_await rooms_.propagate_profile(user_id);
  if (!u.active) {
    AccountActor by{actor, "", "scim"};
    auto r = co_await leavers_.deactivate(user_id, false, by);
    if (!r.ok()) co_return r.error();
  }
  co_return render_user(u);
}

Result<json::object> ScimService::get_user(const std::string& id) {
  DS_ASSIGN(auto u, db_.read().scim().user(id));
  if (!u) return scim_error(404, "", "No user with id " + id);
  return render_user(*u);
}

Result<json::object> ScimService::list_users(const ScimPage& page) {
  std::vector<ScimComparison> filter;
  if (!page.filter.empty()) {
    DS_ASSIGN(filter, parse_scim_filter(page.filter));
  }
  std::optional<storage::ScimField> field;
  std::string value;
  for (auto& c : filter) {
    if (auto f = scim::indexed_field(c)) {
      field = f;
      value = c.value.is_bool() ? (c.value.as_bool() ? "true" : "false") : std::string(c.value.as_string());
      break;
    }
  }
  DS_ASSIGN(auto users, db_.read().scim().users(field, value));
  std::vector<json::object> out;
  for (auto& u : users) {
    json::object r = render_user(u);
    bool keep = true;
    for (auto& c : filter) {
      bool exact = c.attribute == "id" || c.attribute == "externalid";
      keep = keep && scim_matches(c, scim::path_value(r, c.attribute), exact);
    }
    if (keep) out.push_back(std::move(r));
  }
  return scim::list_response(std::move(out), page);
}

asio::awaitable<Result<json::object>> ScimService::apply_user(ScimUser current, const json::object& body,
                                                              std::string actor) {
  DS_CO_ASSIGN(UserInput in, parse_user(body));
  if (in.user_name != current.user_name)
    co_return scim_error(400, "mutability", "userName is the Matrix user ID and cannot change");
  ScimUser u = current;
  u.external_id = in.external_id;
  u.display_name = in.display_name;
  u.name_json = json::serialize(in.name);
  u.emails_json = json::serialize(in.emails);
  u.active = in.active;
  u.updated_ts = now_ms();
  u.version = current.version + 1;
  DS_CO_ASSIGN(auto account, users_.account(u.user_id));
  bool was_active = account && !account->deactivated;
  bool renamed = in.display_name != current.display_name;
  auto job = [u, renamed, actor, was_active](storage::Txn& t) -> Status {
    if (renamed) DS_TRY(t.users().set_displayname(u.user_id, u.display_name));
    DS_TRY(t.scim().put_user(u));
    json::object details{{"user_id", u.user_id}, {"scim_id", u.id}, {"active", u.active}, {"was_active", was_active}};
    DS_TRY(audit_append(t, actor, "scim.user.update", "", details));
    return ok_status();
  };
  DS_CO_TRY(co_await db_.transact<Ok>(job));
  if (renamed && was_active) co_await rooms_.propagate_profile(u.user_id);
  AccountActor by{actor, "", "scim"};
  if (was_active && !u.active) {
    auto r = co_await leavers_.deactivate(u.user_id, false, by);
    if (!r.ok()) co_return r.error();
  } else if (!was_active && u.active && account) {
    // A returning member of staff: the account opens again (signing in through the identity
    // provider; the random password is never shown) and rejoins its groups' rooms.
    DS_CO_TRY(co_await users_.reactivate(u.user_id, random_string(32), by));
    DS_CO_ASSIGN(auto rooms, rooms_of(u.id));
    std::set<std::string> none;
    co_await move_rooms(u, none, rooms);
  }
  co_return render_user(u);
}

asio::awaitable<Result<json::object>> ScimService::replace_user(const std::string& id, const json::object& body,
                                                                std::string actor) {
  DS_CO_ASSIGN(auto u, db_.read().scim().user(id));
  if (!u) co_return scim_error(404, "", "No user with id " + id);
  co_return co_await apply_user(*u, body, std::move(actor));
}

asio::awaitable<Result<json::object>> ScimService::patch_user(const std::string& id, const json::object& body,
                                                              std::string actor) {
  DS_CO_ASSIGN(auto u, db_.read().scim().user(id));
  if (!u) co_return scim_error(404, "", "No user with id " + id);
  json::object current = render_user(*u);
  current.erase("meta");
  current.erase("groups");
  DS_CO_ASSIGN(json::object patched, apply_scim_patch(std::move(current), body));
  co_return co_await apply_user(*u, patched, std::move(actor));
}

asio::awaitable<Status> ScimService::delete_user(const std::string& id, std::string actor) {
  DS_CO_ASSIGN(auto u, db_.read().scim().user(id));
  if (!u) co_return scim_error(404, "", "No user with id " + id);
  DS_CO_ASSIGN(auto account, users_.account(u->user_id));
  if (account && !account->deactivated) {
    AccountActor by{actor, "", "scim"};
    auto r = co_await leavers_.deactivate(u->user_id, false, by);
    if (!r.ok()) co_return r.error();
  }
  std::string user_id = u->user_id;
  auto job = [id, user_id, actor](storage::Txn& t) -> Status {
    DS_TRY(t.scim().delete_user(id));
    DS_TRY(audit_append(t, actor, "scim.user.delete", "", json::object{{"user_id", user_id}, {"scim_id", id}}));
    return ok_status();
  };
  co_return co_await db_.transact<Ok>(job);
}

}  // namespace despatch
