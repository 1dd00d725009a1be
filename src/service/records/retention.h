// Retention of archived records and legal holds. A record is deleted (tombstoned: its
// sealed content goes, its hashes stay so the chain still verifies) only when its room's
// period has ended and no active hold covers it. Every deletion run and every hold change is
// written to the audit log; verify checks each tombstone against the log.
#pragma once

#include "core/config.h"
#include "service/records/archive.h"
#include "storage/database.h"

#include <boost/asio/awaitable.hpp>

#include <optional>

namespace despatch {

struct HoldRequest {
  std::string case_ref, user_id, room_id;
  std::optional<int64_t> from_ts, to_ts;
  static Result<HoldRequest> from_json(const json::object& body);
};

class Retention {
 public:
  // archive: signs the heads in the run's own commit, so the audit entry that makes its
  // tombstones legitimate is covered by a signature at once (null: left to the next
  // checkpoint).
  Retention(const Config& config, storage::Database& db, Archive* archive = nullptr)
      : config_(config), db_(db), archive_(archive) {}

  // Deletes what has expired at now_ms, which callers take from the clock: nothing may be
  // deleted ahead of its time. Every run with a policy is audited under case_ref, even one
  // that deletes nothing. Returns how many records were tombstoned.
  boost::asio::awaitable<Result<int64_t>> run(const std::string& actor, int64_t now_ms,
                                              const std::string& case_ref);

  boost::asio::awaitable<Result<int64_t>> place_hold(const std::string& actor, const HoldRequest& hold);
  boost::asio::awaitable<Status> lift_hold(const std::string& actor, int64_t id,
                                           const std::string& case_ref);
  Result<json::array> list_holds(bool include_lifted);

  // Retention period in ms for a room (0: for ever).
  int64_t period_ms(const std::string& room_id, const std::string& kind) const;
  // The shortest positive period of any room (0: everything is kept for ever).
  int64_t shortest_period_ms() const;

 private:
  const Config& config_;
  storage::Database& db_;
  Archive* archive_;
};

// The case reference of the runs the server schedules itself.
inline constexpr const char* kScheduledRetentionCase = "retention-schedule";

}  // namespace despatch
