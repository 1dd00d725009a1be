// despatch records ... and despatch audit ...: the records office's tools. Each opens the
// data folder directly, so they work with the server running or stopped.
#include "core/base64.h"
#include "core/config.h"
#include "core/file.h"
#include "main/app.h"
#include "main/commands.h"
#include "service/records/archive.h"
#include "service/records/audit.h"
#include "service/records/office.h"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace despatch {

namespace {

const char* kRecordsHelp = R"(Usage: despatch records <command> [options]

Commands:
  keygen [--out DIR]        make a records office key pair: records_office.pub (give it to
                            the server: [records] public_key_file) and records_office.key
                            (keep it offline; needed only to open exports)
  verify [--data DIR]       check the archive's hash chain and signed checkpoints; names the
                            first record that was changed, removed, inserted or reordered
  export --key FILE --out DIR --case REF [--actor NAME] [--data DIR]
         [--user USER_ID] [--room ROOM_ID] [--from MS] [--to MS] [--text WORDS]
                            offline: write an FOI / subject access bag (BagIt) from the
                            data folder: records.jsonl, index.csv, an HTML transcript per
                            room, one EML file per message, media, and the server's signed
                            sealed export as evidence
  open-export --key FILE --in SEALED --out DIR [--text WORDS] [--data DIR | --server-key BASE64]
                            on the records office's machine: check and open a sealed export
                            (the reply of POST /_despatch/admin/v1/records/sealed_export) and
                            write the same bag; --text keeps messages containing WORDS
  verify-export DIR [--data DIR | --server-key BASE64] [--key FILE]
                            check a bag: BagIt manifests and Payload-Oxum, no file added or
                            missing, the server's signature, each record against the signed
                            sealed one (with --key, their contents too)

Every command takes --data DIR (default ./data) and --config FILE like `despatch serve`.
)";

const char* kAuditHelp = R"(Usage: despatch audit verify [--data DIR] [--config FILE]

Checks the hash chain of the audit log of administrative and records actions.
)";

Config config_from(Args& args) {
  Config cfg;
  if (!load_config_arg(args, &cfg)) std::exit(2);
  if (auto v = args.take("data")) cfg.data_dir = *v;
  return cfg;
}

int fail(const std::string& msg, int code = 1) {
  std::fprintf(stderr, "despatch records: %s\n", msg.c_str());
  return code;
}

int keygen(Args& args) {
  std::string out = args.take("out").value_or(".");
  auto data = args.take("data");
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) return fail("cannot create " + out + ": " + ec.message());
  std::string pub = out + "/records_office.pub", key = out + "/records_office.key";
  std::string installed = data ? *data + "/records_office.pub" : "";
  for (auto& p : {pub, key, installed})
    if (!p.empty() && std::filesystem::exists(p)) return fail("refusing to overwrite the existing key " + p);
  RecordsKeyPair kp = RecordsKeyPair::generate();
  auto st = write_file_durable(key, base64_encode(kp.secret_key) + "\n", 0600);
  if (st.ok()) st = write_file_durable(pub, base64_encode(kp.public_key) + "\n", 0644);
  if (st.ok() && data) {
    std::filesystem::create_directories(*data, ec);
    st = write_file_durable(installed, base64_encode(kp.public_key) + "\n", 0644);
  }
  if (!st.ok()) return fail(st.error().message);
  std::printf("public key: %s\nsecret key: %s (keep it offline)\n", pub.c_str(), key.c_str());
  if (data) std::printf("the server in %s now seals its archive to this key\n", data->c_str());
  return 0;
}

int verify(Args& args) {
  Config cfg = config_from(args);
  if (!std::filesystem::exists(cfg.data_dir + "/despatch.db")) return fail("no archive in " + cfg.data_dir, 2);
  auto db = storage::Database::open_sqlite(cfg.data_dir);
  if (!db.ok()) return fail(db.error().message);
  auto key = load_signing_key(cfg.data_dir);
  if (!key.ok()) return fail(key.error().message);
  auto rep = RecordsOffice(**db, *key).verify_archive();
  if (!rep.ok()) return fail(rep.error().message);
  (void)AuditLog(**db).record_blocking(
      "cli", "records.verify", "", json::object{{"ok", rep->ok}, {"records", rep->records}, {"problem", rep->problem}});
  if (!rep->ok) {
    std::printf("archive FAILED verification at record %lld: %s\n", static_cast<long long>(rep->first_bad_seq),
                rep->problem.c_str());
    return 1;
  }
  std::printf("archive OK: %lld records (%lld tombstones), %lld signed checkpoints\n",
              static_cast<long long>(rep->records), static_cast<long long>(rep->tombstones),
              static_cast<long long>(rep->checkpoints));
  return 0;
}

}  // namespace

int cmd_records(Args& args) {
  if (args.help() || args.positionals().empty()) {
    std::fputs(kRecordsHelp, args.help() ? stdout : stderr);
    return args.help() ? 0 : 2;
  }
  const std::string& sub = args.positionals()[0];
  if (sub == "keygen") return keygen(args);
  if (sub == "verify") return verify(args);
  if (sub == "export") return records_export_cmd(args);
  if (sub == "open-export") return records_open_export_cmd(args);
  if (sub == "verify-export") return records_verify_export_cmd(args);
  std::fputs(kRecordsHelp, stderr);
  return 2;
}

int cmd_audit(Args& args) {
  if (args.help() || args.positionals().empty() || args.positionals()[0] != "verify") {
    std::fputs(kAuditHelp, args.help() ? stdout : stderr);
    return args.help() ? 0 : 2;
  }
  Config cfg = config_from(args);
  auto db = storage::Database::open_sqlite(cfg.data_dir);
  if (!db.ok()) return fail(db.error().message);
  auto rep = AuditLog(**db).verify();
  if (!rep.ok()) return fail(rep.error().message);
  if (!rep->ok) {
    std::printf("audit log FAILED verification at entry %lld: %s\n", static_cast<long long>(rep->first_bad_seq),
                rep->problem.c_str());
    return 1;
  }
  std::printf("audit log OK: %lld entries\n", static_cast<long long>(rep->records));
  return 0;
}

}  // namespace despatch
