#include "service/media/media_service.h"

#include "core/base64.h"
#include "core/crypto.h"
#include "core/ids.h"
#include "core/log.h"
#include "service/common/time.h"
#include "service/media/clamd.h"
#include "service/media/media_types.h"
#include "service/media/sniff.h"
#include "service/media/thumbnailer.h"
#include "storage/media_store.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>

namespace despatch {

namespace asio = boost::asio;
using media::MediaRecord;
using storage::Txn;

namespace {

constexpr const char* kNotYetUploaded = "M_NOT_YET_UPLOADED";
constexpr const char* kCannotOverwrite = "M_CANNOT_OVERWRITE_MEDIA";
// A write closure found its file deleted by a clean-up that ran meanwhile: store it again.
constexpr const char* kFileGone = "DESPATCH_MEDIA_FILE_GONE";

struct Size {
  int w, h;
};
constexpr std::array<Size, 2> kCropSizes = {{{32, 32}, {96, 96}}};
constexpr std::array<Size, 3> kScaleSizes = {{{320, 240}, {640, 480}, {800, 600}}};

Status check_ids(const std::string& server_name, const std::string& media_id) {
  if (!is_valid_server_name(server_name)) return Error::invalid_param("Invalid server name");
  if (!media::is_valid_media_id(media_id))
    return Error::invalid_param("Invalid media ID: only A-Z, a-z, 0-9, '_' and '-' are allowed");
  return ok_status();
}

Result<std::string> clean_name(const std::string& filename) {
  auto name = media::clean_filename(filename);
  if (!name) return Error::invalid_param("filename must be valid UTF-8");
  return *name;
}

Error quota_full(int64_t quota) {
  return Error::forbidden("Your media storage quota (" + std::to_string(quota) + " bytes) is full");
}

}  // namespace

MediaService::MediaService(const Config& config, storage::Database& db)
    : config_(config), db_(db), files_(config.data_dir + "/media"),
      pool_(static_cast<int>(config.media.worker_threads)) {}

Status MediaService::check_quota(storage::Stores& s, const std::string& user_id, int64_t size) const {
  int64_t quota = config_.media.max_user_bytes;
  if (quota <= 0) return ok_status();
  DS_ASSIGN(int64_t used, s.media().bytes_used(user_id));
  if (used + size > quota) return quota_full(quota);
  return ok_status();
}

Status MediaService::init() {
  // libvips is loaded on the first thumbnail, not here (thumbnailer.cpp).
  return files_.init();
}

Result<MediaService::Ingested> MediaService::ingest(const std::string& body,
                                                    const std::optional<std::string>& declared) {
  const auto& m = config_.media;
  if (body.size() > m.max_upload_bytes)
    return Error::make(413, errc::kTooLarge,
                       "Cannot upload files larger than " + std::to_string(m.max_upload_bytes) + " bytes");
  std::string sniffed = media::sniff_content_type(body);
  // Encrypted attachments (sent as octet-stream) are random bytes: a type libmagic reads into
  // their first bytes is chance, not content.
  bool declared_opaque = !declared || *declared == "application/octet-stream";
  if (!media::type_allowed(sniffed, m.allowed_types) && declared_opaque &&
      media::type_allowed("application/octet-stream", m.allowed_types) && media::looks_encrypted(body))
    sniffed = "application/octet-stream";
  if (!media::type_allowed(sniffed, m.allowed_types))
    return Error::forbidden("Files of type " + sniffed + " are not accepted by this server");
  if (m.antivirus) {
    auto scan = media::clamd_scan(m.clamd_socket, body, static_cast<int>(m.clamd_timeout_seconds));
    if (!scan.ok()) {
      DS_LOG(kError, "media: antivirus scan failed, upload refused: {}", scan.error().message);
      return Error::make(503, errc::kUnknown, "The virus scanner is unavailable; try again later");
    }
    if (!scan->clean) {
      Error e = Error::forbidden("File refused: the virus scanner found " + scan->signature);
      e.extra["signature"] = scan->signature;
      return e;
    }
  }
  Ingested out;
  out.sha256 = hex_encode(sha256(body));
  out.size = static_cast<int64_t>(body.size());
  out.content_type = media::served_content_type(declared, sniffed, m.allowed_types);
  DS_TRY(files_.put(out.sha256, body));
  return out;
}

asio::awaitable<Result<MediaService::Ingested>> MediaService::ingest_logged(const std::string& user_id,
                                                                          const std::string& body,
                                                                          const std::string& content_type_header,
                                                                          const std::string& filename) {
  std::optional<std::string> declared = media::base_content_type(content_type_header);
  auto job = [this, &body, &declared]() { return ingest(body, declared); };
  Result<Ingested> r = co_await pool_.run(job);
  if (!r.ok() && r.error().extra.contains("signature"))
    DS_LOG(kWarn, "media: refused an infected upload from {} (file name \"{}\", {} bytes): {}", user_id,
           filename, body.size(), r.error().message);
  co_return r;
}

asio::awaitable<Result<std::string>> MediaService::upload(const std::string& user_id, const std::string& body,
                                                          const std::string& content_type_header,
                                                          const std::string& filename) {
  DS_CO_ASSIGN(std::string name, clean_name(filename));
  MediaRecord rec;
  rec.server_name = config_.server_name;
  rec.media_id = media::make_media_id();
  rec.user_id = user_id;
  rec.upload_name = name;
  rec.legacy_ok = config_.media.legacy_unauthenticated;
  DS_CO_TRY(check_quota(db_.read(), user_id, static_cast<int64_t>(body.size())));
  for (int attempt = 0;; ++attempt) {
    DS_CO_ASSIGN(Ingested in, co_await ingest_logged(user_id, body, content_type_header, name));
    rec.sha256 = in.sha256;
    rec.size = in.size;
    rec.content_type = in.content_type;
    rec.created_ts = now_ms();
    auto job = [this, rec](Txn& t) -> Result<Ok> {
      if (!files_.exists(rec.sha256)) return Error::make(500, kFileGone, "media file removed meanwhile");
      if (auto q = check_quota(t, rec.user_id, rec.size); !q.ok()) {
        DS_TRY(media::remove_if_unused(t, files_, rec.sha256));
        return q;
      }
      DS_TRY(t.media().add(rec));
      return Ok{};
    };
    Result<Ok> w = co_await db_.transact<Ok>(job);
    if (w.ok()) break;
    if (w.error().errcode != kFileGone || attempt > 0) co_return w.error();
  }
  co_return "mxc://" + rec.server_name + "/" + rec.media_id;
}

asio::awaitable<Result<json::object>> MediaService::create(const std::string& user_id) {
  MediaRecord rec;
  rec.server_name = config_.server_name;
  rec.media_id = media::make_media_id();
  rec.user_id = user_id;
  rec.created_ts = now_ms();
  rec.expires_ts = rec.created_ts + config_.media.unused_upload_seconds * 1000;
  rec.legacy_ok = config_.media.legacy_unauthenticated;
  int64_t limit = config_.media.max_pending_uploads;
  auto job = [rec, limit](Txn& t) -> Result<Ok> {
    DS_ASSIGN(int64_t pending, t.media().pending_count(rec.user_id, rec.created_ts));
    if (pending >= limit) {
      Error e{429, errc::kLimitExceeded, "Too many pending uploads: upload or wait for some to expire", {}};
      e.extra["retry_after_ms"] = 60'000;
      return e;
    }
    DS_TRY(t.media().add(rec));
    return Ok{};
  };
  DS_CO_TRY(co_await db_.transact<Ok>(job));
  co_return json::object{{"content_uri", "mxc://" + rec.server_name + "/" + rec.media_id},
                         {"unused_expires_at", rec.expires_ts}};
}

asio::awaitable<Status> MediaService::upload_to(const std::string& user_id, const std::string& server_name,
                                                const std::string& media_id, const std::string& body,
                                                const std::string& content_type_header,
                                                const std::string& filename) {
  DS_CO_TRY(check_ids(server_name, media_id));
  DS_CO_ASSIGN(std::string name, clean_name(filename));
  // Checked before the work and again in the write, which decides.
  DS_CO_ASSIGN(auto found, db_.read().media().media(server_name, media_id));
  int64_t now = now_ms();
  if (!found || (found->pending() && found->expires_ts <= now)) co_return Error::not_found("Unknown media ID");
  if (found->user_id != user_id) co_return Error::forbidden("This media ID was created by another user");
  if (!found->pending())
    co_return Error::make(409, kCannotOverwrite, "Media already uploaded; it cannot be overwritten");
  DS_CO_TRY(check_quota(db_.read(), user_id, static_cast<int64_t>(body.size())));
  for (int attempt = 0;; ++attempt) {
    DS_CO_ASSIGN(Ingested in, co_await ingest_logged(user_id, body, content_type_header, name));
    MediaRecord rec = *found;
    rec.sha256 = in.sha256;
    rec.size = in.size;
    rec.content_type = in.content_type;
    rec.upload_name = name;
    rec.created_ts = now_ms();
    auto job = [this, rec](Txn& t) -> Result<Ok> {
      if (!files_.exists(rec.sha256)) return Error::make(500, kFileGone, "media file removed meanwhile");
      if (auto q = check_quota(t, rec.user_id, rec.size); !q.ok()) {
        DS_TRY(media::remove_if_unused(t, files_, rec.sha256));
        return q;
      }
      DS_ASSIGN(bool done, t.media().complete(rec));
      if (!done) return Error::make(409, kCannotOverwrite, "Media already uploaded; it cannot be overwritten");
      return Ok{};
    };
    Result<Ok> w = co_await db_.transact<Ok>(job);
    if (w.ok()) break;
    if (w.error().errcode != kFileGone || attempt > 0) co_return w.error();
  }
  co_return ok_status();
}

asio::awaitable<Result<MediaRecord>> MediaService::ready_media(const std::string& server_name,
                                                               const std::string& media_id, int64_t timeout_ms,
                                                               bool legacy) {
  DS_CO_TRY(check_ids(server_name, media_id));
  timeout_ms = std::clamp<int64_t>(timeout_ms, 0, config_.media.max_download_wait_ms);
  // The deprecated unauthenticated routes never reach other servers (spec 1.11): they only
  // find a cached copy, and cached copies are never marked legacy_ok.
  if (server_name != config_.server_name && !legacy) co_return co_await remote_media(server_name, media_id, timeout_ms);
  int64_t deadline = now_ms() + timeout_ms;
  std::optional<asio::steady_timer> timer;
  for (;;) {
    DS_CO_ASSIGN(auto found, db_.read().media().media(server_name, media_id));
    int64_t now = now_ms();
    if (!found || (legacy && !found->legacy_ok)) co_return Error::not_found("Media not found");
    if (found->quarantined)
      co_return Error::forbidden("This file is withheld: it was found infected or quarantined by an administrator");
    if (!found->pending()) co_return std::move(*found);
    if (found->expires_ts <= now) co_return Error::not_found("Media not found");
    if (now >= deadline)
      co_return Error::make(504, kNotYetUploaded, "Content has not yet been uploaded");
    if (!timer) timer.emplace(co_await asio::this_coro::executor);
    timer->expires_after(std::chrono::milliseconds(std::min<int64_t>(200, deadline - now)));
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<Result<std::string>> MediaService::read_file(const MediaRecord& m) {
  const auto& cfg = config_.media;
  auto job = [this, &m, &cfg]() -> Result<std::string> {
    DS_ASSIGN(std::string bytes, files_.get(m.sha256));
    if (cfg.scan_on_download && cfg.antivirus) {
      auto scan = media::clamd_scan(cfg.clamd_socket, bytes, static_cast<int>(cfg.clamd_timeout_seconds));
      if (!scan.ok()) {
        DS_LOG(kError, "media: antivirus scan failed, download refused: {}", scan.error().message);
        return Error::make(503, errc::kUnknown, "The virus scanner is unavailable; try again later");
      }
      if (!scan->clean) {
        Error e = Error::forbidden("This file was found to be infected and is withheld");
        e.extra["signature"] = scan->signature;
        return e;
      }
    }
    return bytes;
  };
  Result<std::string> r = co_await pool_.run(job);
  if (!r.ok() && r.error().extra.contains("signature")) {
    DS_LOG(kWarn, "media: mxc://{}/{} (uploaded by {}) is infected ({}); quarantined", m.server_name, m.media_id,
           m.user_id, r.error().extra.at("signature").as_string().c_str());
    std::string server = m.server_name, id = m.media_id;
    auto job2 = [server, id](Txn& t) -> Result<Ok> {
      DS_TRY(t.media().set_quarantined(server, id));
      return Ok{};
    };
    (void)co_await db_.transact<Ok>(job2);
    Error e = std::move(r).error();
    e.extra.erase("signature");
    co_return e;
  }
  co_return r;
}

asio::awaitable<Result<MediaService::Served>> MediaService::download(const std::string& server_name,
                                                                     const std::string& media_id,
                                                                     const std::string& filename_override,
                                                                     int64_t timeout_ms, bool legacy,
                                                                     std::string downloader) {
  DS_CO_ASSIGN(MediaRecord m, co_await ready_media(server_name, media_id, timeout_ms, legacy));
  if (alerts_ && !downloader.empty())
    alerts_->signal("media.download", downloader, {{"media", "mxc://" + server_name + "/" + media_id}});
  DS_CO_ASSIGN(std::string name, clean_name(filename_override.empty() ? m.upload_name : filename_override));
  DS_CO_ASSIGN(std::string bytes, co_await read_file(m));
  if (m.server_name != config_.server_name) {
    // Remote media is kept while it is used (media.remote_retention_days).
    std::string server = m.server_name, id = m.media_id;
    int64_t now = now_ms();
    auto job = [server, id, now](Txn& t) -> Result<Ok> {
      DS_TRY(t.media().touch(server, id, now));
      return Ok{};
    };
    (void)co_await db_.transact<Ok>(job);
  }
  std::string type = m.content_type.empty() ? "application/octet-stream" : m.content_type;
  co_return Served{std::move(bytes), type, media::content_disposition(type, name)};
}

asio::awaitable<Result<MediaService::Served>> MediaService::thumbnail(const std::string& server_name,
                                                                      const std::string& media_id, int width,
                                                                      int height, const std::string& method,
                                                                      int64_t timeout_ms, bool legacy) {
  if (method != "crop" && method != "scale") co_return Error::invalid_param("method must be crop or scale");
  if (!config_.media.thumbnails) co_return Error::make(400, errc::kUnknown, "Thumbnails are disabled here");
  DS_CO_ASSIGN(MediaRecord m, co_await ready_media(server_name, media_id, timeout_ms, legacy));
  if (!media::thumbnailable(m.content_type))
    co_return Error::make(400, errc::kUnknown, "Cannot generate thumbnails for " + m.content_type + " content");

  bool crop = method == "crop";
  int tw = width, th = height;
  auto pick = [&](const auto& sizes) {
    for (auto s : sizes)
      if (s.w >= width && s.h >= height) {
        tw = s.w;
        th = s.h;
        return;
      }
  };
  if (crop) pick(kCropSizes);
  else pick(kScaleSizes);

  DS_CO_ASSIGN(auto cached, db_.read().media().thumbnail(server_name, media_id, tw, th, method));
  if (cached && files_.exists(cached->sha256)) {
    std::string hash = cached->sha256;
    auto job = [this, &hash]() { return files_.get(hash); };
    DS_CO_ASSIGN(std::string bytes, co_await pool_.run(job));
    std::string ext = cached->content_type == "image/png" ? "png" : "jpg";
    co_return Served{std::move(bytes), cached->content_type, "inline; filename=\"thumbnail." + ext + "\""};
  }

  struct Made {
    std::string bytes;
    std::optional<media::ThumbnailRecord> record;  // nullopt: the original is served
  };
  int64_t max_pixels = config_.media.max_thumbnail_pixels;
  auto job = [this, &m, tw, th, crop, max_pixels]() -> Result<Made> {
    DS_ASSIGN(std::string original, files_.get(m.sha256));
    DS_ASSIGN(media::ImageSize size, media::image_size(original));
    if (static_cast<int64_t>(size.width) * size.height > max_pixels)
      return Error::make(413, errc::kTooLarge, "Image is too large to thumbnail");
    // Never upscale: content no larger than the request is served as it is.
    if (size.width <= tw && size.height <= th) return Made{std::move(original), std::nullopt};
    DS_ASSIGN(media::Thumbnail t, media::make_thumbnail(original, tw, th, crop));
    media::ThumbnailRecord rec{hex_encode(sha256(t.bytes)), t.content_type,
                               static_cast<int64_t>(t.bytes.size()), t.width, t.height};
    DS_TRY(files_.put(rec.sha256, t.bytes));
    return Made{std::move(t.bytes), std::move(rec)};
  };
  DS_CO_ASSIGN(Made made, co_await pool_.run(job));
  if (!made.record) {
    co_return Served{std::move(made.bytes), m.content_type, media::content_disposition(m.content_type, "")};
  }
  media::ThumbnailRecord rec = *made.record;
  std::string method_copy = method;
  auto store = [this, server_name, media_id, tw, th, method_copy, rec](Txn& t) -> Result<Ok> {
    if (!files_.exists(rec.sha256)) return Ok{};  // removed meanwhile: simply not cached
    DS_TRY(t.media().add_thumbnail(server_name, media_id, tw, th, method_copy, rec));
    return Ok{};
  };
  auto w = co_await db_.transact<Ok>(store);
  if (!w.ok()) DS_LOG(kWarn, "media: cannot cache a thumbnail: {}", w.error().message);
  std::string ext = rec.content_type == "image/png" ? "png" : "jpg";
  co_return Served{std::move(made.bytes), rec.content_type, "inline; filename=\"thumbnail." + ext + "\""};
}

asio::awaitable<Result<int64_t>> MediaService::cleanup(int64_t now) {
  int64_t days = config_.media.remote_retention_days;
  int64_t cutoff = days > 0 ? now - days * 86'400'000 : 0;
  std::string local = config_.server_name;
  auto job = [this, local, now, cutoff](Txn& t) -> Result<int64_t> {
    return media::purge_media(t, files_, local, now, cutoff);
  };
  co_return co_await db_.transact<int64_t>(job);
}

}  // namespace despatch
