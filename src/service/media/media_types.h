// Pure rules of the content repository: media IDs, content types, the allow-list, which
// types may be served inline, and file names made safe for Content-Disposition.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace despatch::media {

// The spec's media ID grammar: 1-255 characters of A-Z a-z 0-9 '_' '-'. Anything else
// (dots, slashes, percent escapes) is refused before it reaches storage.
bool is_valid_media_id(std::string_view id);

// A fresh media ID: 24 random letters and digits.
std::string make_media_id();

// The lower-case "type/subtype" of a Content-Type header value, without parameters, or
// nullopt when it is not a well-formed token/token (so nothing odd is ever echoed back).
std::optional<std::string> base_content_type(std::string_view header);

// True when `type` ("type/subtype") matches a pattern of the allow-list: equal, or
// "family/*" for the family.
bool type_allowed(std::string_view type, const std::vector<std::string>& allowed);

// The Content-Type to serve: what the client declared when it agrees with what was sniffed
// from the bytes (same type, or a close relative such as audio/ogg for application/ogg),
// else the sniffed type. The declared type is only ever used if it is on the allow-list.
std::string served_content_type(const std::optional<std::string>& declared, const std::string& sniffed,
                                const std::vector<std::string>& allowed);

// The spec's list of types that are safe to serve with Content-Disposition: inline.
bool inline_safe(std::string_view type);

// A file name as given by a client, made safe to store: path parts dropped (anything up to
// the last '/' or '\\'), control characters removed, invalid UTF-8 refused (nullopt), cut to
// 255 bytes on a character boundary. Empty stays empty.
std::optional<std::string> clean_filename(std::string_view name);

// The Content-Disposition header value: inline for inline-safe types, attachment otherwise,
// with an ASCII fallback filename="..." (quotes, backslashes, non-ASCII replaced) and the
// exact name as RFC 8187 filename*=utf-8''... . Never contains CR, LF or a bare quote.
std::string content_disposition(std::string_view type, std::string_view filename);

// The headers every media response carries: CSP sandbox, cross-origin resource policy,
// nosniff.
std::vector<std::pair<std::string, std::string>> security_headers();

}  // namespace despatch::media
