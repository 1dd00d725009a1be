// Other departments as witnesses of this archive: this server sends its newest signed head
// to every approved server now and then, each keeps what it was sent (checked against the
// sender's server key), and answers for it later. `records verify` with peers asks them and
// checks that today's archive still extends every head they saw: a rewrite re-signed with
// this server's own key is caught by servers it does not control.
#pragma once

#include "core/config.h"
#include "core/crypto.h"
#include "service/federation/sender.h"
#include "service/federation/server_keys.h"
#include "storage/archive_store.h"
#include "storage/database.h"

#include <boost/asio/awaitable.hpp>

#include <string>
#include <vector>

namespace despatch {

// What one peer said and whether the archive agrees with it.
struct PeerCheck {
  std::string server;
  int64_t heads = 0;  // how many heads it holds for this server
  bool ok = true;
  int64_t first_bad_seq = 0;
  std::string problem;
  json::object to_json() const;
};

class PeerWitness {
 public:
  PeerWitness(const Config& config, storage::Database& db, const SigningKey& key, FederationSender& sender,
              ServerKeys& keys)
      : config_(config), db_(db), key_(key), sender_(sender), keys_(keys) {}

  // The approved servers that witness this one: [federation] allow, without "*" and itself.
  std::vector<std::string> peers() const;

  // Sends the newest signed head to every peer that has not had it yet; failures are
  // logged and retried at the next round.
  boost::asio::awaitable<void> push_heads();

  // A head origin sent: kept when origin's own server key signed it (M_FORBIDDEN otherwise).
  boost::asio::awaitable<Status> receive(const std::string& origin, const json::object& head);
  // The heads kept for origin, asked by origin itself: {"heads": [...]} oldest first.
  Result<json::object> heads_for(const std::string& origin, int64_t limit);

  // Asks every peer for what it keeps of this server and checks the archive against it.
  boost::asio::awaitable<std::vector<PeerCheck>> check_peers();

 private:
  PeerCheck check_one(const std::string& server, const std::vector<storage::ArchiveCheckpoint>& heads);

  const Config& config_;
  storage::Database& db_;
  const SigningKey& key_;
  FederationSender& sender_;
  ServerKeys& keys_;
  std::map<std::string, int64_t> pushed_;  // peer -> ts of the last head it took (I/O thread)
};

// The federation paths (Despatch to Despatch only).
inline constexpr const char* kPeerHeadPath = "/_matrix/federation/unstable/gov.despatch.records/head";
inline constexpr const char* kPeerHeadsPath = "/_matrix/federation/unstable/gov.despatch.records/heads";

}  // namespace despatch
