#include "service/records/export.h"

#include "core/base64.h"
#include "core/ids.h"
#include "service/common/time.h"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace despatch {

namespace fs = std::filesystem;

namespace {


std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(ch);
    }
  }
  return out;
}

std::string iso_time(int64_t ms) { return utc_time(ms, "%Y-%m-%d %H:%M:%S UTC"); }

// A file name for a room: only letters, digits, '-' and '_' survive.
std::string room_file(const std::string& room_id) {
  std::string out;
  for (char ch : room_id) out.push_back(std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_');
  return out + ".html";
}

Result<std::string> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return Error::not_found("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status write_file(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << data;
  out.flush();
  if (!out) return Error::internal("cannot write " + p.string());
  return ok_status();
}

const json::string* body_of(const json::object& ev) {
  auto* c = ev.if_contains("content");
  if (!c || !c->is_object()) return nullptr;
  auto* b = c->as_object().if_contains("body");
  return b && b->is_string() ? &b->as_string() : nullptr;
}

// One line of a transcript: what a reader needs to follow the conversation.
std::string describe(const json::object& ev);

// The same for a record of any kind: decrypted copies are marked as such, and encrypted
// events say whether the records keeper could read them.
std::string describe_record(const ArchiveRow& row, const json::object& ev) {
  if (row.kind == "plaintext") return "<em>(decrypted)</em> " + describe(ev);
  if (row.kind == "undecryptable") {
    auto* reason = ev.if_contains("reason");
    return "<em>encrypted message not decrypted: " +
           html_escape(reason && reason->is_string() ? std::string(reason->as_string()) : "") + "</em>";
  }
  if (row.type == "m.room.encrypted") return "<em>encrypted message</em>";
  if (row.kind == "announcement") {  // a post of an announcement channel: published, updated, withdrawn
    auto text = [&ev](const char* k) {
      auto* v = ev.if_contains(k);
      return v && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    return "<em>announcement " + html_escape(text("action")) + " as " + html_escape(text("url")) + "</em>";
  }
  return describe(ev);
}

std::string describe(const json::object& ev) {
  std::string type = ev.contains("type") ? std::string(ev.at("type").as_string()) : "";
  const json::object empty;
  const json::object& content = ev.contains("content") && ev.at("content").is_object() ? ev.at("content").as_object() : empty;
  auto str = [&](const char* k) -> std::string {
    auto* v = content.if_contains(k);
    return v && v->is_string() ? std::string(v->as_string()) : "";
  };
  if (type == "m.room.message") {
    std::string line = html_escape(str("body"));
    if (auto* rel = content.if_contains("m.relates_to"); rel && rel->is_object())
      if (auto* rt = rel->as_object().if_contains("rel_type"); rt && is_str(*rt, "m.replace"))
        return "<em>(edit)</em> " + line;
    return line;
  }
  if (type == "m.room.redaction") {
    std::string target = str("redacts");
    if (target.empty() && ev.contains("redacts") && ev.at("redacts").is_string()) target = ev.at("redacts").as_string();
    return "<em>redacted " + html_escape(target) + "</em>";
  }
  if (type == "m.room.member")
    return "<em>" + html_escape(std::string(ev.contains("state_key") ? ev.at("state_key").as_string() : "")) + ": " +
           html_escape(str("membership")) + "</em>";
  if (type == "m.room.name") return "<em>room name: " + html_escape(str("name")) + "</em>";
  if (type == "m.room.topic") return "<em>topic: " + html_escape(str("topic")) + "</em>";
  return "<em>" + html_escape(type) + "</em>";
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

Result<std::vector<FoundRecord>> find_records(storage::Stores& s, const RecordsKeyPair& keys,
                                              const ExportFilter& f, size_t limit) {
  // The clear metadata narrows the search; the sealed content is opened only for candidates.
  // Room keys the records keeper sealed into the archive are for the records office's own
  // checks and never go into an export (the store never selects them).
  storage::RecordQuery q{f.user, f.room, f.from_ts, f.to_ts};
  std::vector<FoundRecord> out;
  ArchiveOpener opener(s.archive(), keys);
  std::string needle = lower(f.text);
  // Pages keep memory flat however many records match.
  constexpr int64_t kPage = 5000;
  for (int64_t after = 0;;) {
    DS_ASSIGN(auto rows, s.archive().matching(q, after, kPage));
    if (rows.empty()) break;
    for (ArchiveRow& a : rows) {
      after = a.seq;
      auto plain = opener.open(a);
      if (!plain.ok()) return plain.error();
      boost::system::error_code jec;
      auto ev = json::parse(*plain, jec);
      if (jec || !ev.is_object()) return Error::internal("record " + std::to_string(a.seq) + " is not JSON");
      auto& obj = ev.as_object();
      if (!f.user.empty() && a.sender != f.user) {
        auto* sk = obj.if_contains("state_key");
        if (!sk || !is_str(*sk, f.user)) continue;
      }
      if (!needle.empty()) {
        auto* body = body_of(obj);
        if (!body || lower(std::string(*body)).find(needle) == std::string::npos) continue;
      }
      out.push_back({std::move(a), std::move(obj)});
      if (out.size() >= limit) return out;
    }
  }
  return out;
}

json::object FoundRecord::to_json() const {
  return json::object{{"seq", row.seq},       {"hash", row.hash},       {"event_id", row.event_id},
                      {"room_id", row.room_id}, {"sender", row.sender},   {"type", row.type},
                      {"ts", row.ts},           {"classification", row.classification},
                      {"kind", row.kind},       {"event", event}};
}

Result<ExportBundle> build_export(storage::Stores& s, const RecordsKeyPair& keys, const ExportFilter& f,
                                  const SigningKey& server_key, const std::string& case_ref) {
  DS_ASSIGN(auto found, find_records(s, keys, f, SIZE_MAX));
  std::string jsonl;
  std::map<std::string, std::string> transcripts;  // room -> html rows
  ExportResult res;
  for (auto& rec : found) {
    const ArchiveRow& a = rec.row;
    jsonl += json::serialize(rec.to_json()) + "\n";
    transcripts[a.room_id] += "<tr><td>" + iso_time(a.ts) + "</td><td>" + html_escape(a.sender) + "</td><td>" +
                              describe_record(a, rec.event) + "</td><td class=id>" + html_escape(a.event_id) + "</td></tr>\n";
    res.records++;
  }
  res.rooms = static_cast<int64_t>(transcripts.size());

  std::vector<std::pair<std::string, std::string>> files{{"records.jsonl", std::move(jsonl)}};
  for (auto& [room, rows_html] : transcripts) {
    std::string page = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Transcript of " +
                       html_escape(room) +
                       "</title><style>body{font-family:sans-serif}td{padding:2px 8px;vertical-align:top}"
                       ".id{color:#888;font-size:small}</style></head><body>\n<h1>Transcript of " +
                       html_escape(room) + "</h1>\n<p>Case reference: " + html_escape(case_ref) +
                       "</p>\n<table>\n<tr><th>Time</th><th>Sender</th><th>Message</th><th>Event</th></tr>\n" +
                       rows_html + "</table></body></html>\n";
    files.emplace_back("transcripts/" + room_file(room), std::move(page));
  }
  json::array listed;
  for (auto& [name, data] : files) {
    listed.push_back(json::object{{"path", name}, {"sha256", hex_encode(sha256(data))},
                                  {"bytes", static_cast<int64_t>(data.size())}});
  }
  json::object manifest{{"format", "despatch-export-1"},
                        {"created_ts", now_ms()},
                        {"case_ref", case_ref},
                        {"filter", f.to_json()},
                        {"records", res.records},
                        {"files", std::move(listed)},
                        {"signing_key_id", server_key.key_id()},
                        {"signing_public_key", server_key.public_key_base64()}};
  std::string manifest_text = json::serialize(manifest) + "\n";
  std::string sig = base64_encode(server_key.sign(manifest_text)) + "\n";
  files.emplace_back("manifest.json", std::move(manifest_text));
  files.emplace_back("manifest.sig", std::move(sig));
  return ExportBundle{res, std::move(files)};
}

Result<ExportResult> export_records(storage::Stores& s, const RecordsKeyPair& keys, const ExportFilter& f,
                                    const std::string& out_dir, const SigningKey& server_key,
                                    const std::string& case_ref) {
  std::error_code ec;
  if (fs::exists(out_dir) && !fs::is_empty(out_dir, ec))
    return Error::invalid_param("output folder " + out_dir + " is not empty");
  DS_ASSIGN(ExportBundle bundle, build_export(s, keys, f, server_key, case_ref));
  fs::create_directories(fs::path(out_dir) / "transcripts", ec);
  if (ec) return Error::internal("cannot create " + out_dir + ": " + ec.message());
  for (auto& [name, data] : bundle.files) DS_TRY(write_file(fs::path(out_dir) / name, data));
  return bundle.counts;
}

Result<ExportCheck> verify_export(const std::string& dir, const std::optional<std::string>& expected_key) {
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

}  // namespace despatch
