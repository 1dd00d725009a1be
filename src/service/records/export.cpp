#include "service/records/export.h"

#include "core/base64.h"
#include "core/ids.h"
#include "service/records/bag.h"
#include "service/records/sealed_export.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace despatch {

namespace fs = std::filesystem;

namespace {

Result<std::string> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return Error::not_found("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Bundles made before exports were bags (format despatch-export-1: manifest.json, signed by
// the server in manifest.sig, over the decrypted files): kept verifiable, as evidence already
// handed out.
Result<ExportCheck> verify_legacy_bundle(const std::string& dir, const std::optional<std::string>& expected_key) {
  DS_ASSIGN(std::string manifest_text, read_file(fs::path(dir) / "manifest.json"));
  DS_ASSIGN(std::string sig_text, read_file(fs::path(dir) / "manifest.sig"));
  boost::system::error_code ec;
  auto mv = json::parse(manifest_text, ec);
  if (ec || !mv.is_object()) return Error::bad_json("manifest.json is not JSON");
  auto& m = mv.as_object();
  auto* pk = m.if_contains("signing_public_key");
  auto pub = pk && pk->is_string() ? base64_decode(pk->as_string()) : std::nullopt;
  while (!sig_text.empty() && (sig_text.back() == '\n' || sig_text.back() == '\r')) sig_text.pop_back();
  auto sig = base64_decode(sig_text);
  if (!pub || pub->size() != 32 || !sig || !ed25519_verify(*pub, manifest_text, *sig))
    return Error::forbidden("manifest signature does not verify");
  if (expected_key && *pub != *expected_key)
    return Error::forbidden("the bundle is signed with " + std::string(pk->as_string()) +
                            ", not with this server's key");
  ExportCheck check;
  check.signing_public_key = pk->as_string();
  if (auto* id = m.if_contains("signing_key_id"); id && id->is_string()) check.signing_key_id = id->as_string();
  auto* files = m.if_contains("files");
  if (!files || !files->is_array()) return Error::bad_json("manifest lists no files");
  std::set<std::string> listed{"manifest.json", "manifest.sig"};
  for (auto& f : files->as_array()) {
    if (!f.is_object() || !f.as_object().contains("path") || !f.as_object().contains("sha256"))
      return Error::bad_json("manifest file entries need path and sha256");
    std::string path(f.as_object().at("path").as_string());
    if (path.find("..") != std::string::npos || (!path.empty() && path[0] == '/'))
      return Error::forbidden("manifest path escapes the bundle: " + path);
    listed.insert(path);
    auto data = read_file(fs::path(dir) / path);
    if (!data.ok()) return Error::forbidden("file missing from the bundle: " + path);
    if (hex_encode(sha256(*data)) != f.as_object().at("sha256").as_string())
      return Error::forbidden("file changed since export: " + path);
  }
  for (auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::string rel = fs::relative(entry.path(), dir).generic_string();
    if (!listed.count(rel)) return Error::forbidden("file added to the bundle: " + rel);
  }
  auto* n = m.if_contains("records");
  check.records = n && n->is_int64() ? n->as_int64() : 0;
  return check;
}

}  // namespace

json::object ExportFilter::to_json() const {
  json::object o;
  if (!user.empty()) o["user"] = user;
  if (!room.empty()) o["room"] = room;
  if (from_ts) o["from_ts"] = *from_ts;
  if (to_ts) o["to_ts"] = *to_ts;
  if (!text.empty()) o["text"] = text;
  return o;
}

Result<ExportFilter> ExportFilter::from_json(const json::object& o) {
  ExportFilter f;
  for (auto& [k, v] : o) {
    if (k == "user" || k == "room" || k == "text") {
      if (!v.is_string()) return Error::bad_json("filter." + std::string(k) + " must be a string");
      (k == "user" ? f.user : k == "room" ? f.room : f.text) = v.as_string();
    } else if (k == "from_ts" || k == "to_ts") {
      if (!v.is_int64() || v.as_int64() < 0) return Error::bad_json("filter." + std::string(k) + " must be a timestamp in ms");
      (k == "from_ts" ? f.from_ts : f.to_ts) = v.as_int64();
    } else {
      return Error::invalid_param("unknown filter field " + std::string(k));
    }
  }
  if (!f.user.empty() && !is_valid_user_id(f.user)) return Error::invalid_param("filter.user is not a user ID");
  if (!f.room.empty() && !is_valid_room_id(f.room)) return Error::invalid_param("filter.room is not a room ID");
  if (f.from_ts && f.to_ts && *f.from_ts > *f.to_ts) return Error::invalid_param("filter.from_ts is after to_ts");
  return f;
}

json::object FoundRecord::to_json() const {
  return json::object{{"seq", row.seq},       {"hash", row.hash},       {"event_id", row.event_id},
                      {"room_id", row.room_id}, {"sender", row.sender},   {"type", row.type},
                      {"ts", row.ts},           {"classification", row.classification},
                      {"kind", row.kind},       {"event", event}};
}

Result<ExportResult> export_records(storage::Stores& s, const RecordsKeyPair& keys, const ExportFilter& f,
                                    const std::string& out_dir, const SigningKey& server_key,
                                    const std::string& case_ref, const std::string& server_name,
                                    const media::FileStore* media_files) {
  std::error_code ec;
  if (fs::exists(out_dir) && !fs::is_empty(out_dir, ec))
    return Error::invalid_param("output folder " + out_dir + " is not empty");
  // The same two steps as the admin API and open-export, so the offline bag is the same bag.
  ExportFilter clear = f;
  clear.text.clear();
  SealedExportOptions opt{case_ref, server_name, media_files};
  DS_ASSIGN(SealedExport sealed, build_sealed_export(s, clear, server_key, opt));
  std::string text = json::serialize(sealed.document);
  sealed.document = {};
  DS_ASSIGN(OpenedExport opened, open_sealed_export(text, keys, f.text, server_key.public_key()));
  return write_bag(BagContent(std::move(opened), f.text), out_dir);
}

Result<ExportCheck> verify_export(const std::string& dir, const std::optional<std::string>& expected_key,
                                  const std::optional<RecordsKeyPair>& keys) {
  if (!fs::exists(fs::path(dir) / "bagit.txt") && fs::exists(fs::path(dir) / "manifest.json"))
    return verify_legacy_bundle(dir, expected_key);
  DS_ASSIGN(BagCheck bag, check_bag(dir));
  auto evidence = read_file(fs::path(dir) / kEvidenceFile);
  if (!evidence.ok()) return Error::forbidden(std::string("file missing from the bag: ") + kEvidenceFile);
  DS_ASSIGN(CheckedSealedExport sealed, check_sealed_export(*evidence, expected_key, false));
  ExportCheck check;
  check.payload_files = bag.payload_files;
  check.signing_key_id = sealed.signing_key_id;
  check.signing_public_key = sealed.signing_public_key;
  std::map<int64_t, const ArchiveRow*> by_seq;
  for (auto& r : sealed.rows) by_seq[r.seq] = &r;

  // Every exported record is one the server signed, with the same clear columns.
  DS_ASSIGN(std::string jsonl, read_file(fs::path(dir) / "data" / "records.jsonl"));
  std::map<int64_t, json::object> exported;
  std::istringstream in(jsonl);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    auto* seq = !ec && v.is_object() ? v.as_object().if_contains("seq") : nullptr;
    if (!seq || !seq->is_int64()) return Error::forbidden("records.jsonl line " + std::to_string(exported.size() + 1) + " is not a record");
    auto it = by_seq.find(seq->as_int64());
    if (it == by_seq.end())
      return Error::forbidden("records.jsonl holds record " + std::to_string(seq->as_int64()) +
                              ", which the server's sealed export does not");
    FoundRecord signed_cols{*it->second, {}};
    json::object want = signed_cols.to_json();
    auto& got = v.as_object();
    for (auto& [k, wv] : want) {
      if (k == "event") continue;
      auto* gv = got.if_contains(k);
      if (!gv || *gv != wv)
        return Error::forbidden("records.jsonl: record " + std::to_string(seq->as_int64()) + "'s " + std::string(k) +
                                " differs from the server's sealed record");
    }
    auto* ev = got.if_contains("event");
    if (!ev || !ev->is_object()) return Error::forbidden("records.jsonl: record " + std::to_string(seq->as_int64()) + " has no event");
    if (!exported.emplace(seq->as_int64(), ev->as_object()).second)
      return Error::forbidden("records.jsonl holds record " + std::to_string(seq->as_int64()) + " twice");
  }
  check.records = static_cast<int64_t>(exported.size());

