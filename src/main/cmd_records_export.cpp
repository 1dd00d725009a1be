// despatch records export | open-export | verify-export: exports as the records office makes
// and checks them. open-export and verify-export run on the office's machine and need no data
// folder; export reads one directly for offline use.
#include "core/base64.h"
#include "core/config.h"
#include "main/app.h"
#include "main/commands.h"
#include "service/records/audit.h"
#include "service/records/bag.h"
#include "service/records/office.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace despatch {

namespace {

int fail(const std::string& msg, int code = 1) {
  std::fprintf(stderr, "despatch records: %s\n", msg.c_str());
  return code;
}

std::optional<int64_t> parse_ms(const std::optional<std::string>& v) {
  if (!v || v->empty() || v->size() > 18 || v->find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoll(*v);
}

// The server key a bag or sealed export must be signed with: --server-key BASE64, or the one in
// --data DIR; nullopt when neither is given. Sets *error on a bad value.
std::optional<std::string> expected_server_key(Args& args, std::string* error) {
  if (auto b64 = args.take("server-key")) {
    auto raw = base64_decode(*b64);
    if (!raw || raw->size() != 32) *error = "--server-key takes the server's base64 ed25519 public key";
    return raw;
  }
  if (auto data = args.take("data")) {
    auto key = load_signing_key(*data);
    if (!key.ok()) {
      *error = key.error().message;
      return std::nullopt;
    }
    return key->public_key();
  }
  return std::nullopt;
}

Result<RecordsKeyPair> key_pair_from_file(const std::string& path) {
  DS_ASSIGN(std::string secret, load_records_secret_key(path));
  return RecordsKeyPair::from_secret(std::move(secret));
}

void remove_if_empty(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir) && std::filesystem::is_empty(dir, ec)) std::filesystem::remove(dir, ec);
}

}  // namespace

int records_export_cmd(Args& args) {
  Config cfg;
  if (!load_config_arg(args, &cfg)) return 2;
  if (auto v = args.take("data")) cfg.data_dir = *v;
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
  RecordsOffice office(**db, *server_key, cfg.server_name, cfg.data_dir + "/media");
  auto res = kp.ok() ? office.export_to(*kp, f, *out, *case_ref) : Result<ExportResult>(kp.error());
  // Key use is audited whether or not it worked.
  json::object details{{"filter", fj}, {"out", *out}, {"ok", res.ok()}};
  if (res.ok()) details["records"] = res->records;
  else details["error"] = res.error().message;
  auto logged = AuditLog(**db).record_blocking(actor, "records.export", *case_ref, details);
  if (!logged.ok()) return fail("audit log: " + logged.error().message);
  if (!res.ok()) {
    remove_if_empty(*out);
    return fail(res.error().message);
  }
  std::printf("exported %lld records from %lld rooms to the bag %s\n", static_cast<long long>(res->records),
              static_cast<long long>(res->rooms), out->c_str());
  return 0;
}

int records_open_export_cmd(Args& args) {
  auto key_file = args.take("key");
  auto in = args.take("in");
  auto out = args.take("out");
  std::string text = args.take("text").value_or("");
  if (!key_file || !in || !out) return fail("open-export needs --key FILE, --in SEALED and --out DIR", 2);
  std::string error;
  auto expected = expected_server_key(args, &error);
  if (!error.empty()) return fail(error, 2);
  auto kp = key_pair_from_file(*key_file);
  if (!kp.ok()) return fail(kp.error().message, 2);
  std::ifstream f(*in, std::ios::binary);
  if (!f) return fail("cannot read " + *in, 2);
  std::ostringstream ss;
  ss << f.rdbuf();
  std::error_code ec;
  if (std::filesystem::exists(*out) && !std::filesystem::is_empty(*out, ec))
    return fail("output folder " + *out + " is not empty", 2);
  auto opened = open_sealed_export(ss.str(), *kp, text, expected);
  if (!opened.ok()) return fail("the sealed export does not open: " + opened.error().message);
  std::string signer = opened->signing_key_id + " " + opened->signing_public_key;
  int64_t sealed = opened->sealed_records;
  auto res = write_bag(BagContent(std::move(*opened), text), *out);
  if (!res.ok()) {
    remove_if_empty(*out);
    return fail(res.error().message);
  }
  std::printf("opened %lld of %lld sealed records from %lld rooms into the bag %s (signed by %s)\n",
              static_cast<long long>(res->records), static_cast<long long>(sealed),
              static_cast<long long>(res->rooms), out->c_str(), signer.c_str());
  if (!expected)
    std::printf("the signer was not checked: pass --data DIR or --server-key KEY to require this server's key\n");
  return 0;
}

int records_verify_export_cmd(Args& args) {
  if (args.positionals().size() < 2) return fail("verify-export needs the bag's folder", 2);
  std::string error;
  auto expected = expected_server_key(args, &error);
  if (!error.empty()) return fail(error, 2);
  std::optional<RecordsKeyPair> keys;
  if (auto key_file = args.take("key")) {
    auto kp = key_pair_from_file(*key_file);
    if (!kp.ok()) return fail(kp.error().message, 2);
    keys = std::move(*kp);
  }
  auto r = verify_export(args.positionals()[1], expected, keys);
  if (!r.ok()) {
    std::printf("bag FAILED verification: %s\n", r.error().message.c_str());
    return 1;
  }
  std::printf("bag OK: %lld records, %lld payload files match the bag's manifests; the records match the sealed "
              "export signed by %s %s%s\n",
              static_cast<long long>(r->records), static_cast<long long>(r->payload_files), r->signing_key_id.c_str(),
              r->signing_public_key.c_str(), r->content_checked ? ", contents included (opened with --key)" : "");
  if (!expected)
    std::printf("the signer was not checked: pass --data DIR or --server-key KEY to require this server's key\n");
  return 0;
}

}  // namespace despatch
