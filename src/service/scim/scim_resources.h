// Helpers the SCIM users and groups code shares: ids, times, attribute paths, paging.
#pragma once

#include "service/scim/scim_filter.h"
#include "service/scim/scim_service.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::scim {

std::string new_id();                 // a random UUID (version 4)
std::string iso_time(int64_t ms);     // 2026-12-02T13:20:09Z
// The value at a dotted attribute path of a rendered resource ("name.givenname"); through
// a multi-valued attribute, the array of its elements' values. Null when absent.
json::value path_value(const json::object& resource, const std::string& path);
// The store field an eq comparison can be answered with, if any.
std::optional<storage::ScimField> indexed_field(const ScimComparison& c);
// The ListResponse of `resources` (already filtered) for the page asked for.
json::object list_response(std::vector<json::object> resources, const ScimPage& page);
// A boolean that identity providers also send as "True"/"False".
Result<std::optional<bool>> loose_bool(const json::object& o, const char* name);
Result<std::optional<std::string>> opt_text(const json::object& o, const char* name);
bool has_schema(const json::object& body, const char* schema);

}  // namespace despatch::scim
