#include "service/records/sealed_export.h"

#include "core/base64.h"
#include "service/common/time.h"
#include "service/records/parallel.h"
#include "storage/archive_store.h"
#include "storage/event_store.h"
#include "storage/media_store.h"

#include <sodium.h>

#include <algorithm>
#include <set>

namespace despatch {

namespace {

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

json::object row_json(const ArchiveRow& a) {
  json::object o{{"seq", a.seq},           {"stream_pos", a.stream_pos},
                 {"event_id", a.event_id}, {"room_id", a.room_id},
                 {"sender", a.sender},     {"type", a.type},
                 {"ts", a.ts},             {"classification", a.classification},
                 {"kind", a.kind},         {"key_id", a.key_id},
                 {"sealed", a.sealed},     {"content_hash", a.content_hash},
                 {"prev_hash", a.prev_hash}, {"hash", a.hash}};
  if (a.format >= 2) {
    o["format"] = a.format;
    o["live_kind"] = a.live_kind;
    o["sealed_hash"] = a.sealed_hash;
  }
  return o;
}

Result<ArchiveRow> row_from_json(const json::value& v, size_t line) {
  auto bad = [line](const char* field) {
    return Error::bad_json("sealed record on line " + std::to_string(line) + ": " + field + " is missing or wrong");
  };
  if (!v.is_object()) return bad("the record");
  auto& o = v.as_object();
  ArchiveRow a;
  auto num = [&](const char* k, int64_t& out) {
    auto* x = o.if_contains(k);
    if (!x || !x->is_int64()) return false;
    out = x->as_int64();
    return true;
  };
  auto str = [&](const char* k, std::string& out) {
    auto* x = o.if_contains(k);
    if (!x || !x->is_string()) return false;
    out = x->as_string();
    return true;
  };
  for (auto [k, p] : {std::pair{"seq", &a.seq}, {"stream_pos", &a.stream_pos}, {"ts", &a.ts}, {"key_id", &a.key_id}})
    if (!num(k, *p)) return bad(k);
  for (auto [k, p] : {std::pair{"event_id", &a.event_id}, {"room_id", &a.room_id}, {"sender", &a.sender},
                      {"type", &a.type}, {"classification", &a.classification}, {"kind", &a.kind},
                      {"sealed", &a.sealed}, {"content_hash", &a.content_hash}, {"prev_hash", &a.prev_hash},
                      {"hash", &a.hash}})
    if (!str(k, *p)) return bad(k);
  if (o.contains("format")) {
    int64_t format = 0;
    if (!num("format", format) || format != 2) return bad("format");
    a.format = 2;
    if (!str("live_kind", a.live_kind)) return bad("live_kind");
    if (!str("sealed_hash", a.sealed_hash)) return bad("sealed_hash");
  }
  return a;
}

// mxc://server/id -> (server, id); nullopt when malformed.
std::optional<std::pair<std::string, std::string>> split_mxc(std::string_view uri) {
  constexpr std::string_view kScheme = "mxc://";
  if (uri.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  uri.remove_prefix(kScheme.size());
  auto slash = uri.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == uri.size()) return std::nullopt;
  std::string_view id = uri.substr(slash + 1);
  if (id.find('/') != std::string_view::npos) return std::nullopt;
  return std::pair{std::string(uri.substr(0, slash)), std::string(id)};
}

Result<std::string> open_data_key(const std::string& sealed_b64, const RecordsKeyPair& keys) {
  auto sealed = base64_decode(sealed_b64);
  if (!sealed || sealed->size() != crypto_box_SEALBYTES + 32) return Error::bad_json("malformed sealed data key");
  std::string key(32, '\0');
  if (crypto_box_seal_open(reinterpret_cast<unsigned char*>(key.data()),
                           reinterpret_cast<const unsigned char*>(sealed->data()), sealed->size(),
                           reinterpret_cast<const unsigned char*>(keys.public_key.data()),
                           reinterpret_cast<const unsigned char*>(keys.secret_key.data())) != 0)
    return Error::forbidden("The records key does not open this export (it is sealed to another records office key)");
  return key;
}

// The archive's sealing (archive.h): a box that does not open was changed or belongs elsewhere.
Result<std::string> open_blob(const ArchiveRow& row, const std::string& data_key) {
  auto plain = open_record_box(row.sealed, row.seq, data_key);
  if (!plain) return Error::forbidden("record " + std::to_string(row.seq) + " is malformed or does not decrypt");
  return *plain;
}

const json::string* body_of(const json::object& ev) {
  auto* c = ev.if_contains("content");
  if (!c || !c->is_object()) return nullptr;
  auto* b = c->as_object().if_contains("body");
  return b && b->is_string() ? &b->as_string() : nullptr;
}

}  // namespace

std::vector<std::string> media_refs(const json::object& ev) {
  std::vector<std::string> out;
  auto* c = ev.if_contains("content");
  if (!c || !c->is_object()) return out;
  auto add = [&out](const json::value* v) {
    if (v && v->is_string() && std::string_view(v->as_string()).starts_with("mxc://") &&
        std::find(out.begin(), out.end(), v->as_string()) == out.end())
      out.emplace_back(v->as_string());
  };
  auto& content = c->as_object();
  add(content.if_contains("url"));
  if (auto* info = content.if_contains("info"); info && info->is_object())
    add(info->as_object().if_contains("thumbnail_url"));
  return out;
}

Result<SealedExport> build_sealed_export(storage::Stores& s, const ExportFilter& f, const SigningKey& server_key,
                                         const SealedExportOptions& opt) {
  if (!f.text.empty())
    return Error::invalid_param("filter.text needs the records' content, which the server cannot read: "
                                "apply it when opening (despatch records open-export --text)");
  if (opt.case_ref.empty()) return Error::missing_param("case_ref is required");
  storage::RecordQuery q{f.user, f.room, f.from_ts, f.to_ts};
  std::string records;
  json::object data_keys;
  json::array media_listed, media_data, omitted;
  std::set<std::string> media_seen;
  int64_t media_total = 0;
  SealedExport out;
  // A user's export is what they sent and the member events about them: the latter is a clear
  // column (the member event's state_key) only in the live copy, so the store selects every
  // member event and the opener keeps those about the user.
  constexpr int64_t kPage = 5000;
  for (int64_t after = 0;;) {
    DS_ASSIGN(auto rows, s.archive().matching(q, after, kPage));
    if (rows.empty()) break;
    for (ArchiveRow& a : rows) {
      after = a.seq;
      if (out.records >= opt.max_records)
        return Error::make(413, errc::kTooLarge,
                           "more than " + std::to_string(opt.max_records) +
                               " records match: narrow the filter (room, user, from_ts, to_ts) and export in parts");
      records += json::serialize(row_json(a));
      records += '\n';
      ++out.records;
      std::string kid = std::to_string(a.key_id);
      if (!data_keys.contains(kid)) {
        DS_ASSIGN(auto sealed_key, s.archive().data_key(a.key_id));
        if (!sealed_key) return Error::internal("record " + std::to_string(a.seq) + " names a missing data key");
        data_keys[kid] = *sealed_key;
      }
      // Media: the server reads the live copy of the event it already holds (never the sealed
      // one) to find the files it refers to. Encrypted rooms' files are not readable here.
      if (!opt.media_files || a.kind != "event" || (a.type != "m.room.message" && a.type != "m.sticker")) continue;
      DS_ASSIGN(auto live, s.events().event(a.event_id));
      if (!live) continue;
      for (const std::string& mxc : media_refs(live->pdu)) {
        if (!media_seen.insert(mxc).second) continue;
        auto parts = split_mxc(mxc);
        if (!parts) continue;
        DS_ASSIGN(auto rec, s.media().media(parts->first, parts->second));
        auto omit = [&omitted, &mxc, &out](const char* why) {
          omitted.push_back(json::object{{"mxc", mxc}, {"reason", why}});
          ++out.media_omitted;
        };
        if (!rec || rec->pending()) { omit("not held by this server"); continue; }
        if (rec->quarantined) { omit("quarantined"); continue; }
        if (media_total + rec->size > opt.media_limit_bytes) { omit("over the export's media limit"); continue; }
        auto bytes = opt.media_files->get(rec->sha256);
        if (!bytes.ok()) { omit("file missing"); continue; }
        media_total += static_cast<int64_t>(bytes->size());
        media_listed.push_back(json::object{{"mxc", mxc}, {"content_type", rec->content_type},
                                            {"upload_name", rec->upload_name},
                                            {"sha256", hex_encode(sha256(*bytes))},
                                            {"bytes", static_cast<int64_t>(bytes->size())}});
        media_data.push_back(json::object{{"mxc", mxc}, {"data", base64_encode(*bytes)}});
        ++out.media;
      }
    }
  }
  DS_ASSIGN(auto head, s.archive().head());
  json::object manifest{{"format", kSealedExportFormat},
                        {"created_ts", now_ms()},
                        {"case_ref", opt.case_ref},
                        {"server_name", opt.server_name},
                        {"filter", f.to_json()},
                        {"signing_key_id", server_key.key_id()},
                        {"signing_public_key", server_key.public_key_base64()},
                        {"records", out.records},
                        {"records_sha256", hex_encode(sha256(records))},
                        {"data_keys", std::move(data_keys)},
                        {"media", std::move(media_listed)},
                        {"media_omitted", std::move(omitted)},
                        {"archive_head", json::object{{"seq", head ? head->seq : 0},
                                                      {"hash", head ? head->hash : std::string(kGenesisHash)}}}};
  std::string manifest_text = json::serialize(manifest);
  std::string signature = base64_encode(server_key.sign(manifest_text));
  out.document = json::object{{"format", kSealedExportFormat},
                              {"manifest", manifest_text},
                              {"signature", signature},
                              {"records", std::move(records)},
                              {"media", std::move(media_data)}};
  return out;
}

namespace {

// The media bytes a document carries, by mxc URI (base64).
std::map<std::string, std::string> sent_media(const json::object& doc) {
  std::map<std::string, std::string> sent;
  if (auto* md = doc.if_contains("media"); md && md->is_array())
    for (auto& e : md->as_array())
      if (e.is_object() && e.as_object().contains("mxc") && e.as_object().contains("data") &&
          e.as_object().at("mxc").is_string() && e.as_object().at("data").is_string())
        sent[std::string(e.as_object().at("mxc").as_string())] = e.as_object().at("data").as_string();
  return sent;
}

Result<CheckedSealedExport> check_parsed(const json::object& doc, const std::optional<std::string>& expected_key,
                                         bool media_bytes_expected) {
  boost::system::error_code ec;
  auto str = [&doc](const char* k) -> const json::string* {
    auto* v = doc.if_contains(k);
    return v && v->is_string() ? &v->as_string() : nullptr;
  };
  if (!str("format") || *str("format") != kSealedExportFormat)
    return Error::bad_json(std::string("not a sealed export (format is not ") + kSealedExportFormat + ")");
  if (!str("manifest") || !str("signature") || !str("records"))
    return Error::bad_json("the sealed export lacks its manifest, signature or records");
  std::string_view manifest_text = *str("manifest");
  auto mv = json::parse(manifest_text, ec);
  if (ec || !mv.is_object()) return Error::bad_json("the sealed export's manifest is not JSON");
  CheckedSealedExport out;
  out.manifest = std::move(mv.as_object());
  auto& m = out.manifest;
  auto* pk = m.if_contains("signing_public_key");
  auto pub = pk && pk->is_string() ? base64_decode(pk->as_string()) : std::nullopt;
  auto sig = base64_decode(*str("signature"));
  if (!pub || pub->size() != 32 || !sig || !ed25519_verify(*pub, manifest_text, *sig))
    return Error::forbidden("the sealed export's signature does not verify");
  if (expected_key && *pub != *expected_key)
    return Error::forbidden("the sealed export is signed with " + std::string(pk->as_string()) +
                            ", not with this server's key");
  out.signing_public_key = pk->as_string();
  if (auto* id = m.if_contains("signing_key_id"); id && id->is_string()) out.signing_key_id = id->as_string();

  // Records: the exact text the manifest's digest covers, then each row's own hashes.
  std::string_view records = *str("records");
  auto* digest = m.if_contains("records_sha256");
  if (!digest || !is_str(*digest, hex_encode(sha256(records))))
    return Error::forbidden("the sealed records do not match the signed manifest");
  auto* keys = m.if_contains("data_keys");
  if (!keys || !keys->is_object()) return Error::bad_json("the manifest lists no data keys");
  for (auto& [id, sealed] : keys->as_object()) {
    if (!sealed.is_string() || id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string_view::npos)
      return Error::bad_json("malformed data key entry in the manifest");
    out.data_keys[std::stoll(std::string(id))] = sealed.as_string();
  }
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos < records.size();) {
    size_t nl = records.find('\n', pos);
    if (nl == std::string_view::npos) nl = records.size();
    lines.push_back(records.substr(pos, nl - pos));
    pos = nl + 1;
  }
  out.rows.resize(lines.size());
  DS_TRY(parallel_for(lines.size(), [&lines, &out](size_t i) -> Status {
    boost::system::error_code lec;
    auto rv = json::parse(lines[i], lec);
    if (lec) return Error::bad_json("sealed record on line " + std::to_string(i + 1) + " is not JSON");
    DS_ASSIGN(out.rows[i], row_from_json(rv, i + 1));
    const ArchiveRow& row = out.rows[i];
    bool box_ok = row.format < 2 || (row.kind == row.live_kind && hex_encode(sha256(row.sealed)) == row.sealed_hash);
    if (!box_ok || archive_content_hash(row) != row.content_hash ||
        archive_chain_hash(row.prev_hash, row.content_hash) != row.hash)
      return Error::forbidden("record " + std::to_string(row.seq) + " does not match its hashes");
    return ok_status();
  }));
  for (size_t i = 0; i < out.rows.size(); ++i) {
    const ArchiveRow& row = out.rows[i];
    if (i > 0 && row.seq <= out.rows[i - 1].seq)
      return Error::forbidden("records out of order at record " + std::to_string(row.seq));
    if (!out.data_keys.count(row.key_id))
      return Error::forbidden("record " + std::to_string(row.seq) + " names a data key the export lacks");
  }
  auto* count = m.if_contains("records");
  if (!count || !count->is_int64() || count->as_int64() != static_cast<int64_t>(out.rows.size()))
    return Error::forbidden("the number of sealed records differs from the manifest's");

