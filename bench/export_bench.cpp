// Export benchmark: one user's year of records (100,000 messages over 365 days by default),
// exported the way the records office does it: the server builds the sealed export (what
// POST /_despatch/admin/v1/records/sealed_export returns), the office opens it (signature,
// hashes, decryption) and renders each format of the bag, which is then written and verified.
//
//   build/export_bench [--messages N] [--rooms R] [--dir DIR]
//
// The archive is filled through the real Archive::append (sealing and chaining included), the
// fastest honest way to a year of records; the live event tables and media are not filled, so
// the server looks each message's live copy up (as it does for media) but finds none, and no
// media travel with this export.
#include "core/canonical_json.h"
#include "core/crypto.h"
#include "service/records/archive.h"
#include "service/records/bag.h"
#include "service/records/export.h"
#include "service/records/sealed_export.h"
#include "storage/database.h"

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <string>

using namespace despatch;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU seconds (user + system, every thread) this process has used: on a shared machine the
// wall clock also counts the time other processes held the cores.
double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

constexpr int64_t kMemberEvery = 50;  // one record in 50 is a membership change

std::string event_json(int64_t i, const std::string& room, const std::string& sender, int64_t ts) {
  json::object ev{{"room_id", room}, {"sender", sender}, {"origin_server_ts", ts},
                  {"event_id", "$ev" + std::to_string(i)}};
  if (i % kMemberEvery == 0) {
    ev["type"] = "m.room.member";
    ev["state_key"] = sender;
    ev["content"] = json::object{{"membership", "join"}};
  } else {
    ev["type"] = "m.room.message";
    // Some bodies need CSV quoting, RFC 2047 subjects and base64 EML bodies.
    std::string body = i % 7 == 0 ? "Gr\xc3\xbc\xc3\x9f" "e, item " + std::to_string(i) + ", \"draft\"\nsecond line"
                                  : "Minute on the draft policy, item " + std::to_string(i);
    ev["content"] = json::object{{"msgtype", "m.text"}, {"body", body}};
  }
  return canonical_json(ev);
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string line;
  std::getline(in, line);
  return line.substr(0, line.find(' ')) + "\n";
}

}  // namespace

