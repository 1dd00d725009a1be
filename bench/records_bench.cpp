// Records benchmark: what archiving adds to each event, how fast `records verify` walks the
// chain, and how long an FOI export of one user's year takes from a large archive.
//
//   build/records_bench [--records N] [--users U] [--dir DIR]
//
// Defaults: 1,000,000 records from 1,000 users over one year (about 3 minutes here: the
// archive is filled through the real Archive::append, sealing included).
#include "core/canonical_json.h"
#include "core/crypto.h"
#include "service/records/archive.h"
#include "service/records/export.h"
#include "service/records/verify.h"
#include "storage/database.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

using namespace despatch;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// One record in 50 is a membership change (a join, or an invite of someone else), as in a
// department's rooms: a user's export must open those too, to find the ones about the user.
constexpr int64_t kMemberEvery = 50;

std::string event_json(int64_t i, const std::string& room, const std::string& sender, int64_t ts,
                       const std::string& subject) {
  json::object ev{{"room_id", room}, {"sender", sender}, {"origin_server_ts", ts},
                  {"event_id", "$ev" + std::to_string(i)}};
  if (i % kMemberEvery == 0) {
    ev["type"] = "m.room.member";
    ev["state_key"] = subject;
    ev["content"] = json::object{{"membership", subject == sender ? "join" : "invite"}};
  } else {
    ev["type"] = "m.room.message";
    ev["content"] = json::object{{"msgtype", "m.text"},
                                 {"body", "Minute on the draft policy, item " + std::to_string(i)}};
  }
  return canonical_json(ev);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t records = 1'000'000, users = 1'000;
  std::string dir = (std::filesystem::temp_directory_path() / "despatch-records-bench").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--records")) records = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--users")) users = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
  }
  std::filesystem::remove_all(dir);
  auto db_r = storage::Database::open_sqlite(dir);
  if (!db_r.ok()) {
    std::fprintf(stderr, "%s\n", db_r.error().message.c_str());
    return 1;
  }
  auto& db = *db_r.value();
  SigningKey server_key = SigningKey::generate("bench");
  RecordsKeyPair office = RecordsKeyPair::generate();
  Archive archive(db, server_key, office.public_key, 10'000);

  const int64_t year_ms = 365LL * 86'400'000;
  const int64_t start_ts = 1'700'000'000'000LL;
  const int64_t batch = 5'000;
  std::printf("records bench: %lld records (1 in %lld a membership change), %lld users, data in %s\n",
              static_cast<long long>(records), static_cast<long long>(kMemberEvery),
              static_cast<long long>(users), dir.c_str());

  // 1. Append cost: sealing, hashing and the INSERT, measured inside the writer's jobs.
  double append_seconds = 0;
  auto fill_t0 = Clock::now();
  for (int64_t done = 0; done < records; done += batch) {
    int64_t n = std::min(batch, records - done);
    auto r = db.transact_blocking<double>([&](storage::Txn& t) -> Result<double> {
      auto t0 = Clock::now();
      for (int64_t i = done; i < done + n; ++i) {
        std::string sender = "@user" + std::to_string(i % users) + ":bench.gov";
        std::string room = "!room" + std::to_string(i % 500) + ":bench.gov";
        int64_t ts = start_ts + (i * year_ms) / records;
        // Half the membership changes are invites of another user.
        std::string subject = (i / kMemberEvery) % 2 ? "@user" + std::to_string((i / 7) % users) + ":bench.gov" : sender;
        const char* type = i % kMemberEvery == 0 ? "m.room.member" : "m.room.message";
        ArchiveEntry e{i + 1, "$ev" + std::to_string(i), room, sender, type, ts, "OFFICIAL",
                       "event", event_json(i, room, sender, ts, subject)};
        DS_TRY(archive.append(t, e));
      }
      return seconds_since(t0);
    });
    if (!r.ok()) {
      std::fprintf(stderr, "append: %s\n", r.error().message.c_str());
      return 1;
    }
    append_seconds += *r;
  }
  double fill_seconds = seconds_since(fill_t0);
  std::printf("archive append: %.1f us per event (seal + hash + insert, in the sending transaction)\n",
              append_seconds * 1e6 / static_cast<double>(records));
  std::printf("archive fill: %lld records in %.1f s including commits (%.0f records/s)\n",
              static_cast<long long>(records), fill_seconds, static_cast<double>(records) / fill_seconds);

  // The bench writes records without room events: sign the tail, as the server does every
  // second, or verify would take the unsigned records for forgeries.
  if (auto st = archive.checkpoint_blocking(); !st.ok()) {
    std::fprintf(stderr, "checkpoint: %s\n", st.error().message.c_str());
    return 1;
  }

  // 2. Verify speed.
  auto v0 = Clock::now();
  auto rep = verify_archive(db.read(), server_key.public_key());
  double verify_seconds = seconds_since(v0);
  if (!rep.ok() || !rep->ok) {
    std::fprintf(stderr, "verify failed: %s\n", rep.ok() ? rep->problem.c_str() : rep.error().message.c_str());
    return 1;
  }
  std::printf("records verify: %lld records and %lld checkpoints in %.2f s (%.0f records/s)\n",
              static_cast<long long>(rep->records), static_cast<long long>(rep->checkpoints), verify_seconds,
              static_cast<double>(rep->records) / verify_seconds);

  // 3. FOI export of one user's year.
  ExportFilter f;
  f.user = "@user42:bench.gov";
  f.from_ts = start_ts;
  f.to_ts = start_ts + year_ms;
  std::string out = dir + "/export";
  auto e0 = Clock::now();
  auto res = export_records(db.read(), office, f, out, server_key, "BENCH-1", "bench.gov", nullptr);
  double export_seconds = seconds_since(e0);
  if (!res.ok()) {
    std::fprintf(stderr, "export failed: %s\n", res.error().message.c_str());
    return 1;
  }
  std::printf("export of one user's year: %lld records from %lld rooms in %.2f s (archive of %lld records)\n",
              static_cast<long long>(res->records), static_cast<long long>(res->rooms), export_seconds,
              static_cast<long long>(records));
  auto ok = verify_export(out, server_key.public_key());
  std::printf("export bundle verifies: %s\n", ok.ok() ? "yes" : ok.error().message.c_str());
  std::filesystem::remove_all(dir);
  return ok.ok() ? 0 : 1;
}
