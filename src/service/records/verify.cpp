#include "service/records/verify.h"

#include "core/base64.h"
#include "core/crypto.h"
#include "service/records/archive.h"
#include "service/records/audit.h"
#include "storage/archive_store.h"
#include "storage/audit_store.h"

#include <algorithm>

namespace despatch {

namespace {

VerifyReport fail(VerifyReport r, int64_t seq, std::string problem) {
  r.ok = false;
  r.first_bad_seq = seq;
  r.problem = std::move(problem);
  return r;
}

}  // namespace

Result<VerifyReport> verify_archive(storage::Stores& s, const std::string& server_public_key) {
  storage::ArchiveStore& archive = s.archive();
  VerifyReport rep;
  std::string prev = kGenesisHash;
  int64_t expected = 1;
  std::vector<int64_t> tombstones;
  // Pages keep memory flat however large the archive grows.
  constexpr int64_t kPage = 5000;
  for (int64_t after = 0;;) {
    DS_ASSIGN(auto rows, archive.records_after(after, kPage));
    if (rows.empty()) break;
    for (ArchiveRow& a : rows) {
      after = a.seq;
      rep.records++;
      if (a.kind == "tombstone") {
        rep.tombstones++;
        tombstones.push_back(a.seq);
      }
      if (a.seq > expected) {
        return fail(rep, expected,
                    "record " + std::to_string(expected) +
                        (a.seq - expected > 1 ? " to " + std::to_string(a.seq - 1) : "") +
                        " was removed (the chain jumps from " + std::to_string(expected - 1) + " to " +
                        std::to_string(a.seq) + ")");
      }
      bool content_ok = a.kind == "tombstone" || archive_content_hash(a) == a.content_hash;
      bool hash_ok = archive_chain_hash(a.prev_hash, a.content_hash) == a.hash;
      if (!content_ok || !hash_ok) {
        // A record whose hashes hold under another sequence number was moved: find where from
        // (a scan of the hashes, only once something is already wrong).
        std::vector<int64_t> candidates;
        DS_ASSIGN(auto pred, archive.seq_of_hash(a.prev_hash));
        if (pred) candidates.push_back(*pred + 1);
        for (int64_t d = -16; d <= 16; ++d)
          if (d != 0 && a.seq + d > 0) candidates.push_back(a.seq + d);
        for (int64_t cand : candidates) {
          ArchiveRow moved = a;
          moved.seq = cand;
          if (!hash_ok || archive_content_hash(moved) != a.content_hash) continue;
          // Shifted up: what now stands before it was inserted (and passed as valid).
          if (cand < a.seq)
            return fail(rep, cand, "record " + std::to_string(cand) +
                                       (a.seq - cand > 1 ? " to " + std::to_string(a.seq - 1) + " were" : " was") +
                                       " inserted: position " + std::to_string(a.seq) +
                                       " holds the record written as " + std::to_string(cand));
          return fail(rep, a.seq, "record " + std::to_string(a.seq) + " was reordered: position " +
                                      std::to_string(a.seq) + " holds the record written as " +
                                      std::to_string(cand));
        }
        return fail(rep, a.seq, "record " + std::to_string(a.seq) + " was changed: its content does not match its hash");
      }
      if (a.prev_hash != prev) {
        DS_ASSIGN(auto pred, archive.seq_of_hash(a.prev_hash));
        if (pred)
          return fail(rep, a.seq, "record " + std::to_string(a.seq) + " was reordered: it follows record " +
                                      std::to_string(*pred) + " in the chain");
        return fail(rep, a.seq, "record " + std::to_string(a.seq) +
                                    " does not follow its predecessor: a record before it was inserted, "
                                    "removed or changed");
      }
      prev = a.hash;
      expected = a.seq + 1;
    }
  }

  // A tombstone is legitimate only when a retention run recorded it in the audit log.
  if (!tombstones.empty()) {
    std::vector<std::pair<int64_t, int64_t>> ranges;
    DS_ASSIGN(auto runs, s.audit().with_action("records.retention"));
    for (auto& run : runs) {
      boost::system::error_code ec;
      auto d = json::parse(run.details, ec);
      if (ec || !d.is_object() || !d.as_object().contains("ranges")) continue;
      for (auto& rg : d.as_object().at("ranges").as_array())
        if (rg.is_array() && rg.as_array().size() == 2)
          ranges.emplace_back(rg.as_array()[0].to_number<int64_t>(), rg.as_array()[1].to_number<int64_t>());
    }
    for (int64_t seq : tombstones) {
      bool logged = std::any_of(ranges.begin(), ranges.end(),
                                [&](auto& rg) { return seq >= rg.first && seq <= rg.second; });
      if (!logged)
        return fail(rep, seq, "record " + std::to_string(seq) +
                                  " was deleted outside retention: no audit entry records its deletion");
    }
  }

  DS_ASSIGN(auto cps, archive.checkpoints());
  int64_t last_good = 0;  // the newest checkpoint that still matches
  for (auto& cp : cps) {
    rep.checkpoints++;
    int64_t seq = cp.seq;
    auto sig = base64_decode(cp.signature);
    if (!sig || !ed25519_verify(server_public_key, checkpoint_message(seq, cp.hash, cp.ts), *sig))
      return fail(rep, seq, "checkpoint at record " + std::to_string(seq) + " has an invalid signature");
    DS_ASSIGN(auto at, archive.hash_at(seq));
    if (!at) return fail(rep, seq, "record " + std::to_string(seq) + " was removed: a signed checkpoint covers it");
    if (*at != cp.hash)
      // The chain holds together, so it was recomputed after a change somewhere since the
      // last checkpoint that matches; which record, only the checkpoints can narrow down.
      return fail(rep, seq, "record " + std::to_string(seq) + " differs from the signed checkpoint: a record from " +
                                std::to_string(last_good + 1) + " to " + std::to_string(seq) +
                                " was changed, inserted or removed and the chain after it recomputed");
    last_good = seq;
  }
  return rep;
}

Result<VerifyReport> verify_audit_log(storage::Stores& s) {
  VerifyReport rep;
  std::string prev = kGenesisHash;
  int64_t expected = 1;
  constexpr int64_t kPage = 5000;
  for (int64_t after = 0;;) {
    DS_ASSIGN(auto entries, s.audit().entries_after(after, kPage));
    if (entries.empty()) break;
    for (const AuditEntry& e : entries) {
      after = e.seq;
      rep.records++;
      if (e.seq != expected)
        return fail(rep, expected, "audit entry " + std::to_string(expected) + " was removed or inserted");
      if (e.prev_hash != prev)
        return fail(rep, e.seq, "audit entry " + std::to_string(e.seq) + " does not follow its predecessor");
      if (audit_hash(prev, e) != e.hash)
        return fail(rep, e.seq, "audit entry " + std::to_string(e.seq) + " was changed");
      prev = e.hash;
      expected = e.seq + 1;
    }
  }
  return rep;
}

}  // namespace despatch