int main(int argc, char** argv) {
  int64_t messages = 100'000, rooms = 20;
  std::string dir = (std::filesystem::temp_directory_path() / "despatch-export-bench").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--messages")) messages = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--rooms")) rooms = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
  }
  std::filesystem::remove_all(dir);
  auto db_r = storage::Database::open_sqlite(dir + "/db");
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
  const std::string user = "@user42:bench.gov";
  std::printf("export bench: %lld records of %s over 365 days in %lld rooms (1 in %lld a membership change)\n",
              static_cast<long long>(messages), user.c_str(), static_cast<long long>(rooms),
              static_cast<long long>(kMemberEvery));

  auto fill0 = Clock::now();
  for (int64_t done = 0; done < messages; done += 5000) {
    int64_t n = std::min<int64_t>(5000, messages - done);
    auto r = db.transact_blocking<Ok>([&](storage::Txn& t) -> Result<Ok> {
      for (int64_t i = done; i < done + n; ++i) {
        std::string room = "!room" + std::to_string(i % rooms) + ":bench.gov";
        int64_t ts = start_ts + (i * year_ms) / messages;
        const char* type = i % kMemberEvery == 0 ? "m.room.member" : "m.room.message";
        ArchiveEntry e{i + 1, "$ev" + std::to_string(i), room, user, type, ts, "OFFICIAL", "event",
                       event_json(i, room, user, ts)};
        DS_TRY(archive.append(t, e));
      }
      return Ok{};
    });
    if (!r.ok()) {
      std::fprintf(stderr, "append: %s\n", r.error().message.c_str());
      return 1;
    }
  }
  std::printf("archive fill: %.1f s\n", seconds_since(fill0));

  ExportFilter f;
  f.user = user;
  f.from_ts = start_ts;
  f.to_ts = start_ts + year_ms;
  double cpu0 = cpu_seconds();

  // 1. The server: the sealed export, as the admin API serialises it.
  auto t0 = Clock::now();
  // With a media folder, as the admin API has: every message's live copy is looked up for the
  // files it refers to (none here: the live tables are empty).
  media::FileStore files(dir + "/media");
  auto sealed = build_sealed_export(db.read(), f, server_key, SealedExportOptions{"BENCH-1", "bench.gov", &files});
  if (!sealed.ok()) {
    std::fprintf(stderr, "sealed export: %s\n", sealed.error().message.c_str());
    return 1;
  }
  std::string doc = json::serialize(sealed->document);
  double t_sealed = seconds_since(t0);
  std::printf("server: sealed export of %lld records, %.1f MB, in %.2f s\n", static_cast<long long>(sealed->records),
              static_cast<double>(doc.size()) / 1e6, t_sealed);

  // 2. The records office: check and open.
  t0 = Clock::now();
  auto opened = open_sealed_export(doc, office, "", server_key.public_key());
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.error().message.c_str());
    return 1;
  }
  double t_open = seconds_since(t0);
  double cpu_open = cpu_seconds() - cpu0;  // the server's part and the office's
  std::printf("office: checked and opened %zu records in %.2f s (CPU of both so far: %.2f s)\n",
              opened->records.size(), t_open, cpu_open);
  BagContent content(std::move(*opened));

  // 3. Each format on its own: rendered, then written as a bag of that format alone (manifests
  // hashed, tag files included); end to end = server + office + render + write.
  double base = t_sealed + t_open;
  BagFiles all;
  double t_render_all = 0, cpu_render_all = 0;
  auto one_format = [&](const char* name, auto render) -> bool {
    double c0 = cpu_seconds();
    auto f0 = Clock::now();
    BagFiles files = render();
    double t_render = seconds_since(f0);
    cpu_render_all += cpu_seconds() - c0;
    size_t bytes = 0;
    for (auto& [p, d] : files) bytes += d.size();
    BagFiles copy = files;
    auto w0 = Clock::now();
    auto w = write_bag(content, dir + "/bag-" + std::string(name), std::move(copy));
    double t_write = seconds_since(w0);
    if (!w.ok()) {
      std::fprintf(stderr, "write %s: %s\n", name, w.error().message.c_str());
      return false;
    }
    std::printf("format %-10s %6zu files %6.1f MB: render %.2f s, write %.2f s; end to end %.2f s (CPU %.2f s + %.2f s "
                "to open)\n",
                name, files.size(), static_cast<double>(bytes) / 1e6, t_render, t_write, base + t_render + t_write,
                cpu_seconds() - c0, cpu_open);
    t_render_all += t_render;
    for (auto& x : files) all.push_back(std::move(x));
    return true;
  };
  if (!one_format("jsonl", [&] { return BagFiles{{"records.jsonl", render_jsonl(content)}}; }) ||
      !one_format("csv", [&] { return BagFiles{{"index.csv", render_csv(content)}}; }) ||
      !one_format("html", [&] { return render_transcripts(content); }) ||
      !one_format("eml", [&] { return render_eml(content); }))
    return 1;

  // 4. The whole bag, every format together, then verify-export.
  double c_bag = cpu_seconds();
  t0 = Clock::now();
  auto written = write_bag(content, dir + "/bag", std::move(all));
  if (!written.ok()) {
    std::fprintf(stderr, "write: %s\n", written.error().message.c_str());
    return 1;
  }
  double t_write = seconds_since(t0);
  double total = base + t_render_all + t_write;
  std::printf("the whole bag (every format, %lld records): written in %.2f s; end to end %.2f s (target < 10 s); "
              "CPU %.2f s; %u cores, load average %s",
              static_cast<long long>(written->records), t_write, total, cpu_open + cpu_render_all + (cpu_seconds() - c_bag),
              std::thread::hardware_concurrency(), load_average().c_str());
  t0 = Clock::now();
  auto checked = verify_export(dir + "/bag", server_key.public_key(), office);
  if (!checked.ok()) {
    std::fprintf(stderr, "verify-export: %s\n", checked.error().message.c_str());
    return 1;
  }
  std::printf("verify-export (bag, signature, records, contents with the key): %.2f s\n", seconds_since(t0));
  std::filesystem::remove_all(dir);
  return 0;
}
