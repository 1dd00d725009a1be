// Federation's counters, shown by the admin API's /metrics beside the server's others.
#pragma once

#include "core/result.h"

#include <atomic>
#include <cstdint>

namespace despatch {

struct FederationMetrics {
  // Incoming requests.
  std::atomic<int64_t> authenticated{0};        // X-Matrix checked and accepted
  std::atomic<int64_t> refused_not_allowed{0};  // origin not on the allow-list: 403
  std::atomic<int64_t> refused_unauthorized{0};  // every 401: the three below and bad headers
  std::atomic<int64_t> refused_bad_signature{0};
  std::atomic<int64_t> refused_wrong_destination{0};
  std::atomic<int64_t> refused_no_key{0};  // the origin's key could not be had
  std::atomic<int64_t> audit_suppressed{0};  // refusals counted but not audited (rate limit)
  // Outgoing requests.
  std::atomic<int64_t> outgoing{0};
  std::atomic<int64_t> outgoing_refused_not_allowed{0};  // never contacted
  std::atomic<int64_t> outgoing_failed{0};               // not reached (DNS, TCP, TLS, timeout)
  std::atomic<int64_t> key_fetches{0}, key_fetch_failures{0};
  // Transactions out (outbox.h).
  std::atomic<int64_t> txn_sent{0};           // acknowledged with 200
  std::atomic<int64_t> txn_send_failures{0};  // not reached, or any other answer: retried
  std::atomic<int64_t> pdus_sent{0}, edus_sent{0};
  std::atomic<int64_t> queue_backlog{0};      // PDUs and EDUs waiting, all destinations
  // Transactions in (inbox.h).
  std::atomic<int64_t> txn_received{0};
  std::atomic<int64_t> txn_replayed{0};  // the same ID again: answered from memory
  std::atomic<int64_t> pdus_received{0}, pdus_accepted{0}, pdus_refused{0};
  std::atomic<int64_t> edus_received{0};

  json::object to_json() const {
    return json::object{
        {"federation_authenticated", authenticated.load()},
        {"federation_refused_not_allowed", refused_not_allowed.load()},
        {"federation_refused_unauthorized", refused_unauthorized.load()},
        {"federation_refused_bad_signature", refused_bad_signature.load()},
        {"federation_refused_wrong_destination", refused_wrong_destination.load()},
        {"federation_refused_no_key", refused_no_key.load()},
        {"federation_audit_suppressed", audit_suppressed.load()},
        {"federation_outgoing", outgoing.load()},
        {"federation_outgoing_refused_not_allowed", outgoing_refused_not_allowed.load()},
        {"federation_outgoing_failed", outgoing_failed.load()},
        {"federation_key_fetches", key_fetches.load()},
        {"federation_key_fetch_failures", key_fetch_failures.load()},
        {"federation_txn_sent", txn_sent.load()},
        {"federation_txn_send_failures", txn_send_failures.load()},
        {"federation_pdus_sent", pdus_sent.load()},
        {"federation_edus_sent", edus_sent.load()},
        {"federation_queue_backlog", queue_backlog.load()},
        {"federation_txn_received", txn_received.load()},
        {"federation_txn_replayed", txn_replayed.load()},
        {"federation_pdus_received", pdus_received.load()},
        {"federation_pdus_accepted", pdus_accepted.load()},
        {"federation_pdus_refused", pdus_refused.load()},
        {"federation_edus_received", edus_received.load()},
    };
  }
};

}  // namespace despatch