  // Media: every listed file's bytes, when they travel with the document.
  auto* listed = m.if_contains("media");
  if (listed && !listed->is_array()) return Error::bad_json("the manifest's media is not a list");
  std::map<std::string, std::string> sent = sent_media(doc);
  if (media_bytes_expected && listed) {
    for (auto& e : listed->as_array()) {
      if (!e.is_object() || !e.as_object().contains("mxc") || !e.as_object().contains("sha256"))
        return Error::bad_json("malformed media entry in the manifest");
      std::string mxc(e.as_object().at("mxc").as_string());
      auto it = sent.find(mxc);
      auto bytes = it == sent.end() ? std::nullopt : base64_decode(it->second);
      if (!bytes) return Error::forbidden("media " + mxc + " is listed but not sent");
      if (!is_str(e.as_object().at("sha256"), hex_encode(sha256(*bytes))))
        return Error::forbidden("media " + mxc + " does not match the signed manifest");
    }
  }
  return out;
}

}  // namespace

Result<CheckedSealedExport> check_sealed_export(std::string_view text,
                                                const std::optional<std::string>& expected_key,
                                                bool media_bytes_expected) {
  boost::system::error_code ec;
  auto dv = json::parse(text, ec);
  if (ec || !dv.is_object()) return Error::bad_json("the sealed export is not a JSON object");
  return check_parsed(dv.as_object(), expected_key, media_bytes_expected);
}

