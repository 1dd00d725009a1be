// Witness benchmark: what signing the records heads costs while records arrive, and how long
// a records office's first witness pull of a year's archive takes.
//
//   build/witness_bench [--records N] [--dir DIR]
//
// Defaults: 1,000,000 records (a busy department's year). The archive is filled through the
// real Archive::append. The pull runs the server's page builder and the witness's chain
// check in one process, each page serialised to JSON and parsed back as it would travel;
// the network is left out.
#include "core/canonical_json.h"
#include "core/crypto.h"
#include "service/records/archive.h"
#include "service/records/witness.h"
#include "storage/database.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

using namespace despatch;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

int main(int argc, char** argv) {
  int64_t records = 1'000'000;
  std::string dir = (std::filesystem::temp_directory_path() / "despatch-witness-bench").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--records")) records = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
  }
  std::filesystem::remove_all(dir);
  auto db_r = storage::Database::open_sqlite(dir);
  if (!db_r.ok()) {
    std::fprintf(stderr, "%s\n", db_r.error().message.c_str());
    return 1;
  }
  auto& db = *db_r.value();
  SigningKey key = SigningKey::generate("bench");
  RecordsKeyPair office = RecordsKeyPair::generate();
  Archive archive(db, key, office.public_key, 1000);
  std::printf("witness bench: %lld records, data in %s\n", static_cast<long long>(records), dir.c_str());

  const int64_t start_ts = 1'700'000'000'000LL;
  auto append = [&](int64_t from, int64_t n) -> Status {
    return db.transact_blocking<Ok>([&](storage::Txn& t) -> Status {
      for (int64_t i = from; i < from + n; ++i) {
        std::string room = "!room" + std::to_string(i % 500) + ":bench.gov";
        std::string sender = "@user" + std::to_string(i % 1000) + ":bench.gov";
        json::object ev{{"type", "m.room.message"},
                        {"room_id", room},
                        {"sender", sender},
                        {"content", json::object{{"msgtype", "m.text"}, {"body", "item " + std::to_string(i)}}}};
        ArchiveEntry e{i + 1, "$ev" + std::to_string(i), room, sender, "m.room.message", start_ts + i * 31'536,
                       "OFFICIAL", "event", canonical_json(ev)};
        DS_TRY(archive.append(t, e));
      }
      return ok_status();
    });
  };

  // 1. Checkpoint cost: one record then one signature, as each second under load brings.
  constexpr int kSigns = 500;
  double sign_seconds = 0;
  for (int i = 0; i < kSigns; ++i) {
    if (auto st = append(i, 1); !st.ok()) {
      std::fprintf(stderr, "append: %s\n", st.error().message.c_str());
      return 1;
    }
    auto t0 = Clock::now();
    if (auto st = archive.checkpoint_blocking(); !st.ok()) {
      std::fprintf(stderr, "checkpoint: %s\n", st.error().message.c_str());
      return 1;
    }
    sign_seconds += seconds_since(t0);
  }
  double per_sign_us = sign_seconds * 1e6 / kSigns;
  std::printf("checkpoint (three heads read, signed, rolling head replaced, committed): %.0f us each; "
              "at one a second that is %.3f%% of one core\n",
              per_sign_us, per_sign_us / 1e4);
  auto cps = db.read().archive().checkpoints();
  std::printf("checkpoints kept after %d signatures: %zu\n", kSigns, cps.ok() ? cps->size() : 0);

  // 2. Fill the rest of the year.
  auto f0 = Clock::now();
  for (int64_t done = kSigns; done < records; done += 5000) {
    if (auto st = append(done, std::min<int64_t>(5000, records - done)); !st.ok()) {
      std::fprintf(stderr, "append: %s\n", st.error().message.c_str());
      return 1;
    }
  }
  (void)archive.checkpoint_blocking();
  std::printf("filled %lld records in %.1f s\n", static_cast<long long>(records), seconds_since(f0));

  // 3. A first pull of the whole archive, page by page.
  auto p0 = Clock::now();
  WitnessPull pull;
  int64_t pages = 0, bytes = 0;
  while (!pull.done) {
    WitnessPageRequest req{pull.state.count(pull.state.archive), pull.state.count(pull.state.audit),
                           pull.state.count(pull.state.keys), 10000};
    auto page = witness_page(db.read(), req, "bench.gov", key.key_id(), key.public_key());
    if (!page.ok()) {
      std::fprintf(stderr, "page: %s\n", page.error().message.c_str());
      return 1;
    }
    std::string wire = json::serialize(*page);
    bytes += static_cast<int64_t>(wire.size());
    auto parsed = json::parse(wire).as_object();
    if (auto st = witness_extend(pull, parsed, 0); !st.ok()) {
      std::fprintf(stderr, "extend: %s\n", st.error().message.c_str());
      return 1;
    }
    ++pages;
  }
  double pull_seconds = seconds_since(p0);
  std::printf("first witness pull of %lld records: %.1f s, %lld pages, %.0f MB on the wire, %.0f MB witness file\n",
              static_cast<long long>(pull.state.count(pull.state.archive)), pull_seconds,
              static_cast<long long>(pages), static_cast<double>(bytes) / 1e6,
              static_cast<double>(pull.pending.size()) / 1e6);

  // 4. verify --witness over the same archive.
  auto v0 = Clock::now();
  auto rep = verify_against_witness(db.read(), pull.state, "bench");
  if (!rep.ok() || !rep->ok) {
    std::fprintf(stderr, "witness verify failed: %s\n", rep.ok() ? rep->problem.c_str() : rep.error().message.c_str());
    return 1;
  }
  std::printf("records verify against the witness: %lld records in %.1f s\n", static_cast<long long>(rep->records),
              seconds_since(v0));
  std::filesystem::remove_all(dir);
  return 0;
}
