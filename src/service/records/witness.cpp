#include "service/records/witness.h"

#include "core/base64.h"
#include "core/crypto.h"
#include "service/records/archive.h"
#include "service/common/time.h"
#include "service/records/audit.h"
#include "storage/audit_store.h"

#include <fstream>

namespace despatch {

using storage::ArchiveCheckpoint;

json::object checkpoint_json(const ArchiveCheckpoint& cp) {
  return json::object{{"version", cp.version},       {"archive_seq", cp.seq},     {"archive_hash", cp.hash},
                      {"audit_seq", cp.audit_seq},   {"audit_hash", cp.audit_hash}, {"keys_seq", cp.keys_seq},
                      {"keys_hash", cp.keys_hash},   {"ts", cp.ts},               {"key_id", cp.key_id},
                      {"signature", cp.signature}};
}

Result<ArchiveCheckpoint> checkpoint_from_json(const json::object& o) {
  ArchiveCheckpoint cp;
  auto num = [&](const char* k, int64_t& out) -> bool {
    auto* v = o.if_contains(k);
    if (!v || !v->is_int64()) return false;
    out = v->as_int64();
    return true;
  };
  auto str = [&](const char* k, std::string& out) -> bool {
    auto* v = o.if_contains(k);
    if (!v || !v->is_string()) return false;
    out = std::string(v->as_string());
    return true;
  };
  int64_t version = 0;
  if (!num("version", version) || !num("archive_seq", cp.seq) || !str("archive_hash", cp.hash) ||
      !num("audit_seq", cp.audit_seq) || !str("audit_hash", cp.audit_hash) || !num("keys_seq", cp.keys_seq) ||
      !str("keys_hash", cp.keys_hash) || !num("ts", cp.ts) || !str("key_id", cp.key_id) ||
      !str("signature", cp.signature))
    return Error::bad_json("a signed head needs version, archive_seq, archive_hash, audit_seq, audit_hash, "
                           "keys_seq, keys_hash, ts, key_id and signature");
  cp.version = static_cast<int>(version);
  return cp;
}

Result<json::object> witness_page(storage::Stores& s, const WitnessPageRequest& req, const std::string& server_name,
                                  const std::string& key_id, const std::string& public_key) {
  DS_ASSIGN(auto newest, s.archive().last_checkpoint(false));
  json::object out{{"server_name", server_name}, {"key_id", key_id}, {"public_key", base64_encode(public_key)}};
  if (!newest || newest->version < 2) {
    out["head"] = nullptr;
    return out;
  }
  const ArchiveCheckpoint& head = *newest;
  out["head"] = checkpoint_json(head);
  int64_t limit = std::clamp<int64_t>(req.limit, 1, 50000);

  json::array archive;
  for (int64_t after = req.archive_after; after < head.seq && static_cast<int64_t>(archive.size()) < limit;) {
    DS_ASSIGN(auto rows, s.archive().records_after(after, std::min<int64_t>(limit - archive.size(), 5000)));
    if (rows.empty()) break;
    for (auto& r : rows) {
      if (r.seq > head.seq) break;
      archive.emplace_back(r.content_hash);
      after = r.seq;
    }
    if (rows.back().seq > head.seq) break;
  }
  json::array audit;
  for (int64_t after = req.audit_after; after < head.audit_seq && static_cast<int64_t>(audit.size()) < limit;) {
    DS_ASSIGN(auto rows, s.audit().entries_after(after, std::min<int64_t>(limit - audit.size(), 5000)));
    if (rows.empty()) break;
    for (auto& e : rows) {
      if (e.seq > head.audit_seq) break;
      audit.emplace_back(audit_content_hash(e));
      after = e.seq;
    }
    if (rows.back().seq > head.audit_seq) break;
  }
  json::array keys;
  for (int64_t after = req.keys_after; after < head.keys_seq && static_cast<int64_t>(keys.size()) < limit;) {
    DS_ASSIGN(auto rows, s.archive().data_keys_after(after, std::min<int64_t>(limit - keys.size(), 1000)));
    if (rows.empty()) break;
    for (auto& k : rows) {
      if (k.id > head.keys_seq) break;
      keys.emplace_back(hex_encode(sha256(std::to_string(k.id) + ":" + k.sealed)));
      after = k.id;
    }
    if (rows.back().id > head.keys_seq) break;
  }
  out["archive_from"] = req.archive_after + 1;
  out["archive"] = std::move(archive);
  out["audit_from"] = req.audit_after + 1;
  out["audit"] = std::move(audit);
  out["keys_from"] = req.keys_after + 1;
  out["keys"] = std::move(keys);
  return out;
}

Result<WitnessState> load_witness(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error::not_found("cannot read the witness file " + path);
  WitnessState w;
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    auto where = path + " line " + std::to_string(n);
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    if (ec || !v.is_object()) return Error::bad_json(where + " is not a JSON object");
    const json::object& o = v.as_object();
    auto* type = o.if_contains("type");
    std::string t = type && type->is_string() ? std::string(type->as_string()) : "";
    if (t == "server") {
      auto* name = o.if_contains("server_name");
      auto* key = o.if_contains("public_key");
      auto* kid = o.if_contains("key_id");
      auto raw = key && key->is_string() ? base64_decode(key->as_string()) : std::nullopt;
      if (!name || !name->is_string() || !raw || raw->size() != 32 || !kid || !kid->is_string())
        return Error::bad_json(where + ": a server line needs server_name, key_id and a 32-byte public_key");
      w.server_name = std::string(name->as_string());
      w.key_id = std::string(kid->as_string());
      w.public_key = *raw;
    } else if (t == "archive" || t == "audit" || t == "keys") {
      std::string& chain = t == "archive" ? w.archive : t == "audit" ? w.audit : w.keys;
      auto* from = o.if_contains("from");
      auto* hashes = o.if_contains("hashes");
      auto raw = hashes && hashes->is_string() ? hex_decode(hashes->as_string()) : std::nullopt;
      if (!from || !from->is_int64() || !raw || raw->size() % 32)
        return Error::bad_json(where + ": a chain line needs from and hashes (hexadecimal, 32 bytes each)");
      if (from->as_int64() != w.count(chain) + 1)
        return Error::bad_json(where + ": the " + t + " hashes do not continue from " + std::to_string(w.count(chain)));
      chain += *raw;
    } else if (t == "head") {
      DS_ASSIGN(w.last_head, checkpoint_from_json(o));
      if (auto* p = o.if_contains("pulled_ts"); p && p->is_int64()) w.last_pulled_ts = p->as_int64();
      w.heads++;
    } else {
      return Error::bad_json(where + ": unknown line type '" + t + "'");
    }
  }
  if (n > 0 && w.public_key.empty()) return Error::bad_json(path + " does not name the server it witnesses");
  return w;
}