  // Media files: each one the server listed, with its signed hash.
  std::map<std::string, std::string> signed_media;  // bag path -> sha256
  if (auto* listed = sealed.manifest.if_contains("media"); listed && listed->is_array())
    for (auto& e : listed->as_array()) {
      if (!e.is_object()) continue;
      auto& o = e.as_object();
      auto s = [&o](const char* k) {
        auto* v = o.if_contains(k);
        return v && v->is_string() ? std::string(v->as_string()) : std::string();
      };
      signed_media["media/" + media_file_name(s("mxc"), s("content_type"))] = s("sha256");
    }
  std::error_code ec;
  if (fs::is_directory(fs::path(dir) / "data" / "media", ec))
    for (auto& entry : fs::directory_iterator(fs::path(dir) / "data" / "media")) {
      std::string rel = "media/" + entry.path().filename().string();
      auto it = signed_media.find(rel);
      if (it == signed_media.end()) return Error::forbidden("data/" + rel + " is not media the server sent");
      DS_ASSIGN(std::string bytes, read_file(entry.path()));
      if (hex_encode(sha256(bytes)) != it->second)
        return Error::forbidden("data/" + rel + " differs from the media the server signed");
    }

  // With the key: the events themselves, against the sealed records opened again.
  if (keys) {
    DS_ASSIGN(OpenedExport opened, open_sealed_export(*evidence, *keys, "", expected_key, false));
    std::map<int64_t, const json::object*> sealed_events;
    for (auto& r : opened.records) sealed_events[r.row.seq] = &r.event;
    for (auto& [seq, ev] : exported) {
      auto it = sealed_events.find(seq);
      if (it == sealed_events.end() || *it->second != ev)
        return Error::forbidden("records.jsonl: record " + std::to_string(seq) +
                                "'s event differs from the sealed record");
    }
    check.content_checked = true;
  }
  return check;
}

}  // namespace despatch
