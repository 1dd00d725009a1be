#include "service/records/peer_witness.h"

#include "core/base64.h"
#include "core/log.h"
#include "core/server_name.h"
#include "service/common/time.h"
#include "service/records/archive.h"
#include "service/records/witness.h"
#include "storage/audit_store.h"

namespace despatch {

namespace asio = boost::asio;

json::object PeerCheck::to_json() const {
  json::object o{{"server", server}, {"heads", heads}, {"ok", ok}};
  if (!ok) {
    o["first_bad_seq"] = first_bad_seq;
    o["problem"] = problem;
  }
  return o;
}

std::vector<std::string> PeerWitness::peers() const {
  std::vector<std::string> out;
  std::string self = normalise_server_name(config_.server_name);
  for (auto& name : config_.federation.allow)
    if (name != "*" && normalise_server_name(name) != self) out.push_back(name);
  return out;
}

asio::awaitable<void> PeerWitness::push_heads() {
  if (!config_.federation.enabled) co_return;
  auto newest = db_.read().archive().last_checkpoint(false);
  if (!newest.ok() || !*newest || (*newest)->version < 2) co_return;
  const storage::ArchiveCheckpoint& head = **newest;
  json::object body{{"head", checkpoint_json(head)}};
  for (auto& peer : peers()) {
    if (pushed_[peer] == head.ts) continue;
    auto r = co_await sender_.send(peer, "PUT", kPeerHeadPath, json::value(body));
    if (!r.ok()) {
      DS_LOG(kWarn, "records: {} did not take the signed head: {}", peer, r.error().message);
      continue;
    }
    if (r->status != 200) {
      DS_LOG(kWarn, "records: {} refused the signed head: {}", peer, r->error_text());
      continue;
    }
    pushed_[peer] = head.ts;
  }
}

asio::awaitable<Status> PeerWitness::receive(const std::string& origin, const json::object& body) {
  auto* head_v = body.if_contains("head");
  if (!head_v || !head_v->is_object()) co_return Error::bad_json("head must be an object");
  DS_CO_ASSIGN(storage::ArchiveCheckpoint head, checkpoint_from_json(head_v->as_object()));
  if (head.version != 2) co_return Error::invalid_param("only version 2 heads are kept");
  // Signed by the origin's own server key (the one its X-Matrix requests use).
  DS_CO_ASSIGN(std::string public_key, co_await keys_.request_key(origin, head.key_id));
  auto sig = base64_decode(head.signature);
  if (!sig || !ed25519_verify(public_key, checkpoint_message(head), *sig))
    co_return Error::forbidden("the head is not signed by " + origin + "'s key " + head.key_id);
  int64_t now = now_ms();
  auto job = [&origin, head, now](storage::Txn& t) { return t.archive().add_peer_head(origin, head, now); };
  co_return co_await db_.transact<Ok>(job);
}

Result<json::object> PeerWitness::heads_for(const std::string& origin, int64_t limit) {
  DS_ASSIGN(auto heads, db_.read().archive().peer_heads(origin, limit));
  json::array out;
  for (auto& h : heads) out.push_back(checkpoint_json(h));
  return json::object{{"heads", std::move(out)}};
}

PeerCheck PeerWitness::check_one(const std::string& server, const std::vector<storage::ArchiveCheckpoint>& heads) {
  PeerCheck c;
  c.server = server;
  c.heads = static_cast<int64_t>(heads.size());
  storage::Stores& s = db_.read();
  int64_t agreed = 0;  // the newest head seq the archive still matches
  for (auto& h : heads) {
    auto sig = base64_decode(h.signature);
    // A head this server never signed is the peer's problem, not the archive's: skip it.
    if (!sig || !ed25519_verify(key_.public_key(), checkpoint_message(h), *sig)) continue;
    auto at = s.archive().hash_at(h.seq);
    if (!at.ok()) {
      c.ok = false;
      c.problem = at.error().message;
      return c;
    }
    std::string when = utc_time(h.ts, "%Y-%m-%d %H:%M:%S UTC");
    if (!*at) {
      c.ok = false;
      c.first_bad_seq = h.seq;
      c.problem = "record " + std::to_string(h.seq) + " was removed: " + server + " holds the head signed at " +
                  when + " that covers it";
      return c;
    }
    if (**at != h.hash) {
      c.ok = false;
      c.first_bad_seq = agreed + 1;
      c.problem = "a record from " + std::to_string(agreed + 1) + " to " + std::to_string(h.seq) +
                  " was rewritten: the archive differs from the head " + server + " was sent at " + when;
      return c;
    }
    if (h.audit_seq > 0) {
      auto entries = s.audit().entries_after(h.audit_seq - 1, 1);
      if (entries.ok() && (entries->empty() || (*entries)[0].hash != h.audit_hash)) {
        c.ok = false;
        c.first_bad_seq = h.seq;
        c.problem = "audit entry " + std::to_string(h.audit_seq) + " differs from the head " + server +
                    " was sent at " + when + ": the audit log was rewritten";
        return c;
      }
    }
    agreed = std::max(agreed, h.seq);
  }
  return c;
}

asio::awaitable<std::vector<PeerCheck>> PeerWitness::check_peers() {
  std::vector<PeerCheck> out;
  for (auto& peer : peers()) {
    auto r = co_await sender_.send(peer, "GET", std::string(kPeerHeadsPath) + "?limit=100000", std::nullopt);
    PeerCheck c;
    c.server = peer;
    if (!r.ok() || r->status != 200 || !r->body.is_object()) {
      c.ok = false;
      c.problem = "could not ask " + peer + ": " + (r.ok() ? r->error_text() : r.error().message);
      out.push_back(std::move(c));
      continue;
    }
    std::vector<storage::ArchiveCheckpoint> heads;
    bool malformed = false;
    if (auto* hs = r->body.as_object().if_contains("heads"); hs && hs->is_array()) {
      for (auto& h : hs->as_array()) {
        auto cp = h.is_object() ? checkpoint_from_json(h.as_object()) : Result<storage::ArchiveCheckpoint>(
                                                                           Error::bad_json("a head is an object"));
        if (!cp.ok()) {
          malformed = true;
          break;
        }
        heads.push_back(std::move(*cp));
      }
    } else {
      malformed = true;
    }
    if (malformed) {
      c.ok = false;
      c.problem = peer + " answered with malformed heads";
      out.push_back(std::move(c));
      continue;
    }
    out.push_back(check_one(peer, heads));
  }
  co_return out;
}

}  // namespace despatch
