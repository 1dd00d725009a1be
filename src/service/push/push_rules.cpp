// Server-default push rules, merging user changes into them, and the /pushrules edits.
// Evaluation lives in push_rules_eval.cpp.
#include "service/push/push_rules.h"

#include <cstddef>
#include <utility>

namespace despatch {
namespace {

constexpr std::string_view kMasterRule = ".m.rule.master";

// --- Building the defaults ------------------------------------------------------------------

json::object event_match(std::string_view key, std::string_view pattern) {
  return {{"kind", "event_match"}, {"key", key}, {"pattern", pattern}};
}

json::object property_is(std::string_view key, json::value value) {
  return {{"kind", "event_property_is"}, {"key", key}, {"value", std::move(value)}};
}

json::object member_count_is(std::string_view is) {
  return {{"kind", "room_member_count"}, {"is", is}};
}

json::object sound(std::string_view value) { return {{"set_tweak", "sound"}, {"value", value}}; }

json::object highlight() { return {{"set_tweak", "highlight"}}; }

json::object default_rule(std::string_view rule_id, json::array conditions, json::array actions,
                          bool enabled = true) {
  return {{"rule_id", rule_id},
          {"default", true},
          {"enabled", enabled},
          {"conditions", std::move(conditions)},
          {"actions", std::move(actions)}};
}

json::array default_override_rules(std::string_view user_id) {
  json::array rules;
  // Disabled by default; enabling it silences everything, user rules included.
  rules.push_back(default_rule(kMasterRule, {}, {}, /*enabled=*/false));
  rules.push_back(
      default_rule(".m.rule.suppress_notices", {event_match("content.msgtype", "m.notice")}, {}));
  rules.push_back(
      default_rule(".m.rule.invite_for_me",
                   {event_match("type", "m.room.member"),
                    event_match("content.membership", "invite"), event_match("state_key", user_id)},
                   {"notify", sound("default")}));
  rules.push_back(default_rule(".m.rule.member_event", {event_match("type", "m.room.member")}, {}));
  rules.push_back(default_rule(".m.rule.is_user_mention",
                               {{{"kind", "event_property_contains"},
                                 {"key", "content.m\\.mentions.user_ids"},
                                 {"value", user_id}}},
                               {"notify", sound("default"), highlight()}));
  rules.push_back(default_rule(".m.rule.is_room_mention",
                               {property_is("content.m\\.mentions.room", true),
                                {{"kind", "sender_notification_permission"}, {"key", "room"}}},
                               {"notify", highlight()}));
  rules.push_back(default_rule(
      ".m.rule.tombstone", {event_match("type", "m.room.tombstone"), event_match("state_key", "")},
      {"notify", highlight()}));
  rules.push_back(default_rule(".m.rule.reaction", {event_match("type", "m.reaction")}, {}));
  rules.push_back(
      default_rule(".m.rule.room.server_acl",
                   {event_match("type", "m.room.server_acl"), event_match("state_key", "")}, {}));
  rules.push_back(default_rule(".m.rule.suppress_edits",
                               {property_is("content.m\\.relates_to.rel_type", "m.replace")}, {}));
  return rules;
}

json::array default_underride_rules() {
  json::array rules;
  rules.push_back(default_rule(".m.rule.call", {event_match("type", "m.call.invite")},
                               {"notify", sound("ring")}));
  rules.push_back(default_rule(".m.rule.encrypted_room_one_to_one",
                               {member_count_is("2"), event_match("type", "m.room.encrypted")},
                               {"notify", sound("default")}));
  rules.push_back(default_rule(".m.rule.room_one_to_one",
                               {member_count_is("2"), event_match("type", "m.room.message")},
                               {"notify", sound("default")}));
  rules.push_back(
      default_rule(".m.rule.message", {event_match("type", "m.room.message")}, {"notify"}));
  rules.push_back(
      default_rule(".m.rule.encrypted", {event_match("type", "m.room.encrypted")}, {"notify"}));
  return rules;
}

// --- Reading stored overrides -------------------------------------------------------------

const json::object* object_at(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_object() ? &it->value().as_object() : nullptr;
}

const json::array* array_at(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_array() ? &it->value().as_array() : nullptr;
}

std::string_view rule_id_of(const json::value& rule) {
  if (!rule.is_object()) return {};
  const json::value* id = rule.as_object().if_contains("rule_id");
  return id && id->is_string() ? std::string_view(id->as_string()) : std::string_view();
}

std::optional<std::size_t> index_of(const json::array& rules, std::string_view rule_id) {
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (rule_id_of(rules[i]) == rule_id) return i;
  }
  return std::nullopt;
}

// Applies a user's enabled/actions changes to a copy of a server-default rule.
void apply_default_change(json::object& rule, const json::object* changes) {
  if (!changes) return;
  const json::object* change = object_at(*changes, rule_id_of(rule));
  if (!change) return;
  if (const json::value* e = change->if_contains("enabled"); e && e->is_bool()) {
    rule["enabled"] = e->as_bool();
  }
  if (const json::array* a = array_at(*change, "actions")) rule["actions"] = *a;
}

// A stored user rule in API shape, or nullopt if it is too broken to show.
std::optional<json::object> normalized_user_rule(const json::value& stored) {
  std::string_view id = rule_id_of(stored);
  if (id.empty() || id.front() == '.') return std::nullopt;
  json::object rule = stored.as_object();
  rule["default"] = false;
  if (!rule.contains("enabled") || !rule["enabled"].is_bool()) rule["enabled"] = true;
  if (!rule.contains("actions") || !rule["actions"].is_array()) rule["actions"] = json::array();
  return rule;
}

// The kind's default rules, independent of the user (ids and positions only).
const json::array& default_rules_of_kind(std::string_view kind) {
  static const json::object kTemplate = default_push_rules("");
  return kTemplate.at("global").as_object().at(kind).as_array();
}

bool is_default_rule(std::string_view kind, std::string_view rule_id) {
  return index_of(default_rules_of_kind(kind), rule_id).has_value();
}

// --- Validating edits ---------------------------------------------------------------------

Status check_kind(std::string_view kind) {
  if (is_push_rule_kind(kind)) return ok_status();
  return Error::invalid_param("Unknown push rule kind: " + std::string(kind));
}

Status check_new_rule_id(std::string_view rule_id) {
  if (rule_id.empty()) return Error::invalid_param("rule_id must not be empty");
  if (rule_id.front() == '.') {
    return Error::invalid_param("rule_ids starting with '.' are reserved for server defaults");
  }
  if (rule_id.find_first_of("/\\") != std::string_view::npos) {
    return Error::invalid_param("rule_id must not contain '/' or '\\'");
  }
  return ok_status();
}

// Accepts the actions the spec defines, plus any tweak, since tweaks pass through to gateways.
Status check_actions(const json::object& body) {
  const json::array* actions = array_at(body, "actions");
  if (!actions) return Error::bad_json("'actions' must be an array");
  for (const json::value& action : *actions) {
    if (action.is_string()) {
      const json::string& s = action.as_string();
      if (s == "notify" || s == "dont_notify" || s == "coalesce") continue;
      return Error::bad_json("Unrecognised action: " + std::string(s));
    }
    if (!action.is_object()) return Error::bad_json("Actions must be strings or objects");
    const json::value* tweak = action.as_object().if_contains("set_tweak");
    if (!tweak || !tweak->is_string()) return Error::bad_json("Unrecognised action object");
    const json::value* value = action.as_object().if_contains("value");
    if (tweak->as_string() == "highlight" && value && !value->is_bool()) {
      return Error::bad_json("The highlight tweak takes a boolean value");
    }
  }
  return ok_status();
}

// Builds the stored form of a user rule from a PUT body.
Result<json::object> rule_from_body(std::string_view kind, std::string_view rule_id,
                                    const json::object& body) {
  DS_TRY(check_actions(body));
  json::object rule{
      {"rule_id", rule_id}, {"default", false}, {"enabled", true}, {"actions", body.at("actions")}};
  if (kind == "content") {
    const json::value* pattern = body.if_contains("pattern");
    if (!pattern || !pattern->is_string()) {
      return Error::bad_json("Content rules need a string 'pattern'");
    }
    rule["pattern"] = *pattern;
  } else if (kind == "override" || kind == "underride") {
    const json::array* conditions = array_at(body, "conditions");
    if (!conditions) return Error::bad_json("'conditions' must be an array");
    for (const json::value& c : *conditions) {
      const json::value* ckind = c.is_object() ? c.as_object().if_contains("kind") : nullptr;
      if (!ckind || !ckind->is_string()) {
        return Error::bad_json("Every condition needs a string 'kind'");
      }
    }
    rule["conditions"] = *conditions;
  }
  return rule;
}

// The user's rules of `kind` inside `overrides`, created if absent or malformed.
json::array& mutable_custom_rules(json::object& overrides, std::string_view kind) {
  json::value& custom = overrides["custom"];
  if (!custom.is_object()) custom = json::object();
  json::value& rules = custom.as_object()[kind];
  if (!rules.is_array()) rules = json::array();
  return rules.as_array();
}

// The stored change record for a server-default rule, created if absent.
json::object& mutable_default_change(json::object& overrides, std::string_view kind,
                                     std::string_view rule_id) {
  json::value& defaults = overrides["defaults"];
  if (!defaults.is_object()) defaults = json::object();
  json::value& of_kind = defaults.as_object()[kind];
  if (!of_kind.is_object()) of_kind = json::object();
  json::value& change = of_kind.as_object()[rule_id];
  if (!change.is_object()) change = json::object();
  return change.as_object();
}

// Where an existing rule lives, for edits that apply to both user and default rules.
struct RuleLocation {
  json::object* user_rule = nullptr;  // set for user-defined rules
  bool is_default = false;
};

Result<RuleLocation> locate_rule(json::object& overrides, std::string_view kind,
                                 std::string_view rule_id) {
  DS_TRY(check_kind(kind));
  if (is_default_rule(kind, rule_id)) return RuleLocation{nullptr, true};
  json::array& rules = mutable_custom_rules(overrides, kind);
  std::optional<std::size_t> i = index_of(rules, rule_id);
  if (!i) return Error::not_found("The push rule was not found.");
  return RuleLocation{&rules[*i].as_object(), false};
}

Result<json::object> find_effective_rule(std::string_view user_id, const json::object& overrides,
                                         std::string_view kind, std::string_view rule_id) {
  DS_TRY(check_kind(kind));
  json::object rules = effective_push_rules(user_id, overrides);
  const json::array& of_kind = rules["global"].as_object()[kind].as_array();
  std::optional<std::size_t> i = index_of(of_kind, rule_id);
  if (!i) return Error::not_found("The push rule was not found.");
  return of_kind[*i].as_object();
}

}  // namespace

