// PatchOp (RFC 7644 §3.5.2) on a resource's JSON: the service renders the resource, applies
// the operations here and stores the result as it would a PUT, so PATCH and PUT share one
// set of rules.
#include "service/scim/scim_filter.h"
#include "service/scim/scim_service.h"

#include <algorithm>
#include <cctype>

namespace despatch {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// The key of o naming attribute name, whatever its case; "" when absent.
std::string key_of(const json::object& o, std::string_view name) {
  for (auto& [k, v] : o)
    if (iequals(k, name)) return std::string(k);
  return "";
}

// "urn:...:User:name.givenName" -> "name.givenName" (core schema attributes only).
std::string strip_schema(std::string path) {
  if (path.rfind("urn:", 0) == 0 || path.rfind("URN:", 0) == 0) {
    // The attribute starts after the last ':' before any '[' or '.'.
    size_t stop = path.find_first_of("[");
    size_t colon = path.rfind(':', stop == std::string::npos ? std::string::npos : stop);
    path = path.substr(colon + 1);
  }
  return path;
}

struct Path {
  std::string attr;    // "emails"
  std::string filter;  // `type eq "work"`, "" when none
  std::string sub;     // "value", "" when none
};

Result<Path> parse_path(const std::string& raw) {
  std::string p = strip_schema(raw);
  Path out;
  size_t br = p.find('[');
  if (br != std::string::npos) {
    size_t close = p.find(']', br);
    if (close == std::string::npos) return scim_error(400, "invalidPath", "Unclosed '[' in path " + raw);
    out.attr = p.substr(0, br);
    out.filter = p.substr(br + 1, close - br - 1);
    std::string rest = p.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != '.') return scim_error(400, "invalidPath", "Unexpected text after ']' in path " + raw);
      out.sub = rest.substr(1);
    }
  } else {
    size_t dot = p.find('.');
    out.attr = dot == std::string::npos ? p : p.substr(0, dot);
    if (dot != std::string::npos) out.sub = p.substr(dot + 1);
  }
  if (out.attr.empty()) return scim_error(400, "invalidPath", "Empty attribute in path " + raw);
  return out;
}

bool element_matches(const json::value& el, const std::vector<ScimComparison>& filter) {
  if (!el.is_object()) return false;
  for (auto& c : filter) {
    const json::value* v = scim_attr(el.as_object(), c.attribute);
    json::value none;
    if (!scim_matches(c, v ? *v : none, c.attribute == "value")) return false;
  }
  return true;
}

// add merges into multi-valued attributes and complex ones; replace overwrites.
void put_attr(json::object& o, const std::string& name, const json::value& value, bool add) {
  std::string key = key_of(o, name);
  if (key.empty()) key = name;
  auto* existing = o.if_contains(key);
  if (add && existing && existing->is_array() && value.is_array()) {
    json::array& arr = existing->as_array();
    for (auto& v : value.as_array()) {
      bool dup = std::any_of(arr.begin(), arr.end(), [&](const json::value& e) {
        if (e == v) return true;
        auto* a = e.is_object() ? e.as_object().if_contains("value") : nullptr;
        auto* b = v.is_object() ? v.as_object().if_contains("value") : nullptr;
        return a && b && *a == *b;
      });
      if (!dup) arr.push_back(v);
    }
    return;
  }
  if (add && existing && existing->is_array() && !value.is_array()) {
    existing->as_array().push_back(value);
    return;
  }
  if (existing && existing->is_object() && value.is_object()) {
    for (auto& [k, v] : value.as_object()) put_attr(existing->as_object(), std::string(k), v, add);
    return;
  }
  o[key] = value;
}

