// Media of other servers: fetched once over federation (authenticated media, spec 1.11),
// checked as an upload is, and cached in the media table under its own server name and
// media ID, with the bytes in the same file store. Later requests are served from the cache.
#include "service/media/media_service.h"

#include "core/log.h"
#include "service/common/time.h"
#include "service/media/media_types.h"
#include "service/media/multipart.h"
#include "storage/media_store.h"

namespace despatch {

namespace asio = boost::asio;
using media::MediaRecord;
using storage::Txn;

namespace {

constexpr const char* kNotYetUploaded = "M_NOT_YET_UPLOADED";

// What the client hears of a remote server's refusal (client-server spec: 502 M_TOO_LARGE for
// remote content too large, 504 M_NOT_YET_UPLOADED passed on, 404 for unknown media).
Error remote_refusal(const std::string& server, const FederationResponse& res) {
  std::string code = res.errcode();
  if (res.status == 404) return Error::not_found("Media not found");
  if (res.status == 504 && code == kNotYetUploaded)
    return Error::make(504, kNotYetUploaded, "Content has not yet been uploaded");
  if (res.status == 413 || code == errc::kTooLarge)
    return Error::make(502, errc::kTooLarge, "The remote content is too large");
  return Error::make(502, errc::kUnknown, server + " answered the media download with status " +
                                              std::to_string(res.status));
}

struct Fetched {
  std::string bytes, content_type, filename;
};

Result<Fetched> unpack(const std::string& server, FederationSender::MediaAnswer answer) {
  FederationResponse& res = answer.response;
  if (res.status != 200) return remote_refusal(server, res);
  Fetched out;
  if (!answer.multipart) {
    out.bytes = std::move(res.raw);
    out.content_type = std::move(res.content_type);
    return out;
  }
  DS_ASSIGN(media::MultipartMedia part, media::parse_multipart(res.content_type, res.raw));
  // Following a Location would reach a host outside the federation allow-list.
  if (!part.location.empty())
    return Error::make(502, errc::kUnknown, server + " answered with a redirect, which this server does not follow");
  out.bytes = std::move(part.bytes);
  out.content_type = std::move(part.content_type);
  out.filename = media::disposition_filename(part.disposition).value_or("");
  return out;
}

}  // namespace

asio::awaitable<Result<MediaRecord>> MediaService::remote_media(const std::string& server_name,
                                                                const std::string& media_id, int64_t timeout_ms) {
  DS_CO_ASSIGN(auto cached, db_.read().media().media(server_name, media_id));
  if (cached && cached->quarantined)
    co_return Error::forbidden("This file is withheld: it was found infected or quarantined by an administrator");
  if (cached && !cached->pending()) co_return std::move(*cached);
  if (!federation_) co_return Error::not_found("Media not found");
  const size_t limit = config_.media.max_upload_bytes;
  // A server not on the allow-list is refused here, before anything is looked up.
  DS_CO_ASSIGN(auto answer, co_await federation_->download_media(server_name, media_id, timeout_ms, limit));
  DS_CO_ASSIGN(Fetched got, unpack(server_name, std::move(answer)));
  if (got.bytes.size() > limit) co_return Error::make(502, errc::kTooLarge, "The remote content is too large");

  std::optional<std::string> declared = media::base_content_type(got.content_type);
  MediaRecord rec;
  rec.server_name = server_name;
  rec.media_id = media_id;
  rec.upload_name = media::clean_filename(got.filename).value_or("");
  for (int attempt = 0;; ++attempt) {
    // The same checks as an upload: libmagic against the allow-list, clamd when configured.
    auto job = [this, &got, &declared]() { return ingest(got.bytes, declared); };
    Result<Ingested> in = co_await pool_.run(job);
    if (!in.ok()) {
      if (in.error().extra.contains("signature"))
        DS_LOG(kWarn, "media: refused infected media mxc://{}/{} from {}: {}", server_name, media_id, server_name,
               in.error().message);
      co_return in.error();
    }
    rec.sha256 = in->sha256;
    rec.size = in->size;
    rec.content_type = in->content_type;
    rec.created_ts = now_ms();
    bool file_gone = false;
    auto store = [this, rec, &file_gone](Txn& t) -> Result<MediaRecord> {
      if (!files_.exists(rec.sha256)) {
        file_gone = true;
        return Error::internal("media file removed meanwhile");
      }
      // Another request fetched it meanwhile: the first copy stays.
      DS_ASSIGN(auto existing, t.media().media(rec.server_name, rec.media_id));
      if (existing) return std::move(*existing);
      DS_TRY(t.media().add(rec));
      return rec;
    };
    Result<MediaRecord> w = co_await db_.transact<MediaRecord>(store);
    if (w.ok()) {
      DS_LOG(kInfo, "media: cached mxc://{}/{} ({} bytes, {})", server_name, media_id, rec.size, rec.content_type);
      co_return w;
    }
    if (!file_gone || attempt > 0) co_return w.error();
  }
}

}  // namespace despatch