Result<OpenedExport> open_sealed_export(std::string_view text, const RecordsKeyPair& keys, const std::string& needle_in,
                                        const std::optional<std::string>& expected_key, bool media_bytes_expected) {
  boost::system::error_code ec;
  auto dv = json::parse(text, ec);
  if (ec || !dv.is_object()) return Error::bad_json("the sealed export is not a JSON object");
  auto& doc = dv.as_object();
  DS_ASSIGN(CheckedSealedExport checked, check_parsed(doc, expected_key, media_bytes_expected));
  OpenedExport out;
  out.manifest = checked.manifest;
  auto mstr = [&out](const char* k) {
    auto* v = out.manifest.if_contains(k);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  out.case_ref = mstr("case_ref");
  out.server_name = mstr("server_name");
  out.signing_key_id = checked.signing_key_id;
  out.signing_public_key = checked.signing_public_key;
  out.sealed_records = static_cast<int64_t>(checked.rows.size());
  std::string filter_user;
  if (auto* f = out.manifest.if_contains("filter"); f && f->is_object())
    if (auto* u = f->as_object().if_contains("user"); u && u->is_string()) filter_user = u->as_string();

  std::map<int64_t, std::string> opened_keys;
  struct Wipe {
    std::map<int64_t, std::string>& k;
    ~Wipe() {
      for (auto& [id, key] : k) sodium_memzero(key.data(), key.size());
    }
  } wipe{opened_keys};
  std::string needle = lower(needle_in);
  // Data keys first (one per thousand records), then the records on every core.
  for (const ArchiveRow& row : checked.rows) {
    if (opened_keys.count(row.key_id)) continue;
    DS_ASSIGN(std::string k, open_data_key(checked.data_keys.at(row.key_id), keys));
    opened_keys.emplace(row.key_id, std::move(k));
  }
  std::vector<std::optional<json::object>> events(checked.rows.size());
  DS_TRY(parallel_for(checked.rows.size(), [&](size_t i) -> Status {
    const ArchiveRow& row = checked.rows[i];
    DS_ASSIGN(std::string plain, open_blob(row, opened_keys.at(row.key_id)));
    boost::system::error_code pec;
    auto ev = json::parse(plain, pec);
    if (pec || !ev.is_object()) return Error::internal("record " + std::to_string(row.seq) + " is not JSON");
    auto& obj = ev.as_object();
    // The store gave every member event of the period; keep those about the user.
    if (!filter_user.empty() && row.sender != filter_user) {
      auto* sk = obj.if_contains("state_key");
      if (!sk || !is_str(*sk, filter_user)) return ok_status();
    }
    if (!needle.empty()) {
      auto* body = body_of(obj);
      if (!body || lower(std::string(*body)).find(needle) == std::string::npos) return ok_status();
    }
    events[i] = std::move(obj);
    return ok_status();
  }));
  for (size_t i = 0; i < events.size(); ++i)
    if (events[i]) out.records.push_back({std::move(checked.rows[i]), std::move(*events[i])});

  // The media bytes (already checked against the manifest) and the evidence copy without them.
  std::map<std::string, std::string> sent = sent_media(doc);
  if (auto* listed = out.manifest.if_contains("media"); listed && listed->is_array()) {
    for (auto& e : listed->as_array()) {
      auto& o = e.as_object();
      auto field = [&o](const char* k) {
        auto* v = o.if_contains(k);
        return v && v->is_string() ? std::string(v->as_string()) : std::string();
      };
      ExportMedia em{field("mxc"), field("content_type"), field("upload_name"), field("sha256"), {}};
      auto it = sent.find(em.mxc);
      if (it == sent.end()) continue;  // checked above when the bytes were expected
      em.bytes = *base64_decode(it->second);
      out.media.emplace(em.mxc, std::move(em));
    }
  }
  // The evidence: the document as received when it carries no media bytes.
  auto* media = doc.if_contains("media");
  if (media && media->is_array() && !media->as_array().empty()) {
    doc["media"] = json::array{};
    out.evidence = json::serialize(doc) + "\n";
  } else {
    out.evidence = std::string(text);
    if (out.evidence.empty() || out.evidence.back() != '\n') out.evidence += '\n';
  }
  return out;
}

}  // namespace despatch
