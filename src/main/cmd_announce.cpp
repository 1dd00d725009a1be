// despatch announce create|list|remove: announcement channels from the command line (works
// while the server runs: the write path looks channels up in the database, not a cache).
#include "core/config.h"
#include "main/commands.h"
#include "service/announce/announcements.h"
#include "service/common/time.h"
#include "storage/database.h"

#include <cstdio>

namespace despatch {

namespace {

const char* kAnnounceHelp = R"(Usage: despatch announce <create|list|remove> [options]

Public announcement channels: a room whose messages (from members with the power to post)
are published for anyone to follow from Mastodon (@HANDLE@SERVER_NAME), read as an Atom
feed or as a web page.

  announce create --room ROOM --handle HANDLE --name "NAME" [--summary "TEXT"] [--min-power N]
      ROOM is a room ID or a local alias; the room must not be end-to-end encrypted.
      HANDLE: 1 to 30 of a-z, 0-9 and _. Messages from members below power level N
      (default 50) are not published.
  announce list [--json]
  announce remove --handle HANDLE
      Stops publishing and forgets the channel's followers and posts (the records archive
      keeps every post and its withdrawal).

Options:
  --data DIR           data folder (default ./data)
  --config FILE        read data_dir, server_name and [announce] from this config
  --server-name NAME   server name (default localhost)
)";

int fail(const std::string& msg) {
  std::fprintf(stderr, "despatch announce: %s\n", msg.c_str());
  return 1;
}

}  // namespace

int cmd_announce(Args& args) {
  if (args.help() || args.positionals().empty()) {
    std::fputs(kAnnounceHelp, args.help() ? stdout : stderr);
    return args.help() ? 0 : 2;
  }
  Config cfg;
  if (!load_config_arg(args, &cfg)) return 2;
  if (auto v = args.take("data")) cfg.data_dir = *v;
  if (auto v = args.take("server-name")) cfg.server_name = *v;
  std::string verb = args.positionals()[0];
  ChannelRequest req;
  bool as_json = false;
  if (verb == "create") {
    req.room = args.take("room").value_or("");
    req.handle = args.take("handle").value_or("");
    req.name = args.take("name").value_or("");
    req.summary = args.take("summary").value_or("");
    if (auto p = args.take("min-power")) {
      try {
        size_t used = 0;
        req.min_power = std::stoll(*p, &used);
        if (used != p->size()) throw std::invalid_argument("");
      } catch (...) {
        std::fprintf(stderr, "despatch announce: --min-power wants an integer\n");
        return 2;
      }
    }
    if (req.room.empty() || req.handle.empty() || req.name.empty()) {
      std::fputs("despatch announce create needs --room, --handle and --name\n", stderr);
      return 2;
    }
  } else if (verb == "remove") {
    req.handle = args.take("handle").value_or("");
    if (req.handle.empty() && args.positionals().size() == 2) req.handle = args.positionals()[1];
    if (req.handle.empty()) {
      std::fputs("despatch announce remove needs --handle\n", stderr);
      return 2;
    }
  } else if (verb == "list") {
    as_json = args.take_switch("json");
  } else {
    std::fputs(kAnnounceHelp, stderr);
    return 2;
  }
  size_t max_positionals = verb == "remove" ? 2 : 1;
  if (!args.leftovers().empty() || args.positionals().size() > max_positionals) {
    std::fprintf(stderr, "despatch announce: unexpected %s\n",
                 args.leftovers().empty() ? args.positionals().back().c_str() : args.leftovers()[0].c_str());
    return 2;
  }
  auto db = storage::Database::open_sqlite(cfg.data_dir);
  if (!db.ok()) return fail(db.error().message);
  announce::Urls urls = announce_urls(cfg);
  if (verb == "create") {
    auto made = (*db)->transact_blocking<storage::ChannelRow>(
        [&](storage::Txn& t) { return create_channel(t, req, "cli", now_ms()); });
    if (!made.ok()) return fail(made.error().message);
    std::printf("%s\n", json::serialize(channel_json(*made, urls, 0, 0)).c_str());
    return 0;
  }
  if (verb == "remove") {
    auto removed = (*db)->transact_blocking<bool>([&](storage::Txn& t) { return remove_channel(t, req.handle, "cli"); });
    if (!removed.ok()) return fail(removed.error().message);
    if (!*removed) return fail("no channel has the handle " + req.handle);
    std::printf("removed %s\n", req.handle.c_str());
    return 0;
  }
  auto& store = (*db)->read().announce();
  auto channels = store.channels();
  if (!channels.ok()) return fail(channels.error().message);
  json::array out;
  for (auto& c : *channels) {
    auto followers = store.follower_count(c.handle);
    auto posts = store.post_count(c.handle);
    if (!followers.ok() || !posts.ok()) return fail("cannot read the channel " + c.handle);
    out.push_back(channel_json(c, urls, *followers, *posts));
    if (!as_json)
      std::printf("@%s@%s\t%s\t%s\t%lld followers\t%lld posts\n", c.handle.c_str(), cfg.server_name.c_str(),
                  c.room_id.c_str(), c.name.c_str(), static_cast<long long>(*followers), static_cast<long long>(*posts));
  }
  if (as_json) std::printf("%s\n", json::serialize(json::object{{"channels", std::move(out)}}).c_str());
  return 0;
}

}  // namespace despatch