namespace {

// Appends page hashes (hex content hashes) to chain, chaining each from the last one held.
// Returns the line to write, or an error when the page does not start where chain ends.
Result<std::string> extend_chain(std::string& chain, const char* name, const json::object& page, const char* from_key,
                                 const char* list_key) {
  auto* from = page.if_contains(from_key);
  auto* list = page.if_contains(list_key);
  if (!from || !from->is_int64() || !list || !list->is_array())
    return Error::bad_json(std::string("the page has no ") + list_key);
  int64_t have = static_cast<int64_t>(chain.size() / 32);
  if (list->as_array().empty()) return std::string();
  if (from->as_int64() != have + 1)
    return Error::bad_json(std::string("the server sent ") + name + " hashes from " +
                           std::to_string(from->as_int64()) + " where the witness holds " + std::to_string(have));
  std::string prev = have ? hex_encode(std::string_view(chain).substr(chain.size() - 32)) : kGenesisHash;
  std::string hexes;
  for (auto& v : list->as_array()) {
    if (!v.is_string() || v.as_string().size() != 64) return Error::bad_json("a content hash is 64 hex digits");
    prev = archive_chain_hash(prev, std::string(v.as_string()));
    auto raw = hex_decode(prev);
    chain += *raw;
    hexes += prev;
  }
  json::object line{{"type", name}, {"from", have + 1}, {"hashes", hexes}};
  return json::serialize(line) + "\n";
}

// The witnessed hash of a chain at seq (hex), "" past its end; the genesis hash at 0.
std::string hash_at(const std::string& chain, int64_t seq) {
  if (seq == 0) return kGenesisHash;
  if (seq * 32 > static_cast<int64_t>(chain.size())) return "";
  return hex_encode(std::string_view(chain).substr((seq - 1) * 32, 32));
}

}  // namespace

