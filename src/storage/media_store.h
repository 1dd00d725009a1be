// The content repository's metadata: media (one row per mxc:// URI, local uploads and
// remote copies) and media_thumbnails (generated thumbnails by requested size and method).
// The bytes are files named by their SHA-256 (service/media/file_store.h); rows refer to
// them by that hash, and several rows may share one file.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

// media: (server_name, media_id) -> one uploaded (or pending) file.
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

// media_thumbnails: (server_name, media_id, req_width, req_height, method) -> thumbnail.
struct ThumbnailRecord {
  std::string sha256, content_type;
  int64_t size = 0;
  int width = 0, height = 0;
};

class MediaStore {
 public:
  virtual ~MediaStore() = default;

  virtual Result<std::optional<MediaRecord>> media(const std::string& server_name, const std::string& media_id) = 0;
  // Adds a row (last accessed at created_ts). Empty strings are stored as absent.
  virtual Status add(const MediaRecord& m) = 0;
  // Fills in a pending upload with m's type, name, hash and size (created_ts becomes its last
  // access); false when it was no longer pending.
  virtual Result<bool> complete(const MediaRecord& m) = 0;
  // Bytes of media uploaded by the user.
  virtual Result<int64_t> bytes_used(const std::string& user) = 0;
  // The user's pending uploads that expire after now.
  virtual Result<int64_t> pending_count(const std::string& user, int64_t now) = 0;
  // Records a download (remote media is kept while it is used).
  virtual Status touch(const std::string& server_name, const std::string& media_id, int64_t now) = 0;
  virtual Status set_quarantined(const std::string& server_name, const std::string& media_id) = 0;
  // An administrator's release of quarantined media.
  virtual Status clear_quarantined(const std::string& server_name, const std::string& media_id) = 0;
  // A local user's uploads, newest first, and how many there are (administrators' listing).
  virtual Result<std::vector<MediaRecord>> uploads_of(const std::string& user, int64_t offset, int64_t limit) = 0;
  virtual Result<int64_t> upload_count(const std::string& user) = 0;
  // Whether any media or thumbnail row refers to the file with this hash.
  virtual Result<bool> file_in_use(const std::string& sha256) = 0;
  // Pending uploads that expired at or before now, and remote media (server_name other than
  // local_server) last accessed before remote_cutoff_ts (none when remote_cutoff_ts is 0).
  virtual Result<std::vector<MediaRecord>> expired(const std::string& local_server, int64_t now,
                                                   int64_t remote_cutoff_ts) = 0;
  // Removes the media row and its thumbnails; returns the hashes of the files they referred
  // to (possibly repeated; files themselves are the caller's).
  virtual Result<std::vector<std::string>> remove(const std::string& server_name, const std::string& media_id) = 0;

  virtual Result<std::optional<ThumbnailRecord>> thumbnail(const std::string& server_name,
                                                           const std::string& media_id, int req_width,
                                                           int req_height, const std::string& method) = 0;
  // Keeps the first thumbnail stored for a size and method: a second one is ignored.
  virtual Status add_thumbnail(const std::string& server_name, const std::string& media_id, int req_width,
                               int req_height, const std::string& method, const ThumbnailRecord& t) = 0;
};

}  // namespace despatch::storage
