// Identifiers from paths and bodies: user, room, event IDs, aliases, server names, media IDs,
// and the UTF-8 checks that guard every path parameter.
#include "core/ids.h"
#include "core/utf8.h"
#include "service/media/media_types.h"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  bool utf8 = despatch::is_valid_utf8(s);
  std::string fixed = despatch::to_valid_utf8(s);
  if (!despatch::is_valid_utf8(fixed) || (utf8 && fixed != s)) std::abort();
  (void)despatch::is_valid_server_name(s);
  (void)despatch::is_valid_localpart(s);
  bool user = despatch::is_valid_user_id(s);
  if (despatch::is_compliant_user_id(s) && !user) std::abort();
  if (user && s.size() > despatch::kMaxIdentifierBytes) std::abort();
  (void)despatch::is_valid_room_id(s);
  (void)despatch::is_valid_room_alias(s);
  (void)despatch::is_valid_event_id(s);
  (void)despatch::server_name_of(s);
  (void)despatch::localpart_of(s);
  (void)despatch::media::is_valid_media_id(s);
  (void)despatch::media::base_content_type(s);
  (void)despatch::media::content_disposition(s, s);
  return 0;
}
