// application/x-www-form-urlencoded, as OAuth 2.0 requests and redirects carry parameters.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace despatch {

using FormParams = std::vector<std::pair<std::string, std::string>>;

std::string percent_encode(std::string_view s);  // everything but A-Z a-z 0-9 - . _ ~
std::string form_encode(const FormParams& params);
// Decodes a form body or query string; the first value of a repeated name wins. Malformed
// escapes are kept as they are.
std::map<std::string, std::string> form_decode(std::string_view body);
// url with params added to its query (fragment: after '#' instead).
std::string add_url_params(const std::string& url, const FormParams& params, bool fragment = false);

}  // namespace despatch
