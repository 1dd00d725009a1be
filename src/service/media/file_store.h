// Where media bytes live: <data_dir>/media/<aa>/<bb>/<sha256>, named by their SHA-256 so
// duplicates share one file. The metadata that refers to them (media, media_thumbnails) is
// storage::MediaStore's; a file is kept while any of its rows names it. The files are not a
// database's business: a PostgreSQL deployment keeps them the same way, so they stay here.
#pragma once

#include "core/result.h"
#include "storage/media_store.h"

#include <string>
#include <string_view>

namespace despatch::media {

using storage::MediaRecord;
using storage::ThumbnailRecord;

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

// Inside a write job: removes the file unless a media or thumbnail row refers to it. On the
// writer thread, so no upload can start to refer to it between the check and the removal.
Status remove_if_unused(storage::Txn& t, const FileStore& files, const std::string& sha256);

// Inside a write job: deletes expired pending uploads and remote media (server_name other
// than local_server) not accessed since remote_cutoff_ts (0: keep remote media), with their
// thumbnails, and the files no row refers to any more. Returns the number of media deleted.
Result<int64_t> purge_media(storage::Txn& t, const FileStore& files, const std::string& local_server,
                            int64_t now, int64_t remote_cutoff_ts);

}  // namespace despatch::media