Status witness_extend(WitnessPull& pull, const json::object& page, int64_t now_ms) {
  WitnessState& w = pull.state;
  auto* name = page.if_contains("server_name");
  auto* key = page.if_contains("public_key");
  auto* kid = page.if_contains("key_id");
  auto raw_key = key && key->is_string() ? base64_decode(key->as_string()) : std::nullopt;
  if (!name || !name->is_string() || !raw_key || raw_key->size() != 32 || !kid || !kid->is_string())
    return Error::bad_json("the witness page does not name its server and key");
  if (w.public_key.empty()) {
    // The first pull pins the signer; every later head must carry its signature.
    w.server_name = std::string(name->as_string());
    w.key_id = std::string(kid->as_string());
    w.public_key = *raw_key;
    json::object line{{"type", "server"}, {"server_name", w.server_name}, {"key_id", w.key_id},
                      {"public_key", base64_encode(w.public_key)}};
    pull.pending += json::serialize(line) + "\n";
  } else if (*raw_key != w.public_key || name->as_string() != w.server_name) {
    return Error::forbidden("the server now signs with another key (or calls itself " +
                            std::string(name->as_string()) + "): this witness holds heads signed by " + w.key_id +
                            " of " + w.server_name);
  }
  auto* head_v = page.if_contains("head");
  if (!head_v || head_v->is_null()) {
    pull.done = true;  // nothing signed yet
    return ok_status();
  }
  if (!head_v->is_object()) return Error::bad_json("head must be an object");
  DS_ASSIGN(ArchiveCheckpoint head, checkpoint_from_json(head_v->as_object()));
  auto sig = base64_decode(head.signature);
  if (!sig || !ed25519_verify(w.public_key, checkpoint_message(head), *sig))
    return Error::forbidden("the server's head at record " + std::to_string(head.seq) +
                            " is not signed by the key this witness holds");
  // Heads never go back: a head behind what was witnessed means the chains were cut.
  if (head.seq < w.count(w.archive) || head.audit_seq < w.count(w.audit) || head.keys_seq < w.count(w.keys))
    return Error::forbidden("the server's signed head (record " + std::to_string(head.seq) + ", audit entry " +
                            std::to_string(head.audit_seq) + ") is behind what this witness saw (record " +
                            std::to_string(w.count(w.archive)) + ", audit entry " + std::to_string(w.count(w.audit)) +
                            "): records were removed");
  for (auto [chain, name_c, from_k] : {std::tuple{&w.archive, "archive", "archive_from"},
                                       std::tuple{&w.audit, "audit", "audit_from"},
                                       std::tuple{&w.keys, "keys", "keys_from"}}) {
    DS_ASSIGN(std::string line, extend_chain(*chain, name_c, page, from_k, name_c));
    pull.pending += line;
  }
  bool reached = w.count(w.archive) >= head.seq && w.count(w.audit) >= head.audit_seq &&
                 w.count(w.keys) >= head.keys_seq;
  if (w.count(w.archive) > head.seq || w.count(w.audit) > head.audit_seq || w.count(w.keys) > head.keys_seq)
    return Error::bad_json("the server sent hashes past its signed head");
  if (!reached) return ok_status();
  // The recomputed chains must land exactly on the signed heads: then every new hash
  // extends what the witness held before.
  auto check = [&](const std::string& chain, int64_t seq, const std::string& signed_hash, const char* what) -> Status {
    if (hash_at(chain, seq) != signed_hash)
      return Error::forbidden(std::string("the server's ") + what + " no longer extends what this witness saw: " +
                              "recomputed from the witnessed hashes, " + what + " " + std::to_string(seq) +
                              " does not match the signed head, so something at or before it was rewritten");
    return ok_status();
  };
  DS_TRY(check(w.archive, head.seq, head.hash, "record"));
  DS_TRY(check(w.audit, head.audit_seq, head.audit_hash, "audit entry"));
  DS_TRY(check(w.keys, head.keys_seq, head.keys_hash, "data key"));
  json::object line = checkpoint_json(head);
  line["type"] = "head";
  line["pulled_ts"] = now_ms;
  pull.pending += json::serialize(line) + "\n";
  w.last_head = head;
  w.last_pulled_ts = now_ms;
  w.heads++;
  pull.done = true;
  return ok_status();
}

