// Matrix identifier validation and generation (appendices "Identifier Grammar").
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace despatch {

// The spec caps user IDs, room IDs, aliases and event IDs at 255 bytes including the sigil.
inline constexpr size_t kMaxIdentifierBytes = 255;

// hostname [":" port], where hostname is a dotted-quad IPv4 address (each part 0-255), a
// bracketed IPv6 literal, or a DNS name of letters, digits, '-' and '.'; port is 1-5 digits.
bool is_valid_server_name(std::string_view name);

// The strict localpart grammar for users we create: non-empty, only a-z 0-9 . _ = - / +.
bool is_valid_localpart(std::string_view localpart);

// Lenient check for user IDs that may already exist: "@" localpart ":" server_name, at most
// 255 bytes, where the localpart is any valid UTF-8 without ':' or NUL (possibly empty, as
// historical IDs allow).
bool is_valid_user_id(std::string_view user_id);

// A user ID that also has a strict localpart: what we accept from clients for new users and
// what the spec calls "compliant".
bool is_compliant_user_id(std::string_view user_id);

// "!" opaque ":" server_name with a non-empty opaque part, at most 255 bytes.
bool is_valid_room_id(std::string_view room_id);

// "#" alias ":" server_name with a non-empty alias, at most 255 bytes.
bool is_valid_room_alias(std::string_view alias);

// A reference hash ("$" + 43 base64 characters of a sha256: the URL-safe alphabet in v4+,
// the standard one with '+' and '/' in v3) or the v1-2 form ("$" opaque ":" server_name), at
// most 255 bytes.
bool is_valid_event_id(std::string_view event_id);

// The part after the first ':' (the server name for @, !, # and old $ IDs), or "" if none.
std::string_view server_name_of(std::string_view id);

// The part between the sigil and the first ':', or "" for an empty or sigil-only input.
std::string_view localpart_of(std::string_view user_id);

// `n` ASCII letters from libsodium's CSPRNG, e.g. for room IDs and tokens.
std::string random_string(size_t n);

// A fresh "!<18 random letters>:<server_name>" room ID.
std::string make_room_id(std::string_view server_name);

}  // namespace despatch