bool is_push_rule_kind(std::string_view kind) {
  for (const char* k : kPushRuleKinds) {
    if (kind == k) return true;
  }
  return false;
}

json::object default_push_rules(std::string_view user_id) {
  json::object global{{"override", default_override_rules(user_id)},
                      {"content", json::array()},
                      {"room", json::array()},
                      {"sender", json::array()},
                      {"underride", default_underride_rules()}};
  return {{"global", std::move(global)}};
}

json::object effective_push_rules(std::string_view user_id, const json::object& user_overrides) {
  json::object result = default_push_rules(user_id);
  json::object& global = result["global"].as_object();
  const json::object* custom = object_at(user_overrides, "custom");
  const json::object* changes = object_at(user_overrides, "defaults");
  for (const char* kind : kPushRuleKinds) {
    json::array& defaults = global[kind].as_array();
    const json::object* kind_changes = changes ? object_at(*changes, kind) : nullptr;
    for (json::value& rule : defaults) apply_default_change(rule.as_object(), kind_changes);

    json::array merged;
    auto next_default = defaults.begin();
    // The spec keeps the master switch above everything, user rules included.
    if (next_default != defaults.end() && rule_id_of(*next_default) == kMasterRule) {
      merged.push_back(std::move(*next_default++));
    }
    if (const json::array* user_rules = custom ? array_at(*custom, kind) : nullptr) {
      for (const json::value& stored : *user_rules) {
        if (auto rule = normalized_user_rule(stored)) merged.push_back(std::move(*rule));
      }
    }
    for (; next_default != defaults.end(); ++next_default) {
      merged.push_back(std::move(*next_default));
    }
    global[kind] = std::move(merged);
  }
  return result;
}

