// despatch user add: create an account from the command line (works while the server runs).
#include "core/config.h"
#include "core/ids.h"
#include "main/commands.h"
#include "service/users/user_service.h"
#include "storage/database.h"

#include <cstdio>
#include <fstream>
#include <iostream>

namespace despatch {

namespace {

const char* kUserHelp = R"(Usage: despatch user add NAME [options]

Creates the account @NAME:SERVER_NAME and prints its user ID.

Options:
  --password P         the password (visible in the process list: prefer --password-file)
  --password-file F    read the password from the first line of F ("-" for standard input)
  --admin              make the account a server administrator
  --data DIR           data folder (default ./data)
  --config FILE        read data_dir and server_name from this config
  --server-name NAME   server name (default localhost)
Without a password option a random password is generated and printed.
)";

}  // namespace

int cmd_user(Args& args) {
  if (args.help() || args.positionals().empty()) {
    std::fputs(kUserHelp, args.help() ? stdout : stderr);
    return args.help() ? 0 : 2;
  }
  Config cfg;
  if (!load_config_arg(args, &cfg)) return 2;
  if (auto v = args.take("data")) cfg.data_dir = *v;
  if (auto v = args.take("server-name")) cfg.server_name = *v;
  bool admin = args.take_switch("admin");
  auto password = args.take("password");
  if (auto file = args.take("password-file")) {
    std::string line;
    if (*file == "-") {
      std::getline(std::cin, line);
    } else {
      std::ifstream in(*file);
      if (!in) {
        std::fprintf(stderr, "despatch user: cannot read %s\n", file->c_str());
        return 2;
      }
      std::getline(in, line);
    }
    password = line;
  }
  auto& pos = args.positionals();
  if (pos[0] != "add" || pos.size() != 2 || !args.leftovers().empty()) {
    std::fputs(kUserHelp, stderr);
    return 2;
  }
  bool generated = !password;
  if (generated) password = random_string(20);
  if (password->size() < cfg.min_password_length) {
    std::fprintf(stderr, "despatch user: password must have at least %zu characters\n",
                 cfg.min_password_length);
    return 2;
  }
  std::string name = pos[1];
  std::string user_id = name[0] == '@' ? name : "@" + name + ":" + cfg.server_name;
  if (!is_valid_localpart(localpart_of(user_id)) || server_name_of(user_id) != cfg.server_name ||
      user_id.size() > kMaxIdentifierBytes) {
    std::fprintf(stderr, "despatch user: invalid user name %s (a-z 0-9 . _ = - / + only)\n", name.c_str());
    return 2;
  }
  auto db = storage::Database::open_sqlite(cfg.data_dir);
  if (!db.ok()) {
    std::fprintf(stderr, "despatch user: %s\n", db.error().message.c_str());
    return 1;
  }
  auto hash = hash_password(*password);
  if (!hash.ok()) {
    std::fprintf(stderr, "despatch user: %s\n", hash.error().message.c_str());
    return 1;
  }
  auto r = (*db)->transact_blocking<Ok>([&](storage::Txn& t) -> Status {
    return insert_user(t, user_id, *hash, admin);
  });
  if (!r.ok()) {
    std::fprintf(stderr, "despatch user: %s\n", r.error().message.c_str());
    return 1;
  }
  std::printf("%s\n", user_id.c_str());
  if (generated) std::printf("password: %s\n", password->c_str());
  return 0;
}

}  // namespace despatch
