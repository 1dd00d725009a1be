// Media sniffing: whatever bytes are uploaded, libmagic's verdict and the encrypted-blob test
// answer without crashing.
#include "service/media/sniff.h"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  (void)despatch::media::sniff_content_type(s);
  (void)despatch::media::looks_encrypted(s);
  return 0;
}
