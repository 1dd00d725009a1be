// The router and percent-decoding: any request target matches at most one route and yields
// as many parameters as the route has placeholders.
#include "http/router.h"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

despatch::http::Router make_router() {
  despatch::http::Router r;
  auto none = [](despatch::http::Request&) -> boost::asio::awaitable<despatch::Result<despatch::http::Reply>> {
    co_return despatch::http::Reply{};
  };
  for (const char* p : {"/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}",
                        "/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}",
                        "/_matrix/client/v3/rooms/{roomId}/state/{eventType}", "/_matrix/client/v3/sync",
                        "/_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}",
                        "/_matrix/media/v3/download/{serverName}/{mediaId}/{fileName}"})
    for (const char* m : {"GET", "PUT"}) r.add({m, p, despatch::http::Auth::kRequired, despatch::http::RateClass::kNone,
                                                despatch::http::Body::kJson, none});
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const despatch::http::Router router = make_router();
  std::string target(reinterpret_cast<const char*>(data), size);
  auto q = target.find('?');
  std::string path = target.substr(0, q);
  auto m = router.match(size % 2 ? "GET" : "PUT", path);
  if (m.route) {
    size_t holes = 0;
    for (char c : m.route->pattern) holes += c == '{';
    if (m.params.size() != holes) std::abort();
  }
  (void)router.methods_for(path);
  std::string decoded = despatch::http::percent_decode(target, true);
  if (decoded.size() > target.size()) std::abort();
  return 0;
}
