// SCIM Groups: membership of department rooms. A group's members belong in the rooms an
// administrator mapped to its display name.
#include "core/log.h"
#include "service/common/time.h"
#include "service/records/audit.h"
#include "service/scim/scim_resources.h"
#include "service/scim/scim_service.h"
#include "storage/scim_store.h"

#include <map>

namespace despatch {

namespace asio = boost::asio;
using storage::ScimGroup;
using storage::ScimUser;

namespace {

struct GroupInput {
  std::string display_name;
  std::optional<std::string> external_id;
  std::set<std::string> members;  // SCIM user ids
};

Result<GroupInput> parse_group(storage::Stores& s, const json::object& body) {
  if (!scim::has_schema(body, kScimGroupSchema))
    return scim_error(400, "invalidSyntax", std::string("schemas must list ") + kScimGroupSchema);
  GroupInput in;
  DS_ASSIGN(auto name, scim::opt_text(body, "displayName"));
  if (!name || name->empty()) return scim_error(400, "invalidValue", "displayName is required");
  if (name->size() > 256) return scim_error(400, "invalidValue", "displayName is too long");
  in.display_name = *name;
  DS_ASSIGN(in.external_id, scim::opt_text(body, "externalId"));
  if (const json::value* m = scim_attr(body, "members"); m && !m->is_null()) {
    if (!m->is_array()) return scim_error(400, "invalidValue", "members must be an array");
    for (auto& item : m->as_array()) {
      const json::value* v = item.is_object() ? scim_attr(item.as_object(), "value") : nullptr;
      if (!v || !v->is_string()) return scim_error(400, "invalidValue", "each member needs a value (a User id)");
      std::string id(v->as_string());
      DS_ASSIGN(auto u, s.scim().user(id));
      if (!u) return scim_error(400, "invalidValue", "No user with id " + id);
      in.members.insert(id);
    }
  }
  return in;
}

}  // namespace

json::object ScimService::render_group(const ScimGroup& g) {
  storage::Stores& s = db_.read();
  json::array members;
  if (auto ids = s.scim().members(g.id); ids.ok())
    for (auto& id : *ids) {
      json::object m{{"value", id}, {"$ref", location("Users", id)}, {"type", "User"}};
      if (auto u = s.scim().user(id); u.ok() && *u) m["display"] = (*u)->display_name;
      members.push_back(std::move(m));
    }
  json::object o{{"schemas", json::array{kScimGroupSchema}}, {"id", g.id}, {"displayName", g.display_name},
                 {"members", std::move(members)}};
  if (g.external_id) o["externalId"] = *g.external_id;
  o["meta"] = json::object{{"resourceType", "Group"},
                           {"created", scim::iso_time(g.created_ts)},
                           {"lastModified", scim::iso_time(g.updated_ts)},
                           {"location", location("Groups", g.id)},
                           {"version", "W/\"" + std::to_string(g.version) + "\""}};
  return o;
}

asio::awaitable<Result<json::object>> ScimService::create_group(const json::object& body, std::string actor) {
  DS_CO_ASSIGN(GroupInput in, parse_group(db_.read(), body));
  DS_CO_ASSIGN(auto existing, db_.read().scim().group_by_name(in.display_name));
  if (existing) co_return scim_error(409, "uniqueness", "A group named '" + in.display_name + "' exists");
  ScimGroup g;
  g.id = scim::new_id();
  g.display_name = in.display_name;
  g.external_id = in.external_id;
  g.created_ts = g.updated_ts = now_ms();
  co_return co_await apply_group(g, body, std::move(actor), true);
}

Result<json::object> ScimService::get_group(const std::string& id) {
  DS_ASSIGN(auto g, db_.read().scim().group(id));
  if (!g) return scim_error(404, "", "No group with id " + id);
  return render_group(*g);
}

Result<json::object> ScimService::list_groups(const ScimPage& page) {
  std::vector<ScimComparison> filter;
  if (!page.filter.empty()) {
    DS_ASSIGN(filter, parse_scim_filter(page.filter));
  }
  std::optional<storage::ScimField> field;
  std::string value;
  for (auto& c : filter) {
    auto f = scim::indexed_field(c);
    if (f && *f != storage::ScimField::kUserName && *f != storage::ScimField::kActive) {
      field = f;
      value = std::string(c.value.as_string());
      break;
    }
  }
  DS_ASSIGN(auto groups, db_.read().scim().groups(field, value));
  std::vector<json::object> out;
  for (auto& g : groups) {
    json::object r = render_group(g);
    bool keep = true;
    for (auto& c : filter) {
      bool exact = c.attribute == "id" || c.attribute == "externalid" || c.attribute == "members.value";
      keep = keep && scim_matches(c, scim::path_value(r, c.attribute), exact);
    }
    if (keep) out.push_back(std::move(r));
  }
  return scim::list_response(std::move(out), page);
}

// Stores the group as body describes it (a new one, a PUT, a PATCH's result) and moves the
// members whose rooms changed: the added into the group's rooms, the removed out of them.
asio::awaitable<Result<json::object>> ScimService::apply_group(ScimGroup current, const json::object& body,
                                                               std::string actor, bool is_new) {
  DS_CO_ASSIGN(GroupInput in, parse_group(db_.read(), body));
  if (in.display_name != current.display_name) {
    DS_CO_ASSIGN(auto clash, db_.read().scim().group_by_name(in.display_name));
    if (clash && clash->id != current.id)
      co_return scim_error(409, "uniqueness", "A group named '" + in.display_name + "' exists");
  }
  DS_CO_ASSIGN(auto old_members, db_.read().scim().members(current.id));
  std::set<std::string> affected(old_members.begin(), old_members.end());
  affected.insert(in.members.begin(), in.members.end());
  std::map<std::string, std::set<std::string>> before;
  for (auto& id : affected) {
    DS_CO_ASSIGN(before[id], rooms_of(id));
  }
  ScimGroup g = current;
  g.display_name = in.display_name;
  g.external_id = in.external_id;
  g.updated_ts = now_ms();
  if (!is_new) g.version = current.version + 1;
  std::vector<std::string> old_list = old_members;
  std::set<std::string> members = in.members;
  auto job = [g, old_list, members, actor, is_new](storage::Txn& t) -> Status {
    DS_TRY(t.scim().put_group(g));
    for (auto& id : old_list)
      if (!members.count(id)) DS_TRY(t.scim().remove_member(g.id, id));
    json::array listed;
    for (auto& id : members) {
      DS_TRY(t.scim().add_member(g.id, id));
      listed.push_back(json::string(id));
    }
    json::object details{{"scim_id", g.id}, {"display_name", g.display_name}, {"members", std::move(listed)}};
    DS_TRY(audit_append(t, actor, is_new ? "scim.group.create" : "scim.group.update", "", details));
    return ok_status();
  };
  DS_CO_TRY(co_await db_.transact<Ok>(job));
  for (auto& id : affected) {
    DS_CO_ASSIGN(auto u, db_.read().scim().user(id));
    if (!u) continue;
    DS_CO_ASSIGN(auto after, rooms_of(id));
    co_await move_rooms(*u, before[id], after);
  }
  co_return render_group(g);
}

asio::awaitable<Result<json::object>> ScimService::replace_group(const std::string& id, const json::object& body,
                                                                 std::string actor) {
  DS_CO_ASSIGN(auto g, db_.read().scim().group(id));
  if (!g) co_return scim_error(404, "", "No group with id " + id);
  co_return co_await apply_group(*g, body, std::move(actor), false);
}

asio::awaitable<Result<json::object>> ScimService::patch_group(const std::string& id, const json::object& body,
                                                               std::string actor) {
  DS_CO_ASSIGN(auto g, db_.read().scim().group(id));
  if (!g) co_return scim_error(404, "", "No group with id " + id);
  json::object current = render_group(*g);
  current.erase("meta");
  DS_CO_ASSIGN(json::object patched, apply_scim_patch(std::move(current), body));
  co_return co_await apply_group(*g, patched, std::move(actor), false);
}

asio::awaitable<Status> ScimService::delete_group(const std::string& id, std::string actor) {
  DS_CO_ASSIGN(auto g, db_.read().scim().group(id));
  if (!g) co_return scim_error(404, "", "No group with id " + id);
  DS_CO_ASSIGN(auto members, db_.read().scim().members(id));
  std::map<std::string, std::set<std::string>> before;
  for (auto& m : members) {
    DS_CO_ASSIGN(before[m], rooms_of(m));
  }
  std::string name = g->display_name;
  auto job = [id, name, actor](storage::Txn& t) -> Status {
    DS_TRY(t.scim().delete_group(id));
    DS_TRY(audit_append(t, actor, "scim.group.delete", "", json::object{{"scim_id", id}, {"display_name", name}}));
    return ok_status();
  };
  DS_CO_TRY(co_await db_.transact<Ok>(job));
  for (auto& m : members) {
    DS_CO_ASSIGN(auto u, db_.read().scim().user(m));
    if (!u) continue;
    DS_CO_ASSIGN(auto after, rooms_of(m));
    co_await move_rooms(*u, before[m], after);
  }
  co_return ok_status();
}

}  // namespace despatch
