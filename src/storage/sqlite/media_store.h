#pragma once

#include "storage/conn.h"
#include "storage/media_store.h"

namespace despatch::storage {

class SqliteMediaStore final : public MediaStore {
 public:
  explicit SqliteMediaStore(Conn& c) : c_(c) {}
  Result<std::optional<MediaRecord>> media(const std::string& server_name, const std::string& media_id) override;
  Status add(const MediaRecord& m) override;
  Result<bool> complete(const MediaRecord& m) override;
  Result<int64_t> bytes_used(const std::string& user) override;
  Result<int64_t> pending_count(const std::string& user, int64_t now) override;
  Status touch(const std::string& server_name, const std::string& media_id, int64_t now) override;
  Status set_quarantined(const std::string& server_name, const std::string& media_id) override;
  Status clear_quarantined(const std::string& server_name, const std::string& media_id) override;
  Result<std::vector<MediaRecord>> uploads_of(const std::string& user, int64_t offset, int64_t limit) override;
  Result<int64_t> upload_count(const std::string& user) override;
  Result<bool> file_in_use(const std::string& sha256) override;
  Result<std::vector<MediaRecord>> expired(const std::string& local_server, int64_t now,
                                           int64_t remote_cutoff_ts) override;
  Result<std::vector<std::string>> remove(const std::string& server_name, const std::string& media_id) override;
  Result<std::optional<ThumbnailRecord>> thumbnail(const std::string& server_name, const std::string& media_id,
                                                   int req_width, int req_height, const std::string& method) override;
  Status add_thumbnail(const std::string& server_name, const std::string& media_id, int req_width, int req_height,
                       const std::string& method, const ThumbnailRecord& t) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
