// The content repository: uploads (direct and async via /create), downloads, thumbnails and
// the clean-up of expired media. Every byte-heavy step (sniffing, hashing, scanning, file
// I/O, libvips) runs on the service's own worker pool, never on the HTTP threads; metadata
// writes go through the database writer like every other write.
#pragma once

#include "core/config.h"
#include "core/result.h"
#include "service/common/cpu_pool.h"
#include "service/federation/sender.h"
#include "service/media/file_store.h"
#include "service/policy/alerts.h"
#include "storage/database.h"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>

namespace despatch {

class MediaService {
 public:
  MediaService(const Config& config, storage::Database& db);

  // Creates the media folder and starts libvips.
  Status init();

  // POST /upload: checks size, sniffs the type against the allow-list, scans with clamd when
  // configured, stores the bytes by hash and the metadata. Returns the mxc:// URI.
  boost::asio::awaitable<Result<std::string>> upload(const std::string& user_id, const std::string& body,
                                                     const std::string& content_type_header,
                                                     const std::string& filename);
  // POST /create: a fresh mxc:// URI the user fills in later; {content_uri, unused_expires_at}.
  boost::asio::awaitable<Result<json::object>> create(const std::string& user_id);
  // PUT /upload/{serverName}/{mediaId}: fills in an URI from create().
  boost::asio::awaitable<Status> upload_to(const std::string& user_id, const std::string& server_name,
                                           const std::string& media_id, const std::string& body,
                                           const std::string& content_type_header, const std::string& filename);

  struct Served {
    std::string bytes;
    std::string content_type;
    std::string disposition;  // the Content-Disposition header value
  };
  // Download: waits up to timeout_ms for a pending upload (M_NOT_YET_UPLOADED after).
  // legacy: the unauthenticated route, which serves only media uploaded while it was allowed.
  // downloader: the user asking ("" when unauthenticated), counted as a media.download signal.
  boost::asio::awaitable<Result<Served>> download(const std::string& server_name, const std::string& media_id,
                                                  const std::string& filename_override, int64_t timeout_ms,
                                                  bool legacy, std::string downloader = "");
  // Thumbnail: method "crop" or "scale"; the smallest of the spec's suggested sizes that is
  // at least width x height (or exactly that size when larger), generated once and cached.
  boost::asio::awaitable<Result<Served>> thumbnail(const std::string& server_name, const std::string& media_id,
                                                   int width, int height, const std::string& method,
                                                   int64_t timeout_ms, bool legacy);

  // Media of other servers is fetched through sender (set before serving); without it,
  // only what is already cached is served.
  void set_federation(FederationSender* sender) { federation_ = sender; }
  // Downloads are reported here as suspicious-activity signals (bulk downloads); null: not.
  void set_alerts(AlertService* alerts) { alerts_ = alerts; }

  // Deletes expired pending uploads and unused remote media; returns how many.
  boost::asio::awaitable<Result<int64_t>> cleanup(int64_t now);

  size_t max_upload_bytes() const { return config_.media.max_upload_bytes; }

 private:
  struct Ingested {
    std::string sha256, content_type;
    int64_t size = 0;
  };
  // Blocking, on a worker: every check, then the file. The type is the one to serve.
  Result<Ingested> ingest(const std::string& body, const std::optional<std::string>& declared);
  boost::asio::awaitable<Result<Ingested>> ingest_logged(const std::string& user_id, const std::string& body,
                                                         const std::string& content_type_header,
                                                         const std::string& filename);
  // Finds uploaded media, waiting for a pending upload until timeout_ms.
  boost::asio::awaitable<Result<media::MediaRecord>> ready_media(const std::string& server_name,
                                                                 const std::string& media_id, int64_t timeout_ms,
                                                                 bool legacy);
  // Media of another server (remote_media.cpp): the cached copy, else fetched over
  // federation, put through the checks an upload gets (size, type, clamd) and cached.
  boost::asio::awaitable<Result<media::MediaRecord>> remote_media(const std::string& server_name,
                                                                  const std::string& media_id, int64_t timeout_ms);
  boost::asio::awaitable<Result<std::string>> read_file(const media::MediaRecord& m);
  // M_FORBIDDEN when size more bytes would take user_id past media.max_user_bytes.
  Status check_quota(storage::Stores& s, const std::string& user_id, int64_t size) const;

  const Config& config_;
  storage::Database& db_;
  media::FileStore files_;
  CpuPool pool_;
  FederationSender* federation_ = nullptr;
  AlertService* alerts_ = nullptr;
};

}  // namespace despatch
