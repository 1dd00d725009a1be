// Request bodies and canonical JSON: whatever parses must survive the number checks and
// canonicalise to text that parses back to the same canonical form.
#include "core/canonical_json.h"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto v = despatch::parse_strict_json(text);
  if (!v.ok()) return 0;
  (void)despatch::check_json_numbers(*v);
  if (!despatch::check_canonical_values(*v).ok()) return 0;
  std::string once = despatch::canonical_json(*v);
  auto again = despatch::parse_strict_json(once);
  if (!again.ok() || despatch::canonical_json(*again) != once) std::abort();
  return 0;
}
