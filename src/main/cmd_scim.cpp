// despatch scim token create|list|revoke: the bearer tokens of the SCIM endpoint. A token
// is printed once when made; only its SHA-256 is stored. Works while the server runs (the
// server reads the token table on every SCIM request, so a revocation takes effect at once).
#include "core/config.h"
#include "main/commands.h"
#include "service/common/time.h"
#include "service/scim/scim_service.h"
#include "storage/database.h"
#include "storage/scim_store.h"

#include <cstdio>
#include <cstdlib>

namespace despatch {

namespace {

const char* kScimHelp = R"(Usage: despatch scim token COMMAND [options]

Commands:
  token create --name NAME   make a token for the identity provider; it is printed once
  token list                 every token: id, name, made, revoked
  token revoke ID            refuse the token from now on

Options:
  --data DIR           data folder (default ./data)
  --config FILE        read data_dir from this config
)";

}  // namespace

int cmd_scim(Args& args) {
  auto pos = args.positionals();
  if (args.help() || pos.size() < 2 || pos[0] != "token") {
    std::fputs(kScimHelp, args.help() ? stdout : stderr);
    return args.help() ? 0 : 2;
  }
  Config cfg;
  if (!load_config_arg(args, &cfg)) return 2;
  if (auto v = args.take("data")) cfg.data_dir = *v;
  auto name = args.take("name");
  const std::string& command = pos[1];
  if (!args.leftovers().empty() || (command == "revoke" ? pos.size() != 3 : pos.size() != 2)) {
    std::fputs(kScimHelp, stderr);
    return 2;
  }
  if (command != "create" && command != "list" && command != "revoke") {
    std::fputs(kScimHelp, stderr);
    return 2;
  }
  if (command == "create" && !name) {
    std::fputs("despatch scim: token create needs --name\n", stderr);
    return 2;
  }
  auto db = storage::Database::open_sqlite(cfg.data_dir);
  if (!db.ok()) {
    std::fprintf(stderr, "despatch scim: %s\n", db.error().message.c_str());
    return 1;
  }
  if (command == "create") {
    auto token = (*db)->transact_blocking<std::string>(
        [&](storage::Txn& t) -> Result<std::string> { return create_scim_token(t, *name); });
    if (!token.ok()) {
      std::fprintf(stderr, "despatch scim: %s\n", token.error().message.c_str());
      return 1;
    }
    std::printf("%s\n", token->c_str());
    std::fprintf(stderr, "Give this token to the identity provider now: it is not stored and cannot be shown again.\n");
    return 0;
  }
  if (command == "list") {
    auto tokens = (*db)->read().scim().tokens();
    if (!tokens.ok()) {
      std::fprintf(stderr, "despatch scim: %s\n", tokens.error().message.c_str());
      return 1;
    }
    for (auto& t : *tokens)
      std::printf("%lld\t%s\tcreated %s\t%s\n", static_cast<long long>(t.id), t.name.c_str(),
                  utc_time(t.created_ts, "%Y-%m-%dT%H:%M:%SZ").c_str(),
                  t.revoked_ts ? ("revoked " + utc_time(*t.revoked_ts, "%Y-%m-%dT%H:%M:%SZ")).c_str() : "active");
    return 0;
  }
  const std::string& id_text = pos[2];
  if (id_text.empty() || id_text.size() > 18 || id_text.find_first_not_of("0123456789") != std::string::npos) {
    std::fprintf(stderr, "despatch scim: %s is not a token id (see `despatch scim token list`)\n", id_text.c_str());
    return 2;
  }
  int64_t id = std::atoll(id_text.c_str());
  auto revoked = (*db)->transact_blocking<bool>(
      [&](storage::Txn& t) -> Result<bool> { return t.scim().revoke_token(id, now_ms()); });
  if (!revoked.ok()) {
    std::fprintf(stderr, "despatch scim: %s\n", revoked.error().message.c_str());
    return 1;
  }
  if (!*revoked) {
    std::fprintf(stderr, "despatch scim: no active token %s\n", id_text.c_str());
    return 1;
  }
  std::printf("token %s revoked\n", id_text.c_str());
  return 0;
}

}  // namespace despatch
