// Where media lives: the bytes in <data_dir>/media/<aa>/<bb>/<sha256>, named by their
// SHA-256 so duplicates share one file; the metadata in the media and media_thumbnails
// tables (storage/migrations.cpp, step 2).
#pragma once

#include "core/result.h"
#include "storage/conn.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace despatch::media {

// One row of the media table.
struct MediaRecord {
  std::string server_name, media_id;
  std::string user_id;       // uploader (local media)
  std::string content_type;  // the type served
  std::string upload_name;   // cleaned file name, may be empty
  std::string sha256;        // hex; empty while an async upload (/create) waits for its bytes
  int64_t size = 0;
  int64_t created_ts = 0;
  int64_t expires_ts = 0;    // pending uploads only
  bool legacy_ok = false;    // also served on the unauthenticated /_matrix/media/v3 routes
  bool quarantined = false;  // found infected by a scan on download
  bool pending() const { return sha256.empty(); }
};

struct ThumbnailRecord {
  std::string sha256, content_type;
  int64_t size = 0;
  int width = 0, height = 0;
};

class FileStore {
 public:
  explicit FileStore(std::string root) : root_(std::move(root)) {}
  Status init() const;  // creates the folder

  std::string path_of(std::string_view sha256_hex) const;
  bool exists(std::string_view sha256_hex) const;
  // Writes data under its hash unless a file is already there: a temporary file, fsync,
  // rename, fsync of the folder, so a stored file is always complete and durable.
  Status put(std::string_view sha256_hex, std::string_view data) const;
  Result<std::string> get(std::string_view sha256_hex) const;
  void remove(std::string_view sha256_hex) const;

 private:
  std::string root_;
};

// Metadata queries. Reads take any connection; writes run on the writer thread.
Result<std::optional<MediaRecord>> find_media(storage::Conn& c, const std::string& server_name,
                                              const std::string& media_id);
Status insert_media(storage::Conn& c, const MediaRecord& m);
// Fills in a pending upload (sha256 was empty); false when it was no longer pending.
Result<bool> complete_media(storage::Conn& c, const MediaRecord& m);
// Bytes of local media a user has uploaded.
Result<int64_t> bytes_used(storage::Conn& c, const std::string& user_id);
// Removes the file unless a media or thumbnail row refers to it (writer thread).
Status remove_if_unused(storage::Conn& c, const FileStore& files, const std::string& sha256);
Result<int64_t> count_pending(storage::Conn& c, const std::string& user_id, int64_t now);
Status touch_media(storage::Conn& c, const std::string& server_name, const std::string& media_id, int64_t now);
Status set_quarantined(storage::Conn& c, const std::string& server_name, const std::string& media_id);

Result<std::optional<ThumbnailRecord>> find_thumbnail(storage::Conn& c, const std::string& server_name,
                                                      const std::string& media_id, int width, int height,
                                                      const std::string& method);
Status insert_thumbnail(storage::Conn& c, const std::string& server_name, const std::string& media_id,
                        int req_width, int req_height, const std::string& method, const ThumbnailRecord& t);

// Deletes expired pending uploads and remote media (server_name != local_server) not
// accessed since remote_cutoff_ts (0: keep remote media), with their thumbnails, and the
// files no row refers to any more. Runs on the writer thread, so no upload can start to refer
// to a file between the check and its deletion. Returns the number of media rows deleted.
Result<int64_t> purge_media(storage::Conn& c, const FileStore& files, const std::string& local_server,
                            int64_t now, int64_t remote_cutoff_ts);

}  // namespace despatch::media
