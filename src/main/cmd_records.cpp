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
                            (keep it offline; needed only to export)
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
                            write an FOI / subject access bundle: records.jsonl, an HTML
                            transcript per room, manifest.json and manifest.sig
  verify-export DIR [--data DIR | --server-key BASE64]
                            check a bundle's hashes and signature, and that the signer is
                            the server (its key from the data folder, or given)

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

std::optional<int64_t> parse_ms(const std::optional<std::string>& v) {
  if (!v || v->empty() || v->size() > 18 || v->find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoll(*v);
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

int export_cmd(Args& args) {
  Config cfg = config_from(args);
  auto key_file = args.take("key");
  auto out = args.take("out");
  auto case_ref = args.take("case");
  if (!key_file || !out || !case_ref || case_ref->empty())
    return fail("export needs --key FILE, --out DIR and --case REF", 2);
  ExportFilter f;
  f.user = args.take("user").value_or("");
  f.room = args.take("room").value_or("");
  f.text = args.take("text").value_or("");
  auto from = args.take("from"), to = args.take("to");
  f.from_ts = parse_ms(from);
  f.to_ts = parse_ms(to);
  if ((from && !f.from_ts) || (to && !f.to_ts)) return fail("--from and --to take milliseconds since the epoch", 2);
  json::object fj = f.to_json();
  auto checked = ExportFilter::from_json(fj);
  if (!checked.ok()) return fail(checked.error().message, 2);
  std::string actor = args.take("actor").value_or("cli");

  auto secret = load_records_secret_key(*key_file);
  if (!secret.ok()) return fail(secret.error().message, 2);
  if (!std::filesystem::exists(cfg.data_dir + "/despatch.db")) return fail("no archive in " + cfg.data_dir, 2);
  auto db = storage::Database::open_sqlite(cfg.data_dir);
  if (!db.ok()) return fail(db.error().message);
  auto server_key = load_signing_key(cfg.data_dir);
  if (!server_key.ok()) return fail(server_key.error().message);
  auto kp = records_key_pair(cfg, std::move(*secret));
  auto res = kp.ok() ? RecordsOffice(**db, *server_key).export_to(*kp, f, *out, *case_ref)
                     : Result<ExportResult>(kp.error());
  // Key use is audited whether or not it worked.
  json::object details{{"filter", fj}, {"out", *out}, {"ok", res.ok()}};
  if (res.ok()) details["records"] = res->records;
  else details["error"] = res.error().message;
  auto logged = AuditLog(**db).record_blocking(actor, "records.export", *case_ref, details);
  if (!logged.ok()) return fail("audit log: " + logged.error().message);
  if (!res.ok()) {
    std::error_code ec;
    if (std::filesystem::exists(*out) && std::filesystem::is_empty(*out, ec)) std::filesystem::remove(*out, ec);
    return fail(res.error().message);
  }
  std::printf("exported %lld records from %lld rooms to %s\n", static_cast<long long>(res->records),
              static_cast<long long>(res->rooms), out->c_str());
  return 0;
}

int verify_export_cmd(Args& args) {
  if (args.positionals().size() < 2) return fail("verify-export needs the bundle folder", 2);
  auto server_key = args.take("server-key");
  std::optional<std::string> expected;
  if (server_key) {
    expected = base64_decode(*server_key);
    if (!expected || expected->size() != 32) return fail("--server-key takes the server's base64 ed25519 public key", 2);
  } else if (auto data = args.take("data")) {
    auto key = load_signing_key(*data);
    if (!key.ok()) return fail(key.error().message, 2);
    expected = key->public_key();
  }
  auto r = verify_export(args.positionals()[1], expected);
  if (!r.ok()) {
    std::printf("bundle FAILED verification: %s\n", r.error().message.c_str());
    return 1;
  }
  std::printf("bundle OK: %lld records, every file matches the manifest signed by %s %s\n",
              static_cast<long long>(r->records), r->signing_key_id.c_str(), r->signing_public_key.c_str());
  if (!expected)
    std::printf("the signer was not checked: pass --data DIR or --server-key KEY to require this server's key\n");
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
  if (sub == "export") return export_cmd(args);
  if (sub == "verify-export") return verify_export_cmd(args);
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
