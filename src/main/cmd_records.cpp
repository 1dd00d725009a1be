// despatch records ... and despatch audit ...: the records office's tools. Each opens the
// data folder directly, so they work with the server running or stopped.
#include "core/base64.h"
#include "core/config.h"
#include "core/file.h"
#include "main/app.h"
#include "main/commands.h"
#include "main/records_cli.h"
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
  verify [--data DIR] [--witness FILE]...
                            check the archive's hash chains, signed checkpoints and data keys
                            against the room log; names the first record that was changed,
                            removed, inserted or reordered. With --witness, also that the
                            archive still extends every head the witness file holds (this
                            catches a rewrite re-signed with the server's own key)
  witness pull --server URL --out FILE [--token-file F] [--ca-file F]
                            fetch the server's newest signed heads and the chains' hashes
                            since the last pull into FILE (append-only), refusing any that do
                            not extend what FILE holds. The token is an administrator's
                            (--token-file, or DESPATCH_ADMIN_TOKEN)
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

Checks the hash chain of the audit log of administrative and records actions, and that it
still matches the heads the server signed (a re-chained edit or a removed last entry fails).
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
  auto witnesses = args.take_all("witness");
  auto rep = RecordsOffice(**db, *key).verify_archive();
  if (!rep.ok()) return fail(rep.error().message);
  if (!rep->ok) {
    std::printf("archive FAILED verification at record %lld: %s\n", static_cast<long long>(rep->first_bad_seq),
                rep->problem.c_str());
  } else {
    std::printf("archive OK: %lld records (%lld tombstones), %lld signed checkpoints, %lld data keys\n",
                static_cast<long long>(rep->records), static_cast<long long>(rep->tombstones),
                static_cast<long long>(rep->checkpoints), static_cast<long long>(rep->data_keys));
    if (rep->unsigned_tail > 0)
      std::printf("%lld records after the newest signed checkpoint match the room log (the server signs them "
                  "within a second while it runs)\n",
                  static_cast<long long>(rep->unsigned_tail));
  }
  int code = rep->ok ? 0 : 1;
  // Witnesses are checked even when the archive's own checks fail: they say more about what
  // was rewritten. Without one, a rewrite re-chained and re-signed with this server's key
  // passes the checks above: only a copy held elsewhere can tell.
  if (!witnesses.empty() && verify_witnesses(**db, witnesses) != 0) code = 1;
  if (witnesses.empty() && rep->ok)
    std::printf("no witness checked: pass --witness FILE to prove the archive is the one the records office saw\n");
  // The tools never sign: signing would vouch for whatever the database now holds, forged
  // entries included. Their entries are covered at the running server's next checkpoint.
  (void)AuditLog(**db)
      .record_blocking("cli", "records.verify", "",
                       json::object{{"ok", code == 0},
                                    {"records", rep->records},
                                    {"problem", rep->problem},
                                    {"witnesses", static_cast<int64_t>(witnesses.size())}});
  return code;
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
  if (sub == "witness") return records_witness(args);
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
  auto key = load_signing_key(cfg.data_dir);
  if (!key.ok()) return fail(key.error().message);
  auto rep = AuditLog(**db).verify(key->public_key());
  if (!rep.ok()) return fail(rep.error().message);
  if (!rep->ok) {
    std::printf("audit log FAILED verification at entry %lld: %s\n", static_cast<long long>(rep->first_bad_seq),
                rep->problem.c_str());
    return 1;
  }
  std::printf("audit log OK: %lld entries, %lld signed checkpoints over its head\n",
              static_cast<long long>(rep->records), static_cast<long long>(rep->checkpoints));
  if (rep->unsigned_tail > 0)
    std::printf("%lld entries after the newest signed checkpoint (the server signs them within a second)\n",
                static_cast<long long>(rep->unsigned_tail));
  return 0;
}

}  // namespace despatch
