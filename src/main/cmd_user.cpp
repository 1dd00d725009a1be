// despatch user add|list|show|deactivate|lock|unlock|reset-password: accounts from the
// command line, working while the server runs. The CLI writes through the same stores into
// the same SQLite database (WAL: the server's readers and this writer coexist) and logs each
// change in the account changes log, which the running server follows every 100 ms: it then
// drops the user's cached sessions and wakes their parked requests, which find their
// session gone. A deactivation here makes only the cut-off (no stream positions, which
// belong to the server's writer); the server removes the devices and keys, withdraws the
// invites and leaves the rooms (at its next start when it is not running).
#include "core/config.h"
#include "core/ids.h"
#include "main/commands.h"
#include "service/common/time.h"
#include "service/users/user_service.h"
#include "storage/database.h"
#include "storage/device_store.h"
#include "storage/membership_store.h"
#include "storage/user_store.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

namespace despatch {

namespace {

const char* kUserHelp = R"(Usage:
  despatch user add NAME [--admin] [--password P | --password-file F]
      create @NAME:SERVER_NAME; prints its user ID (and a generated password)
  despatch user list [--name TEXT] [--deactivated] [--limit N] [--from N] [--json]
      accounts in user ID order (deactivated ones with --deactivated)
  despatch user show USER [--json]
      one account: flags, profile, devices, rooms
  despatch user deactivate USER [--erase] [--case REF]
      a leaver: sessions end at once (a running server answers their parked syncs within
      a second); the server then removes devices and keys, withdraws their pending
      invites and takes them out of every room
  despatch user lock USER    |    despatch user unlock USER
      spec 1.18 account locking: every request but logout refused
  despatch user reset-password USER [--password P | --password-file F] [--keep-sessions]
      sets a new password (generated and printed when none is given) and, unless
      --keep-sessions, ends every session of the user

USER is a localpart or a full user ID. Common options:
  --data DIR           data folder (default ./data)
  --config FILE        read data_dir and server_name from this config
  --server-name NAME   server name (default localhost)
)";

// "cli:<login>" names the operator in the audit log.
std::string cli_actor() {
  const char* login = std::getenv("SUDO_USER");
  if (!login || !*login) login = std::getenv("USER");
  if (!login || !*login) login = getlogin();
  return std::string("cli:") + (login && *login ? login : "unknown");
}

bool read_password(Args& args, std::optional<std::string>* password) {
  *password = args.take("password");
  if (auto file = args.take("password-file")) {
    std::string line;
    if (*file == "-") {
      std::getline(std::cin, line);
    } else {
      std::ifstream in(*file);
      if (!in) {
        std::fprintf(stderr, "despatch user: cannot read %s\n", file->c_str());
        return false;
      }
      std::getline(in, line);
    }
    *password = line;
  }
  return true;
}

int fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "despatch user: %s\n", message.c_str());
  return code;
}

json::object account_json(const storage::UserAccount& a) {
  json::object o{{"user_id", a.user_id},     {"admin", a.is_admin},   {"deactivated", a.deactivated},
                 {"erased", a.erased},       {"locked", a.locked},    {"suspended", a.suspended},
                 {"created_ts", a.created_ts}};
  o["displayname"] = a.profile.displayname ? json::value(*a.profile.displayname) : json::value(nullptr);
  return o;
}

std::string flags_of(const storage::UserAccount& a) {
  std::string f;
  for (auto [on, name] : {std::pair{a.is_admin, "admin"}, std::pair{a.deactivated, "deactivated"},
                          std::pair{a.erased, "erased"}, std::pair{a.locked, "locked"},
                          std::pair{a.suspended, "suspended"}})
    if (on) f += (f.empty() ? "" : ",") + std::string(name);
  return f.empty() ? "active" : f;
}

struct Ctx {
  Config cfg;
  std::unique_ptr<storage::Database> db;
  std::string qualify(const std::string& name) const {
    return name[0] == '@' ? name : "@" + name + ":" + cfg.server_name;
  }
};

