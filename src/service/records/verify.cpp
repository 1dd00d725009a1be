#include "service/records/verify.h"

#include "core/base64.h"
#include "core/crypto.h"
#include "service/records/archive.h"
#include "service/records/audit.h"

#include <algorithm>
#include <unordered_map>

namespace despatch {

namespace {

VerifyReport fail(VerifyReport r, int64_t seq, std::string problem) {
  r.ok = false;
  r.first_bad_seq = seq;
  r.problem = std::move(problem);
  return r;
}

}  // namespace

Result<VerifyReport> verify_archive(storage::Conn& c, const std::string& server_public_key) {
  VerifyReport rep;
  DS_ASSIGN(auto rows, c.query(std::string("SELECT ") + kArchiveColumns + " FROM archive ORDER BY seq"));
  std::unordered_map<std::string, int64_t> seq_of_hash;  // to tell reordering from tampering
  for (auto& r : rows) {
    ArchiveRow a = parse_archive_row(r);
    seq_of_hash[a.hash] = a.seq;
  }
  std::string prev = kGenesisHash;
  int64_t expected = 1;
  for (auto& r : rows) {
    ArchiveRow a = parse_archive_row(r);
    rep.records++;
    if (a.kind == "tombstone") rep.tombstones++;
    if (a.seq < expected)
      return fail(rep, a.seq, "record " + std::to_string(a.seq) + " was inserted (duplicate sequence number)");
    bool content_ok = a.kind == "tombstone" || archive_content_hash(a) == a.content_hash;
    bool hash_ok = archive_chain_hash(a.prev_hash, a.content_hash) == a.hash;
    if (a.seq > expected) {
      return fail(rep, expected,
                  "record " + std::to_string(expected) + (a.seq - expected > 1 ? " to " + std::to_string(a.seq - 1) : "") +
                      " was removed (the chain jumps from " + std::to_string(expected - 1) + " to " +
                      std::to_string(a.seq) + ")");
    }
    if (!content_ok || !hash_ok) {
      // A record whose hashes hold under another sequence number was moved: find where from.
      std::vector<int64_t> candidates;
      if (auto it = seq_of_hash.find(a.prev_hash); it != seq_of_hash.end()) candidates.push_back(it->second + 1);
      for (int64_t d = -16; d <= 16; ++d)
        if (d != 0 && a.seq + d > 0) candidates.push_back(a.seq + d);
      for (int64_t cand : candidates) {
        ArchiveRow moved = a;
        moved.seq = cand;
        if (hash_ok && archive_content_hash(moved) == a.content_hash)
          return fail(rep, a.seq, "record " + std::to_string(a.seq) + " was reordered: position " +
                                      std::to_string(a.seq) + " holds the record written as " + std::to_string(cand));
      }
      return fail(rep, a.seq, "record " + std::to_string(a.seq) + " was changed: its content does not match its hash");
    }
    if (a.prev_hash != prev) {
      auto it = seq_of_hash.find(a.prev_hash);
      if (it != seq_of_hash.end())
        return fail(rep, a.seq, "record " + std::to_string(a.seq) + " was reordered: it follows record " +
                                    std::to_string(it->second) + " in the chain");
      return fail(rep, a.seq, "record " + std::to_string(a.seq) +
                                  " does not follow its predecessor: a record before it was inserted, "
                                  "removed or changed");
    }
    prev = a.hash;
    expected = a.seq + 1;
  }

  // A tombstone is legitimate only when a retention run recorded it in the audit log.
  if (rep.tombstones > 0) {
    std::vector<std::pair<int64_t, int64_t>> ranges;
    DS_ASSIGN(auto runs, c.query("SELECT details FROM audit_log WHERE action='records.retention'"));
    for (auto& run : runs) {
      boost::system::error_code ec;
      auto d = json::parse(run.str(0), ec);
      if (ec || !d.is_object() || !d.as_object().contains("ranges")) continue;
      for (auto& rg : d.as_object().at("ranges").as_array())
        if (rg.is_array() && rg.as_array().size() == 2)
          ranges.emplace_back(rg.as_array()[0].to_number<int64_t>(), rg.as_array()[1].to_number<int64_t>());
    }
    for (auto& r : rows) {
      ArchiveRow a = parse_archive_row(r);
      if (a.kind != "tombstone") continue;
      bool logged = std::any_of(ranges.begin(), ranges.end(),
                                [&](auto& rg) { return a.seq >= rg.first && a.seq <= rg.second; });
      if (!logged)
        return fail(rep, a.seq, "record " + std::to_string(a.seq) +
                                    " was deleted outside retention: no audit entry records its deletion");
    }
  }

  DS_ASSIGN(auto cps, c.query("SELECT seq, hash, ts, key_id, signature FROM archive_checkpoints ORDER BY seq"));
  std::unordered_map<int64_t, std::string> hash_at;
  for (auto& r : rows) hash_at[r.i64(0)] = r.str(12);
  for (auto& cp : cps) {
    rep.checkpoints++;
    int64_t seq = cp.i64(0);
    auto sig = base64_decode(cp.str(4));
    if (!sig || !ed25519_verify(server_public_key, checkpoint_message(seq, cp.str(1), cp.i64(2)), *sig))
      return fail(rep, seq, "checkpoint at record " + std::to_string(seq) + " has an invalid signature");
    auto it = hash_at.find(seq);
    if (it == hash_at.end())
      return fail(rep, seq, "record " + std::to_string(seq) + " was removed: a signed checkpoint covers it");
    if (it->second != cp.str(1))
      return fail(rep, seq, "record " + std::to_string(seq) + " differs from the signed checkpoint");
  }
  return rep;
}

Result<VerifyReport> verify_audit_log(storage::Conn& c) {
  VerifyReport rep;
  DS_ASSIGN(auto rows, c.query("SELECT seq, ts, actor, action, case_ref, details, prev_hash, hash FROM audit_log "
                               "ORDER BY seq"));
  std::string prev = kGenesisHash;
  int64_t expected = 1;
  for (auto& r : rows) {
    rep.records++;
    int64_t seq = r.i64(0);
    if (seq != expected)
      return fail(rep, expected, "audit entry " + std::to_string(expected) + " was removed or inserted");
    AuditEntry e{seq, r.i64(1), r.str(2), r.str(3), r.str(4), r.str(5)};
    if (r.str(6) != prev) return fail(rep, seq, "audit entry " + std::to_string(seq) + " does not follow its predecessor");
    if (audit_hash(prev, e) != r.str(7))
      return fail(rep, seq, "audit entry " + std::to_string(seq) + " was changed");
    prev = r.str(7);
    expected = seq + 1;
  }
  return rep;
}

}  // namespace despatch