Result<VerifyReport> verify_against_witness(storage::Stores& s, const WitnessState& w, const std::string& name) {
  using verify_detail::fail;
  VerifyReport rep;
  std::string when = " (last pulled " + utc_time(w.last_pulled_ts, "%Y-%m-%d %H:%M:%S UTC") + ")";
  int64_t held = w.count(w.archive);
  int64_t seen = 0;
  for (int64_t after = 0; after < held;) {
    DS_ASSIGN(auto rows, s.archive().records_after(after, 5000));
    if (rows.empty()) break;
    for (auto& r : rows) {
      if (r.seq > held) break;
      if (r.seq != after + 1)
        return fail(rep, after + 1, "record " + std::to_string(after + 1) + " was removed: witness " + name +
                                        " saw it" + when);
      if (r.hash != hash_at(w.archive, r.seq))
        return fail(rep, r.seq, "record " + std::to_string(r.seq) + " differs from what witness " + name + " saw" +
                                    when + ": it was rewritten and the chain after it recomputed");
      after = r.seq;
      ++seen;
    }
  }
  if (seen < held)
    return fail(rep, seen + 1, "records " + std::to_string(seen + 1) + " to " + std::to_string(held) +
                                   " were removed: witness " + name + " saw the archive reach record " +
                                   std::to_string(held) + when);
  rep.records = seen;
  int64_t audit_held = w.count(w.audit);
  int64_t audit_seen = 0;
  for (int64_t after = 0; after < audit_held;) {
    DS_ASSIGN(auto entries, s.audit().entries_after(after, 5000));
    if (entries.empty()) break;
    for (auto& e : entries) {
      if (e.seq > audit_held) break;
      if (e.seq != after + 1 || e.hash != hash_at(w.audit, e.seq))
        return fail(rep, after + 1, "audit entry " + std::to_string(after + 1) + " differs from what witness " +
                                        name + " saw" + when + ": it was rewritten or removed");
      after = e.seq;
      ++audit_seen;
    }
  }
  if (audit_seen < audit_held)
    return fail(rep, audit_seen + 1, "audit entries " + std::to_string(audit_seen + 1) + " to " +
                                         std::to_string(audit_held) + " were removed: witness " + name + " saw them" +
                                         when);
  int64_t keys_held = w.count(w.keys);
  int64_t keys_seen = 0;
  for (int64_t after = 0; after < keys_held;) {
    DS_ASSIGN(auto keys, s.archive().data_keys_after(after, 1000));
    if (keys.empty()) break;
    for (auto& k : keys) {
      if (k.id > keys_held) break;
      if (k.id != after + 1 || k.hash != hash_at(w.keys, k.id))
        return fail(rep, 0, "data key " + std::to_string(after + 1) + " differs from what witness " + name +
                                " saw" + when + ": it was swapped or removed");
      after = k.id;
      ++keys_seen;
    }
  }
  if (keys_seen < keys_held)
    return fail(rep, 0, "data keys " + std::to_string(keys_seen + 1) + " to " + std::to_string(keys_held) +
                            " were removed: witness " + name + " saw them" + when);
  rep.checkpoints = w.heads;
  return rep;
}

}  // namespace despatch