Status apply_op(json::object& res, const std::string& op, const json::object& operation) {
  const json::value* path_v = scim_attr(operation, "path");
  const json::value* value = scim_attr(operation, "value");
  bool add = op == "add";
  if (!path_v || (path_v->is_string() && path_v->as_string().empty())) {
    if (op == "remove") return scim_error(400, "noTarget", "remove needs a path");
    if (!value || !value->is_object()) return scim_error(400, "invalidValue", "Without a path, value must be an object");
    for (auto& [k, v] : value->as_object()) {
      std::string name = strip_schema(std::string(k));
      if (std::string(k).rfind("urn:", 0) == 0 && name == std::string(k)) continue;  // an extension schema's object
      if (name.find('.') != std::string::npos) {
        json::object op2{{"op", op}, {"path", name}, {"value", v}};
        DS_TRY(apply_op(res, op, op2));
        continue;
      }
      put_attr(res, name, v, add);
    }
    return ok_status();
  }
  if (!path_v->is_string()) return scim_error(400, "invalidPath", "path must be a string");
  DS_ASSIGN(Path p, parse_path(std::string(path_v->as_string())));
  if (op != "remove" && !value) return scim_error(400, "invalidValue", op + " needs a value");
  std::string key = key_of(res, p.attr);
  if (p.filter.empty()) {
    if (op == "remove") {
      if (key.empty()) return ok_status();
      if (p.sub.empty()) {
        res.erase(key);
      } else if (res[key].is_object()) {
        std::string sub_key = key_of(res[key].as_object(), p.sub);
        if (!sub_key.empty()) res[key].as_object().erase(sub_key);
      }
      return ok_status();
    }
    if (p.sub.empty()) {
      put_attr(res, p.attr, *value, add);
    } else {
      if (key.empty()) {
        key = p.attr;
        res[key] = json::object{};
      }
      if (!res[key].is_object()) return scim_error(400, "invalidPath", p.attr + " has no sub-attributes");
      put_attr(res[key].as_object(), p.sub, *value, add);
    }
    return ok_status();
  }
  DS_ASSIGN(auto filter, parse_scim_filter(p.filter));
  if (key.empty()) {
    if (op == "remove") return ok_status();
    key = p.attr;
    res[key] = json::array{};
  }
  if (!res[key].is_array()) return scim_error(400, "invalidPath", p.attr + " is not multi-valued");
  json::array& arr = res[key].as_array();
  if (op == "remove") {
    json::array kept;
    for (auto& el : arr) {
      if (!element_matches(el, filter)) {
        kept.push_back(el);
      } else if (!p.sub.empty() && el.is_object()) {
        json::object copy = el.as_object();
        std::string sub_key = key_of(copy, p.sub);
        if (!sub_key.empty()) copy.erase(sub_key);
        kept.push_back(copy);
      }
    }
    res[key] = std::move(kept);
    return ok_status();
  }
  bool any = false;
  for (auto& el : arr) {
    if (!element_matches(el, filter)) continue;
    any = true;
    if (p.sub.empty()) el = *value;
    else put_attr(el.as_object(), p.sub, *value, false);
  }
  if (!any) {
    // Nothing matched `emails[type eq "work"].value`: the element the filter describes is
    // made, as identity providers expect when they set a work address for the first time.
    json::object el;
    for (auto& c : filter)
      if (c.op == "eq") el[c.attribute] = c.value;
    if (p.sub.empty()) {
      if (!value->is_object()) return scim_error(400, "noTarget", "No value of " + p.attr + " matches the filter");
      for (auto& [k, v] : value->as_object()) el[k] = v;
    } else {
      el[p.sub] = *value;
    }
    arr.push_back(std::move(el));
  }
  return ok_status();
}

}  // namespace

const json::value* scim_attr(const json::object& o, std::string_view name) {
  for (auto& [k, v] : o)
    if (iequals(k, name)) return &v;
  return nullptr;
}

Result<json::object> apply_scim_patch(json::object resource, const json::object& patch) {
  const json::value* schemas = scim_attr(patch, "schemas");
  bool is_patch = false;
  if (schemas && schemas->is_array())
    for (auto& s : schemas->as_array()) is_patch |= s.is_string() && s.as_string() == kScimPatchSchema;
  if (!is_patch) return scim_error(400, "invalidSyntax", std::string("schemas must list ") + kScimPatchSchema);
  const json::value* ops = scim_attr(patch, "Operations");
  if (!ops || !ops->is_array() || ops->as_array().empty())
    return scim_error(400, "invalidSyntax", "Operations must be a non-empty array");
  for (auto& o : ops->as_array()) {
    if (!o.is_object()) return scim_error(400, "invalidSyntax", "Each operation must be an object");
    const json::value* op = scim_attr(o.as_object(), "op");
    if (!op || !op->is_string()) return scim_error(400, "invalidSyntax", "Each operation needs an op");
    std::string name(op->as_string());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (name != "add" && name != "replace" && name != "remove")
      return scim_error(400, "invalidSyntax", "op must be add, replace or remove");
    DS_TRY(apply_op(resource, name, o.as_object()));
  }
  return resource;
}

}  // namespace despatch