int cmd_add(Ctx& ctx, const std::string& name, bool admin, std::optional<std::string> password) {
  bool generated = !password;
  if (generated) password = random_string(20);
  if (password->size() < ctx.cfg.min_password_length)
    return fail("password must have at least " + std::to_string(ctx.cfg.min_password_length) + " characters", 2);
  std::string user_id = ctx.qualify(name);
  if (!is_valid_localpart(localpart_of(user_id)) || server_name_of(user_id) != ctx.cfg.server_name ||
      user_id.size() > kMaxIdentifierBytes)
    return fail("invalid user name " + name + " (a-z 0-9 . _ = - / + only)", 2);
  auto hash = hash_password(*password);
  if (!hash.ok()) return fail(hash.error().message);
  auto r = ctx.db->transact_blocking<Ok>([&](storage::Txn& t) -> Status {
    return insert_user(t, user_id, *hash, admin);
  });
  if (!r.ok()) return fail(r.error().message);
  std::printf("%s\n", user_id.c_str());
  if (generated) std::printf("password: %s\n", password->c_str());
  return 0;
}

int cmd_list(Ctx& ctx, Args& args) {
  storage::UserQuery q;
  q.name = args.take("name").value_or("");
  q.include_deactivated = args.take_switch("deactivated");
  q.limit = std::atoll(args.take("limit").value_or("1000").c_str());
  q.from = std::atoll(args.take("from").value_or("0").c_str());
  bool as_json = args.take_switch("json");
  if (q.limit < 1 || q.from < 0) return fail("--limit must be at least 1 and --from not negative", 2);
  auto page = ctx.db->read().users().list(q);
  if (!page.ok()) return fail(page.error().message);
  if (as_json) {
    json::array users;
    for (auto& a : page->users) users.push_back(account_json(a));
    std::printf("%s\n", json::serialize(json::object{{"users", users}, {"total", page->total}}).c_str());
    return 0;
  }
  for (auto& a : page->users)
    std::printf("%-40s %-24s %s\n", a.user_id.c_str(), flags_of(a).c_str(), a.profile.displayname.value_or("").c_str());
  std::printf("%zu of %lld accounts\n", page->users.size(), static_cast<long long>(page->total));
  return 0;
}

int cmd_show(Ctx& ctx, const std::string& user_id, bool as_json) {
  storage::Stores& s = ctx.db->read();
  auto account = s.users().account(user_id);
  if (!account.ok()) return fail(account.error().message);
  if (!*account) return fail("no such user " + user_id);
  auto devices = s.devices().devices_of(user_id);
  auto rooms = s.memberships().rooms_with(user_id, {"join", "invite"});
  if (!devices.ok() || !rooms.ok()) return fail("cannot read the account's devices or rooms");
  json::object o = account_json(**account);
  json::array ds, rs;
  for (auto& d : *devices)
    ds.push_back(json::object{{"device_id", d.device_id}, {"display_name", d.display_name.value_or("")},
                              {"last_seen_ts", d.last_seen_ts}});
  for (auto& r : *rooms) rs.push_back(json::string(r));
  o["devices"] = ds;
  o["rooms"] = rs;
  if (as_json) {
    std::printf("%s\n", json::serialize(o).c_str());
    return 0;
  }
  const auto& a = **account;
  std::printf("user_id:     %s\nstatus:      %s\ndisplayname: %s\ncreated:     %lld\n", a.user_id.c_str(),
              flags_of(a).c_str(), a.profile.displayname.value_or("").c_str(), static_cast<long long>(a.created_ts));
  std::printf("devices:     %zu\n", devices->size());
  for (auto& d : *devices) std::printf("  %s %s\n", d.device_id.c_str(), d.display_name.value_or("").c_str());
  std::printf("rooms:       %zu\n", rooms->size());
  for (auto& r : *rooms) std::printf("  %s\n", r.c_str());
  return 0;
}

// The account must exist; the records keeper is the server's own and never changed here.
int check_target(Ctx& ctx, const std::string& user_id, bool allow_deactivated = false) {
  if (!is_valid_user_id(user_id) || server_name_of(user_id) != ctx.cfg.server_name)
    return fail("not a user of this server: " + user_id, 2);
  if (user_id == ctx.cfg.keeper_user_id()) return fail("the records keeper is the server's own account", 2);
  auto account = ctx.db->read().users().account(user_id);
  if (!account.ok()) return fail(account.error().message);
  if (!*account) return fail("no such user " + user_id);
  if ((*account)->deactivated && !allow_deactivated) return fail(user_id + " is deactivated");
  return 0;
}

}  // namespace

