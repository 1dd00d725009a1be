// despatch federation: tools for operators and tests of the federation layer.
#include "core/canonical_json.h"
#include "core/ids.h"
#include "core/xmatrix.h"
#include "main/app.h"
#include "main/commands.h"

#include <cstdio>

namespace despatch {

namespace {

const char* kFederationHelp = R"(Usage: despatch federation sign-request [options]

Prints the X-Matrix Authorization header value this server would send for a request,
signed with the signing key in the data folder: for checking another server's X-Matrix
handling by hand (curl -H "Authorization: ...") and for tests.

Options:
  --data DIR             data folder holding signing.key (default ./data)
  --server-name NAME     this server's name, the origin (default localhost)
  --destination NAME     the receiving server's name (required)
  --method METHOD        default GET
  --uri URI              the request target from /_matrix, with its query (required)
  --content JSON         the request body, when it has one
)";

}  // namespace

int cmd_federation(Args& args) {
  if (args.help() || args.positionals().empty() || args.positionals()[0] != "sign-request") {
    std::fputs(kFederationHelp, args.help() ? stdout : stderr);
    return args.help() ? 0 : 2;
  }
  std::string data = args.take("data").value_or("./data");
  std::string origin = args.take("server-name").value_or("localhost");
  auto destination = args.take("destination");
  std::string method = args.take("method").value_or("GET");
  auto uri = args.take("uri");
  auto content_text = args.take("content");
  if (!args.leftovers().empty() || args.positionals().size() != 1) {
    std::fprintf(stderr, "despatch federation: unexpected argument\n");
    return 2;
  }
  if (!destination || !is_valid_server_name(*destination) || !uri || uri->empty() || (*uri)[0] != '/') {
    std::fprintf(stderr, "despatch federation sign-request: --destination NAME and --uri /_matrix/... are required\n");
    return 2;
  }
  std::optional<json::value> content;
  if (content_text) {
    auto parsed = parse_strict_json(*content_text);
    if (!parsed.ok()) {
      std::fprintf(stderr, "despatch federation sign-request: --content is not JSON\n");
      return 2;
    }
    content = std::move(parsed).value();
  }
  auto key = load_signing_key(data);
  if (!key.ok()) {
    std::fprintf(stderr, "despatch federation: %s\n", key.error().message.c_str());
    return 1;
  }
  std::puts(sign_xmatrix(*key, origin, *destination, method, *uri, content ? &*content : nullptr).c_str());
  return 0;
}

}  // namespace despatch
