// The config file: any TOML (or garbage) loads over the defaults or is refused with an error.
#include "core/config.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/dev/shm/despatch-fuzz-config-" + std::to_string(::getpid()) + ".toml";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  (void)despatch::load_config_file(path);
  return 0;
}