int cmd_user(Args& args) {
  if (args.help() || args.positionals().empty()) {
    std::fputs(kUserHelp, args.help() ? stdout : stderr);
    return args.help() ? 0 : 2;
  }
  Ctx ctx;
  if (!load_config_arg(args, &ctx.cfg)) return 2;
  if (auto v = args.take("data")) ctx.cfg.data_dir = *v;
  if (auto v = args.take("server-name")) ctx.cfg.server_name = *v;
  auto pos = args.positionals();
  const std::string& command = pos[0];
  bool admin = command == "add" && args.take_switch("admin");
  bool erase = command == "deactivate" && args.take_switch("erase");
  bool keep_sessions = command == "reset-password" && args.take_switch("keep-sessions");
  bool as_json = command == "show" && args.take_switch("json");
  std::optional<std::string> case_ref = command == "deactivate" ? args.take("case") : std::nullopt;
  std::optional<std::string> password;
  if ((command == "add" || command == "reset-password") && !read_password(args, &password)) return 2;

  bool one_user = command == "add" || command == "show" || command == "deactivate" || command == "lock" ||
                  command == "unlock" || command == "reset-password";
  if ((!one_user && command != "list") || (one_user && pos.size() != 2) || (command == "list" && pos.size() != 1)) {
    std::fputs(kUserHelp, stderr);
    return 2;
  }
  auto db = storage::Database::open_sqlite(ctx.cfg.data_dir);
  if (!db.ok()) return fail(db.error().message);
  ctx.db = std::move(*db);
  if (command == "list") {
    int rc = cmd_list(ctx, args);
    if (!args.leftovers().empty()) return fail("unknown option " + args.leftovers()[0], 2);
    return rc;
  }
  if (!args.leftovers().empty()) return fail("unknown option " + args.leftovers()[0], 2);
  if (command == "add") return cmd_add(ctx, pos[1], admin, password);
  std::string user_id = ctx.qualify(pos[1]);
  if (command == "show") return cmd_show(ctx, user_id, as_json);

  if (int rc = check_target(ctx, user_id); rc != 0) return rc;
  AccountActor by{cli_actor(), case_ref.value_or(""), "cli"};
  Status st = ok_status();
  if (command == "deactivate") {
    auto seq = ctx.db->transact_blocking<int64_t>(
        [&](storage::Txn& t) -> Result<int64_t> { return cut_off_account(t, user_id, erase, by); });
    if (!seq.ok()) return fail(seq.error().message);
    std::printf("%s deactivated (account change %lld); the server takes them out of their rooms now, or at its "
                "next start when it is not running\n",
                user_id.c_str(), static_cast<long long>(*seq));
    return 0;
  }
  if (command == "lock" || command == "unlock") {
    bool locked = command == "lock";
    st = ctx.db->transact_blocking<Ok>([&](storage::Txn& t) -> Status {
      DS_TRY(t.users().set_locked(user_id, locked));
      DS_TRY(log_account_change(t, user_id, command, by, {}));
      return ok_status();
    });
    if (!st.ok()) return fail(st.error().message);
    std::printf("%s %s\n", user_id.c_str(), locked ? "locked" : "unlocked");
    return 0;
  }
  // reset-password
  bool generated = !password;
  if (generated) password = random_string(20);
  if (password->size() < ctx.cfg.min_password_length)
    return fail("password must have at least " + std::to_string(ctx.cfg.min_password_length) + " characters", 2);
  auto hash = hash_password(*password);
  if (!hash.ok()) return fail(hash.error().message);
  st = ctx.db->transact_blocking<Ok>([&](storage::Txn& t) -> Status {
    DS_TRY(t.users().set_password_hash(user_id, *hash));
    if (!keep_sessions) DS_TRY(t.users().remove_all_tokens(user_id));
    DS_TRY(log_account_change(t, user_id, "password", by, json::object{{"logout_devices", !keep_sessions}}));
    return ok_status();
  });
  if (!st.ok()) return fail(st.error().message);
  std::printf("%s: password reset%s\n", user_id.c_str(), keep_sessions ? "" : "; every session ended");
  if (generated) std::printf("password: %s\n", password->c_str());
  return 0;
}

}  // namespace despatch
