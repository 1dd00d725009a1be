#include "service/records/verify.h"

#include "core/base64.h"
#include "core/crypto.h"
#include "service/records/archive.h"
#include "service/records/audit.h"
#include "storage/archive_store.h"
#include "storage/audit_store.h"

#include <algorithm>

namespace despatch {

using namespace verify_detail;

namespace {

// From which record the audit log says the archive is written in format 2 (0: it does not).
Result<int64_t> format_2_from(storage::Stores& s) {
  DS_ASSIGN(auto marks, s.audit().with_action("records.format"));
  for (auto& m : marks) {
    boost::system::error_code ec;
    auto d = json::parse(m.details, ec);
    if (ec || !d.is_object()) continue;
    if (auto* f = d.as_object().if_contains("from_seq"); f && f->is_int64()) return f->as_int64();
  }
  return int64_t{0};
}

// Whether a record's content matches its content hash (format 2 tombstones included).
bool content_matches(const ArchiveRow& a) {
  if (a.format < 2) return a.kind == "tombstone" || archive_content_hash(a) == a.content_hash;
  if (a.kind != "tombstone" && (a.kind != a.live_kind || hex_encode(sha256(a.sealed)) != a.sealed_hash))
    return false;
  return archive_content_hash(a) == a.content_hash;
}

}  // namespace

Result<VerifyReport> verify_archive(storage::Stores& s, const std::string& server_public_key) {
  storage::ArchiveStore& archive = s.archive();
  VerifyReport rep;
  std::vector<std::string> key_hashes;  // [id - 1]
  DS_ASSIGN(rep, check_data_keys(s, rep, &key_hashes));
  if (!rep.ok) return rep;
  DS_ASSIGN(int64_t v2_from, format_2_from(s));
  DS_ASSIGN(auto cps, archive.checkpoints());
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
      int want_format = v2_from > 0 && a.seq >= v2_from ? 2 : 1;
      if (a.format != want_format)
        return fail(rep, a.seq, "record " + std::to_string(a.seq) + " claims format " + std::to_string(a.format) +
                                    " where the audit log says " + std::to_string(want_format) +
                                    ": its columns were altered");
      if (a.format >= 2 && a.kind != "tombstone" &&
          (a.kind != a.live_kind || hex_encode(sha256(a.sealed)) != a.sealed_hash))
        return fail(rep, a.seq, "record " + std::to_string(a.seq) +
                                    " was changed: its sealed content or kind does not match its hash");
      bool content_ok = content_matches(a);
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
          if (cand == a.seq) continue;
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
      if (a.key_id < 1 || a.key_id > static_cast<int64_t>(key_hashes.size()))
        return fail(rep, a.seq, "record " + std::to_string(a.seq) + " is sealed with data key " +
                                    std::to_string(a.key_id) + ", which was removed");
      prev = a.hash;
      expected = a.seq + 1;
    }
  }
  int64_t head = expected - 1;

  int64_t last_good = 0;  // the newest checkpoint that still matches
  int64_t signed_head = 0;
  for (auto& cp : cps) {
    rep.checkpoints++;
    int64_t seq = cp.seq;
    auto sig = base64_decode(cp.signature);
    if (!sig || !ed25519_verify(server_public_key, checkpoint_message(cp), *sig))
      return fail(rep, seq, "checkpoint at record " + std::to_string(seq) + " has an invalid signature");
    if (cp.version >= 2 && cp.keys_seq > 0) {
      if (cp.keys_seq > static_cast<int64_t>(key_hashes.size()))
        return fail(rep, seq, "data key " + std::to_string(cp.keys_seq) + " was removed: a signed checkpoint covers it");
      if (key_hashes[cp.keys_seq - 1] != cp.keys_hash)
        return fail(rep, seq, "data keys 1 to " + std::to_string(cp.keys_seq) +
                                  " differ from the signed checkpoint: a key was changed, swapped or removed "
                                  "and the keys' chain recomputed");
    }
    if (seq == 0) continue;
    DS_ASSIGN(auto at, archive.hash_at(seq));
    if (!at) return fail(rep, seq, "record " + std::to_string(seq) + " was removed: a signed checkpoint covers it");
    if (*at != cp.hash)
      // The chain holds together, so it was recomputed after a change somewhere since the
      // last checkpoint that matches; which record, only the checkpoints can narrow down.
      return fail(rep, seq, "record " + std::to_string(seq) + " differs from the signed checkpoint: a record from " +
                                std::to_string(last_good + 1) + " to " + std::to_string(seq) +
                                " was changed, inserted or removed and the chain after it recomputed");
    last_good = seq;
    signed_head = std::max(signed_head, seq);
  }
  DS_ASSIGN(rep, check_unsigned_tail(s, rep, signed_head));
  if (!rep.ok) return rep;
  DS_ASSIGN(rep, check_events_recorded(s, rep, head));
  if (!rep.ok) return rep;

  // Retention entries count only where a signature that still matches the audit log covers
  // them: the server signs in the run's own commit, so an entry past that was added (or
  // moved there by a re-chained edit) by someone else.
  if (!tombstones.empty()) {
    int64_t trusted = INT64_MAX;  // no version 2 checkpoint yet: an archive from before them
    bool any_v2 = false;
    int64_t matching = 0;
    for (auto& cp : cps) {
      if (cp.version < 2) continue;
      any_v2 = true;
      DS_ASSIGN(auto at, audit_hash_at(s, cp.audit_seq));
      if (cp.audit_seq == 0 || (at && *at == cp.audit_hash)) matching = std::max(matching, cp.audit_seq);
    }
    if (any_v2) trusted = matching;
    DS_ASSIGN(VerifyReport audit_rep, verify_audit_log(s, server_public_key));
    if (!audit_rep.ok) trusted = std::min(trusted, audit_rep.first_bad_seq - 1);
    struct Run {
      int64_t entry, from, to;
    };
    std::vector<Run> runs;
    DS_ASSIGN(auto entries, s.audit().with_action("records.retention"));
    for (auto& run : entries) {
      boost::system::error_code ec;
      auto d = json::parse(run.details, ec);
      if (ec || !d.is_object() || !d.as_object().contains("ranges")) continue;
      for (auto& rg : d.as_object().at("ranges").as_array())
        if (rg.is_array() && rg.as_array().size() == 2)
          runs.push_back({run.seq, rg.as_array()[0].to_number<int64_t>(), rg.as_array()[1].to_number<int64_t>()});
    }
    for (int64_t seq : tombstones) {
      auto it = std::find_if(runs.begin(), runs.end(), [&](auto& r) { return seq >= r.from && seq <= r.to; });
      if (it == runs.end())
        return fail(rep, seq, "record " + std::to_string(seq) +
                                  " was deleted outside retention: no audit entry records its deletion");
      if (it->entry > trusted)
        return fail(rep, seq, "record " + std::to_string(seq) + " was deleted outside retention: audit entry " +
                                  std::to_string(it->entry) +
                                  " that names it is not covered by a signed checkpoint that still matches the "
                                  "audit log" +
                                  (audit_rep.ok ? std::string() : " (audit log: " + audit_rep.problem + ")"));
    }
  }

  return rep;
}