Result<json::object> get_push_rule(std::string_view user_id, const json::object& overrides,
                                   std::string_view kind, std::string_view rule_id) {
  return find_effective_rule(user_id, overrides, kind, rule_id);
}

Result<bool> get_push_rule_enabled(std::string_view user_id, const json::object& overrides,
                                   std::string_view kind, std::string_view rule_id) {
  DS_ASSIGN(json::object rule, find_effective_rule(user_id, overrides, kind, rule_id));
  return rule["enabled"].as_bool();
}

Result<json::array> get_push_rule_actions(std::string_view user_id, const json::object& overrides,
                                          std::string_view kind, std::string_view rule_id) {
  DS_ASSIGN(json::object rule, find_effective_rule(user_id, overrides, kind, rule_id));
  return rule["actions"].as_array();
}

Result<json::object> put_push_rule(const json::object& overrides, std::string_view kind,
                                   std::string_view rule_id, const json::object& body,
                                   std::optional<std::string_view> before,
                                   std::optional<std::string_view> after) {
  DS_TRY(check_kind(kind));
  DS_TRY(check_new_rule_id(rule_id));
  DS_ASSIGN(json::object rule, rule_from_body(kind, rule_id, body));

  json::object out = overrides;
  json::array& rules = mutable_custom_rules(out, kind);
  std::optional<std::size_t> existing = index_of(rules, rule_id);
  if (existing) {
    // An update changes what the rule does, not whether the user switched it off.
    const json::value* enabled = rules[*existing].as_object().if_contains("enabled");
    if (enabled && enabled->is_bool()) rule["enabled"] = enabled->as_bool();
    if (!before && !after) {
      rules[*existing] = std::move(rule);
      return out;
    }
    rules.erase(rules.begin() + static_cast<std::ptrdiff_t>(*existing));
  }

  std::size_t position = 0;  // new rules default to the most important user rule
  if (before || after) {
    std::string_view anchor = before ? *before : *after;
    std::optional<std::size_t> i = index_of(rules, anchor);
    if (!i) return Error::unknown("before/after rule not found: " + std::string(anchor));
    position = before ? *i : *i + 1;
  }
  rules.insert(rules.begin() + static_cast<std::ptrdiff_t>(position), std::move(rule));
  return out;
}

