#include "service/scim/scim_filter.h"

#include <algorithm>
#include <cctype>

namespace despatch {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

struct Lexer {
  const std::string& s;
  size_t i = 0;
  void skip() {
    while (i < s.size() && s[i] == ' ') ++i;
  }
  bool done() {
    skip();
    return i >= s.size();
  }
  // An attribute path or keyword: letters, digits, '.', ':', '$', '-', '_'.
  std::string word() {
    skip();
    size_t start = i;
    while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '.' || s[i] == ':' ||
                            s[i] == '$' || s[i] == '-' || s[i] == '_'))
      ++i;
    return s.substr(start, i - start);
  }
  Result<json::value> value() {
    skip();
    if (i < s.size() && s[i] == '"') {
      std::string out;
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        out.push_back(s[i++]);
      }
      if (i >= s.size()) return scim_error(400, "invalidFilter", "Unterminated string in filter");
      ++i;
      return json::value(json::string(out));
    }
    std::string w = lower(word());
    if (w == "true") return json::value(true);
    if (w == "false") return json::value(false);
    if (w == "null") return json::value(nullptr);
    if (!w.empty() && std::all_of(w.begin(), w.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
      return json::value(static_cast<int64_t>(std::stoll(w)));
    return scim_error(400, "invalidFilter", "Expected a value in the filter");
  }
};

std::string strip_urn(std::string attr) {
  // urn:ietf:params:scim:schemas:core:2.0:User:userName -> userName
  if (lower(attr).rfind("urn:", 0) == 0) {
    auto colon = attr.rfind(':');
    attr = attr.substr(colon + 1);
  }
  return lower(attr);
}

}  // namespace

Error scim_error(int status, const std::string& scim_type, const std::string& detail) {
  Error e = Error::make(status, status == 404 ? errc::kNotFound : errc::kInvalidParam, detail);
  if (status == 409) e.errcode = errc::kUserInUse;
  if (status == 401) e.errcode = errc::kUnknownToken;
  if (status == 403) e.errcode = errc::kForbidden;
  if (!scim_type.empty()) e.extra["scimType"] = scim_type;
  return e;
}

Result<std::vector<ScimComparison>> parse_scim_filter(const std::string& filter) {
  if (filter.size() > 4096) return scim_error(400, "invalidFilter", "Filter too long");
  std::vector<ScimComparison> out;
  Lexer lx{filter};
  for (;;) {
    ScimComparison c;
    std::string attr = lx.word();
    if (attr.empty()) return scim_error(400, "invalidFilter", "Expected an attribute name in the filter");
    lx.skip();
    if (lx.i < filter.size() && (filter[lx.i] == '[' || filter[lx.i] == '('))
      return scim_error(400, "invalidFilter", "Value paths and grouping are not supported in filters");
    c.attribute = strip_urn(attr);
    c.op = lower(lx.word());
    static const char* kOps[] = {"eq", "ne", "co", "sw", "ew", "pr"};
    if (std::find(std::begin(kOps), std::end(kOps), c.op) == std::end(kOps))
      return scim_error(400, "invalidFilter", "Unsupported filter operator '" + c.op + "'");
    if (c.op != "pr") {
      DS_ASSIGN(c.value, lx.value());
    }
    out.push_back(std::move(c));
    if (lx.done()) break;
    std::string joiner = lower(lx.word());
    if (joiner != "and") return scim_error(400, "invalidFilter", "Only 'and' may join filter comparisons");
  }
  return out;
}

bool scim_matches(const ScimComparison& c, const json::value& v, bool case_exact) {
  if (c.op == "pr") return !v.is_null() && !(v.is_string() && v.as_string().empty()) &&
                            !(v.is_array() && v.as_array().empty());
  if (v.is_array()) {  // multi-valued (emails): any value (its "value" member) matches
    for (auto& item : v.as_array()) {
      const json::value* inner = item.is_object() ? item.as_object().if_contains("value") : &item;
      if (inner && scim_matches(c, *inner, case_exact)) return true;
    }
    return false;
  }
  if (v.is_bool() || c.value.is_bool()) {
    bool eq = v.is_bool() && c.value.is_bool() && v.as_bool() == c.value.as_bool();
    return c.op == "eq" ? eq : c.op == "ne" ? !eq : false;
  }
  if (!v.is_string() || !c.value.is_string()) {
    bool eq = v == c.value;
    return c.op == "eq" ? eq : c.op == "ne" ? !eq : false;
  }
  std::string a(v.as_string()), b(c.value.as_string());
  if (!case_exact) {
    a = lower(a);
    b = lower(b);
  }
  if (c.op == "eq") return a == b;
  if (c.op == "ne") return a != b;
  if (c.op == "co") return a.find(b) != std::string::npos;
  if (c.op == "sw") return a.rfind(b, 0) == 0;
  if (c.op == "ew") return a.size() >= b.size() && a.compare(a.size() - b.size(), b.size(), b) == 0;
  return false;
}

}  // namespace despatch
