// The X-Matrix Authorization header from another server, the server names it carries, and
// the /.well-known/matrix/server body and Cache-Control header read during discovery.
#include "core/ids.h"
#include "core/server_name.h"
#include "core/xmatrix.h"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  auto auth = despatch::parse_xmatrix(s);
  if (auth.ok()) {
    // What the parser accepts must be what the rest of the server relies on.
    if (!despatch::is_valid_server_name(auth->origin)) std::abort();
    if (auth->destination && !despatch::is_valid_server_name(*auth->destination)) std::abort();
    if (auth->key.rfind("ed25519:", 0) != 0 || auth->sig.empty()) std::abort();
    if (!despatch::parse_server_name(auth->origin)) std::abort();
    // A header we would send for what was parsed must parse back to the same values.
    std::string again = "X-Matrix origin=\"" + auth->origin + "\",key=\"" + auth->key + "\",sig=\"" + auth->sig + "\"";
    auto round = despatch::parse_xmatrix(again);
    if (!round.ok() || round->origin != auth->origin || round->key != auth->key || round->sig != auth->sig)
      std::abort();
  } else if (auth.error().status != 401) {
    std::abort();
  }
  if (auto parts = despatch::parse_server_name(s)) {
    if (parts->host.empty()) std::abort();
    if (parts->port && *parts->port == 0) std::abort();
  }
  if (auto delegated = despatch::parse_well_known_server(s))
    if (!despatch::is_valid_server_name(*delegated)) std::abort();
  int64_t secs = despatch::well_known_cache_seconds(s);
  if (secs < 0 || secs > 48 * 3600) std::abort();
  despatch::ServerAllowList list({std::string(s), "example.org"});
  (void)list.allows(s);
  return 0;
}
