#include "service/scim/scim_resources.h"

#include "service/common/time.h"

#include <sodium.h>

#include <algorithm>
#include <cstdio>

namespace despatch::scim {

std::string new_id() {
  unsigned char b[16];
  randombytes_buf(b, sizeof b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

std::string iso_time(int64_t ms) { return utc_time(ms, "%Y-%m-%dT%H:%M:%SZ"); }

json::value path_value(const json::object& resource, const std::string& path) {
  json::value cur = resource;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (cur.is_object()) {
      const json::value* v = scim_attr(cur.as_object(), part);
      if (!v) return nullptr;
      cur = *v;
    } else if (cur.is_array()) {
      json::array vals;
      for (auto& el : cur.as_array())
        if (el.is_object())
          if (const json::value* v = scim_attr(el.as_object(), part)) vals.push_back(*v);
      cur = std::move(vals);
    } else {
      return nullptr;
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

std::optional<storage::ScimField> indexed_field(const ScimComparison& c) {
  if (c.op != "eq") return std::nullopt;
  if (c.value.is_bool() && c.attribute == "active") return storage::ScimField::kActive;
  if (!c.value.is_string()) return std::nullopt;
  if (c.attribute == "id") return storage::ScimField::kId;
  if (c.attribute == "username") return storage::ScimField::kUserName;
  if (c.attribute == "displayname") return storage::ScimField::kDisplayName;
  if (c.attribute == "externalid") return storage::ScimField::kExternalId;
  return std::nullopt;
}

json::object list_response(std::vector<json::object> resources, const ScimPage& page) {
  int64_t start = std::max<int64_t>(page.start_index, 1);
  int64_t count = std::clamp<int64_t>(page.count, 0, 1000);
  json::array out;
  for (int64_t i = start - 1; i < static_cast<int64_t>(resources.size()) && static_cast<int64_t>(out.size()) < count; ++i)
    out.push_back(std::move(resources[static_cast<size_t>(i)]));
  int64_t n = static_cast<int64_t>(out.size());
  return json::object{{"schemas", json::array{kScimListSchema}},
                      {"totalResults", static_cast<int64_t>(resources.size())},
                      {"startIndex", start},
                      {"itemsPerPage", n},
                      {"Resources", std::move(out)}};
}

Result<std::optional<bool>> loose_bool(const json::object& o, const char* name) {
  const json::value* v = scim_attr(o, name);
  if (!v || v->is_null()) return std::optional<bool>{};
  if (v->is_bool()) return std::optional<bool>(v->as_bool());
  if (v->is_string()) {
    std::string s(v->as_string());
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (s == "true") return std::optional<bool>(true);
    if (s == "false") return std::optional<bool>(false);
  }
  return scim_error(400, "invalidValue", std::string(name) + " must be a boolean");
}

Result<std::optional<std::string>> opt_text(const json::object& o, const char* name) {
  const json::value* v = scim_attr(o, name);
  if (!v || v->is_null()) return std::optional<std::string>{};
  if (!v->is_string()) return scim_error(400, "invalidValue", std::string(name) + " must be a string");
  if (v->as_string().size() > 1024) return scim_error(400, "invalidValue", std::string(name) + " is too long");
  return std::optional<std::string>(std::string(v->as_string()));
}

bool has_schema(const json::object& body, const char* schema) {
  const json::value* s = scim_attr(body, "schemas");
  if (!s || !s->is_array()) return false;
  return std::any_of(s->as_array().begin(), s->as_array().end(),
                     [&](const json::value& v) { return v.is_string() && v.as_string() == schema; });
}

}  // namespace despatch::scim
