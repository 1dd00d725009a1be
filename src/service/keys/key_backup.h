// Server-side key backup (spec: "Server-side key backups"): versions with opaque auth_data,
// and encrypted room keys per room and session. The server stores ciphertext only.
#pragma once

#include "storage/database.h"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>

namespace despatch {

class KeyBackup {
 public:
  explicit KeyBackup(storage::Database& db) : db_(db) {}

  boost::asio::awaitable<Result<std::string>> create_version(const std::string& user,
                                                             const json::object& body);
  // version empty: the current (latest) version.
  Result<json::object> get_version(const std::string& user, const std::string& version);
  boost::asio::awaitable<Status> update_version(const std::string& user,
                                                const std::string& version,
                                                const json::object& body);
  boost::asio::awaitable<Status> delete_version(const std::string& user,
                                                const std::string& version);

  // PUT keys: rooms = {room: {sessions: {session: KeyBackupData}}}. Returns {etag, count}.
  boost::asio::awaitable<Result<json::object>> put_keys(const std::string& user,
                                                        const std::string& version,
                                                        const json::object& rooms);
  // GET keys, narrowed by room and session when given.
  Result<json::object> get_keys(const std::string& user, const std::string& version,
                                const std::string& room, const std::string& session);
  boost::asio::awaitable<Result<json::object>> delete_keys(const std::string& user,
                                                           const std::string& version,
                                                           const std::string& room,
                                                           const std::string& session);

 private:
  storage::Database& db_;
};

}  // namespace despatch
