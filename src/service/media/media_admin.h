// Administrators' view of the content repository (the Synapse-compatible admin API): a
// user's uploads, and quarantine (a quarantined file is withheld from every download, local
// or federated, until released). Every quarantine change is audited with who made it.
#pragma once

#include "storage/database.h"

#include <boost/asio/awaitable.hpp>

#include <string>

namespace despatch {

class MediaAdmin {
 public:
  MediaAdmin(storage::Database& db, std::string server_name) : db_(db), server_name_(std::move(server_name)) {}
  // {"media": [...], "total": n, "next_token": offset} in Synapse's shape, newest first.
  Result<json::object> uploads_of(const std::string& user, int64_t from, int64_t limit);
  // M_NOT_FOUND for unknown media.
  boost::asio::awaitable<Status> set_quarantined(std::string server_name, std::string media_id, bool quarantined,
                                                 std::string actor);

 private:
  storage::Database& db_;
  std::string server_name_;
};

}  // namespace despatch
