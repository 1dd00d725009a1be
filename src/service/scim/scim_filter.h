// SCIM filters (RFC 7644 §3.4.2.2), the part identity providers send: comparisons joined by
// "and", with eq (and ne, co, sw, pr for completeness), on single-valued attributes.
#pragma once

#include "core/result.h"

#include <string>
#include <vector>

namespace despatch {

struct ScimComparison {
  std::string attribute;  // lower-cased, schema URN prefix removed: "username", "name.givenname"
  std::string op;         // eq ne co sw ew pr (lower-cased)
  json::value value;      // string, bool or null; null for pr
};

// The comparisons of `filter`, all of which must hold. 400 invalidFilter (Error::extra
// "scimType") for anything else (or, not, grouping, value paths).
Result<std::vector<ScimComparison>> parse_scim_filter(const std::string& filter);

// Whether attribute value v (a JSON value of the resource, null when absent) satisfies c.
// Strings compare case-insensitively (caseExact false, as for userName and displayName)
// unless case_exact.
bool scim_matches(const ScimComparison& c, const json::value& v, bool case_exact);

// A SCIM error as an Error value: status, scimType (may be empty) and detail.
Error scim_error(int status, const std::string& scim_type, const std::string& detail);

}  // namespace despatch