Result<json::object> delete_push_rule(const json::object& overrides, std::string_view kind,
                                      std::string_view rule_id) {
  json::object out = overrides;
  DS_ASSIGN(RuleLocation where, locate_rule(out, kind, rule_id));
  if (where.is_default) return Error::invalid_param("Server-default rules cannot be deleted");
  json::array& rules = mutable_custom_rules(out, kind);
  rules.erase(rules.begin() + static_cast<std::ptrdiff_t>(*index_of(rules, rule_id)));
  return out;
}

Result<json::object> set_push_rule_enabled(const json::object& overrides, std::string_view kind,
                                           std::string_view rule_id, const json::object& body) {
  json::object out = overrides;
  DS_ASSIGN(RuleLocation where, locate_rule(out, kind, rule_id));
  const json::value* enabled = body.if_contains("enabled");
  if (!enabled || !enabled->is_bool()) return Error::bad_json("'enabled' must be a boolean");
  json::object& target =
      where.is_default ? mutable_default_change(out, kind, rule_id) : *where.user_rule;
  target["enabled"] = enabled->as_bool();
  return out;
}

Result<json::object> set_push_rule_actions(const json::object& overrides, std::string_view kind,
                                           std::string_view rule_id, const json::object& body) {
  json::object out = overrides;
  DS_ASSIGN(RuleLocation where, locate_rule(out, kind, rule_id));
  DS_TRY(check_actions(body));
  json::object& target =
      where.is_default ? mutable_default_change(out, kind, rule_id) : *where.user_rule;
  target["actions"] = body.at("actions");
  return out;
}

}  // namespace despatch