Result<VerifyReport> verify_audit_log(storage::Stores& s, const std::string& server_public_key) {
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
  int64_t head = expected - 1;
  // The checkpoints sign the log's head too: a re-chained edit or a removed last entry
  // leaves the log self-consistent, but not equal to what was signed.
  DS_ASSIGN(auto cps, s.archive().checkpoints());
  int64_t last_good = 0, signed_head = 0;
  for (auto& cp : cps) {
    if (cp.version < 2 || cp.audit_seq == 0) continue;
    rep.checkpoints++;
    auto sig = base64_decode(cp.signature);
    if (!sig || !ed25519_verify(server_public_key, checkpoint_message(cp), *sig))
      return fail(rep, cp.audit_seq, "the checkpoint covering audit entry " + std::to_string(cp.audit_seq) +
                                         " has an invalid signature");
    if (cp.audit_seq > head)
      return fail(rep, head + 1, "audit entr" + std::string(cp.audit_seq > head + 1 ? "ies " : "y ") +
                                     std::to_string(head + 1) +
                                     (cp.audit_seq > head + 1 ? " to " + std::to_string(cp.audit_seq) + " were" : " was") +
                                     " removed: a signed checkpoint covers entry " + std::to_string(cp.audit_seq));
    DS_ASSIGN(auto at, audit_hash_at(s, cp.audit_seq));
    if (!at || *at != cp.audit_hash)
      return fail(rep, cp.audit_seq, "audit entry " + std::to_string(cp.audit_seq) +
                                         " differs from the signed checkpoint: an entry from " +
                                         std::to_string(last_good + 1) + " to " + std::to_string(cp.audit_seq) +
                                         " was changed, inserted or removed and the chain after it recomputed");
    last_good = cp.audit_seq;
    signed_head = std::max(signed_head, cp.audit_seq);
  }
  rep.unsigned_tail = head - signed_head;
  return rep;
}

}  // namespace despatch
