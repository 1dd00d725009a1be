// What verify checks beyond the archive's own chain: the data keys' chain, and the links
// between the archive and the room log, which someone editing the database must keep
// consistent on both sides to go unnoticed.
#include "core/base64.h"
#include "core/crypto.h"
#include "service/records/archive.h"
#include "service/records/verify.h"
#include "storage/archive_store.h"
#include "storage/audit_store.h"
#include "storage/event_store.h"

#include <algorithm>
#include <set>

namespace despatch::verify_detail {

VerifyReport fail(VerifyReport r, int64_t seq, std::string problem) {
  r.ok = false;
  r.first_bad_seq = seq;
  r.problem = std::move(problem);
  return r;
}

Result<VerifyReport> check_data_keys(storage::Stores& s, VerifyReport rep, std::vector<std::string>* hashes) {
  std::string prev = kGenesisHash;
  int64_t expected = 1;
  for (int64_t after = 0;;) {
    DS_ASSIGN(auto keys, s.archive().data_keys_after(after, 1000));
    if (keys.empty()) break;
    for (auto& k : keys) {
      after = k.id;
      if (k.id != expected)
        return fail(rep, 0, "data key " + std::to_string(expected) +
                                (k.id - expected > 1 ? " to " + std::to_string(k.id - 1) + " were" : " was") +
                                " removed (the keys jump from " + std::to_string(expected - 1) + " to " +
                                std::to_string(k.id) + ")");
      if (k.hash.empty())
        return fail(rep, 0, "data key " + std::to_string(k.id) +
                                " has no chain hash: start the server once after upgrading to chain the keys");
      if (data_key_hash(prev, k.id, k.sealed) != k.hash)
        return fail(rep, 0, "data key " + std::to_string(k.id) + " was changed or swapped: it does not match its hash");
      prev = k.hash;
      hashes->push_back(k.hash);
      expected = k.id + 1;
      rep.data_keys++;
    }
  }
  return rep;
}

Result<VerifyReport> check_events_recorded(storage::Stores& s, VerifyReport rep, int64_t archive_head) {
  // Every event the room writer stored was archived in the same commit (retention leaves a
  // tombstone, never a gap): an event with no record means records were removed.
  constexpr int64_t kPage = 500;
  for (int64_t after = INT64_MIN;;) {
    DS_ASSIGN(auto events, s.events().briefs_after(after, kPage));
    if (events.empty()) break;
    std::vector<std::string> ids;
    ids.reserve(events.size());
    for (auto& e : events) ids.push_back(e.event_id);
    DS_ASSIGN(auto found, s.archive().recorded(ids));
    std::set<std::string> have(found.begin(), found.end());
    for (auto& e : events) {
      after = e.pos;
      if (!have.count(e.event_id))
        return fail(rep, archive_head + 1,
                    "event " + e.event_id + " (stream position " + std::to_string(e.pos) + ", room " + e.room_id +
                        ") has no record: records were removed from the archive, which now ends at record " +
                        std::to_string(archive_head));
    }
  }
  return rep;
}

Result<VerifyReport> check_unsigned_tail(storage::Stores& s, VerifyReport rep, int64_t after_seq) {
  // Nothing signs these yet (the server signs every second, so after a crash there may be a
  // few). Each must be the record of an event the room log holds, as the writer made it.
  for (int64_t after = after_seq;;) {
    DS_ASSIGN(auto rows, s.archive().records_after(after, 1000));
    if (rows.empty()) break;
    for (auto& a : rows) {
      after = a.seq;
      rep.unsigned_tail++;
      if (a.kind == "room_key" || a.kind == "announcement") continue;  // no event of their own
      DS_ASSIGN(auto ev, s.events().brief(a.event_id));
      bool whole = a.kind == "plaintext" || a.kind == "undecryptable" || a.kind == "tombstone";
      bool same = ev && ev->room_id == a.room_id && ev->pos == a.stream_pos &&
                  (whole || (ev->sender == a.sender && ev->type == a.type));
      if (!same)
        return fail(rep, a.seq, "record " + std::to_string(a.seq) +
                                    " was added after the newest signed checkpoint and matches no event in the "
                                    "room log: it was forged");
    }
  }
  return rep;
}

Result<std::optional<std::string>> audit_hash_at(storage::Stores& s, int64_t seq) {
  DS_ASSIGN(auto entries, s.audit().entries_after(seq - 1, 1));
  if (entries.empty() || entries[0].seq != seq) return std::optional<std::string>{};
  return std::optional<std::string>(entries[0].hash);
}

}  // namespace despatch::verify_detail
