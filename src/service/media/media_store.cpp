#include "service/media/media_store.h"

#include "core/file.h"
#include "core/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <algorithm>

namespace despatch::media {
namespace fs = std::filesystem;

namespace {

bool is_hex_hash(std::string_view h) {
  return h.size() == 64 && h.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

constexpr const char* kMediaColumns =
    "server_name, media_id, user_id, content_type, upload_name, sha256, size, created_ts, expires_ts, "
    "legacy_ok, quarantined";

MediaRecord media_from_row(const storage::Row& r) {
  MediaRecord m;
  m.server_name = r.str(0);
  m.media_id = r.str(1);
  m.user_id = r.str(2);
  m.content_type = r.str(3);
  m.upload_name = r.str(4);
  m.sha256 = r.str(5);
  m.size = r.i64(6);
  m.created_ts = r.i64(7);
  m.expires_ts = r.i64(8);
  m.legacy_ok = r.i64(9) != 0;
  m.quarantined = r.i64(10) != 0;
  return m;
}

storage::Value nullable(const std::string& s) {
  if (s.empty()) return nullptr;
  return s;
}

}  // namespace

Status FileStore::init() const {
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) return Error::internal("media: cannot create " + root_ + ": " + ec.message());
  return ok_status();
}

std::string FileStore::path_of(std::string_view h) const {
  std::string p = root_;
  p += '/';
  p += h.substr(0, 2);
  p += '/';
  p += h.substr(2, 2);
  p += '/';
  p += h;
  return p;
}

bool FileStore::exists(std::string_view h) const {
  struct stat st {};
  return is_hex_hash(h) && ::stat(path_of(h).c_str(), &st) == 0;
}

Status FileStore::put(std::string_view h, std::string_view data) const {
  if (!is_hex_hash(h)) return Error::internal("media: bad hash");
  if (exists(h)) return ok_status();
  std::string path = path_of(h);
  std::string dir = path.substr(0, path.rfind('/'));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error::internal("media: cannot create " + dir + ": " + ec.message());
  auto st = write_file_durable(path, data, 0640);
  if (!st.ok()) return Error::internal("media: " + st.error().message);
  return ok_status();
}

Result<std::string> FileStore::get(std::string_view h) const {
  if (!is_hex_hash(h)) return Error::not_found("Media not found");
  std::ifstream in(path_of(h), std::ios::binary);
  if (!in) return Error::internal("media: file " + std::string(h) + " is missing");
  std::string out;
  in.seekg(0, std::ios::end);
  out.resize(static_cast<size_t>(in.tellg()));
  in.seekg(0);
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  if (!in) return Error::internal("media: cannot read " + std::string(h));
  return out;
}

void FileStore::remove(std::string_view h) const {
  if (!is_hex_hash(h)) return;
  std::error_code ec;
  fs::remove(path_of(h), ec);
}

Result<std::optional<MediaRecord>> find_media(storage::Conn& c, const std::string& server_name,
                                              const std::string& media_id) {
  DS_ASSIGN(auto row, storage::query_one(c,
                                         std::string("SELECT ") + kMediaColumns +
                                             " FROM media WHERE server_name=? AND media_id=?",
                                         {server_name, media_id}));
  if (!row) return std::optional<MediaRecord>{};
  return std::optional<MediaRecord>(media_from_row(*row));
}

Status insert_media(storage::Conn& c, const MediaRecord& m) {
  return c.exec(std::string("INSERT INTO media(") + kMediaColumns +
                    ", last_access_ts) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                {m.server_name, m.media_id, nullable(m.user_id), nullable(m.content_type),
                 nullable(m.upload_name), nullable(m.sha256), m.size, m.created_ts,
                 m.expires_ts ? storage::Value(m.expires_ts) : storage::Value(nullptr),
                 static_cast<int64_t>(m.legacy_ok), static_cast<int64_t>(m.quarantined), m.created_ts});
}

Result<bool> complete_media(storage::Conn& c, const MediaRecord& m) {
  DS_TRY(c.exec("UPDATE media SET content_type=?, upload_name=?, sha256=?, size=?, expires_ts=NULL, "
                "last_access_ts=? WHERE server_name=? AND media_id=? AND sha256 IS NULL",
                {nullable(m.content_type), nullable(m.upload_name), m.sha256, m.size, m.created_ts,
                 m.server_name, m.media_id}));
  return c.changes() == 1;
}

Result<int64_t> bytes_used(storage::Conn& c, const std::string& user_id) {
  DS_ASSIGN(auto row, storage::query_one(c, "SELECT COALESCE(SUM(size), 0) FROM media WHERE user_id=?", {user_id}));
  return row ? row->i64(0) : 0;
}

Status remove_if_unused(storage::Conn& c, const FileStore& files, const std::string& h) {
  DS_ASSIGN(auto a, storage::query_one(c, "SELECT 1 FROM media WHERE sha256=? LIMIT 1", {h}));
  if (a) return ok_status();
  DS_ASSIGN(auto b, storage::query_one(c, "SELECT 1 FROM media_thumbnails WHERE sha256=? LIMIT 1", {h}));
  if (b) return ok_status();
  files.remove(h);
  return ok_status();
}

Result<int64_t> count_pending(storage::Conn& c, const std::string& user_id, int64_t now) {
  DS_ASSIGN(auto row, storage::query_one(c,
                                         "SELECT COUNT(*) FROM media WHERE user_id=? AND sha256 IS NULL "
                                         "AND expires_ts > ?",
                                         {user_id, now}));
  return row ? row->i64(0) : 0;
}

Status touch_media(storage::Conn& c, const std::string& server_name, const std::string& media_id, int64_t now) {
  return c.exec("UPDATE media SET last_access_ts=? WHERE server_name=? AND media_id=?",
                {now, server_name, media_id});
}

Status set_quarantined(storage::Conn& c, const std::string& server_name, const std::string& media_id) {
  return c.exec("UPDATE media SET quarantined=1 WHERE server_name=? AND media_id=?", {server_name, media_id});
}

Result<std::optional<ThumbnailRecord>> find_thumbnail(storage::Conn& c, const std::string& server_name,
                                                      const std::string& media_id, int width, int height,
                                                      const std::string& method) {
  DS_ASSIGN(auto row, storage::query_one(c,
                                         "SELECT sha256, content_type, size, width, height FROM "
                                         "media_thumbnails WHERE server_name=? AND media_id=? AND "
                                         "req_width=? AND req_height=? AND method=?",
                                         {server_name, media_id, static_cast<int64_t>(width),
                                          static_cast<int64_t>(height), method}));
  if (!row) return std::optional<ThumbnailRecord>{};
  ThumbnailRecord t{row->str(0), row->str(1), row->i64(2), static_cast<int>(row->i64(3)),
                    static_cast<int>(row->i64(4))};
  return std::optional<ThumbnailRecord>(std::move(t));
}

Status insert_thumbnail(storage::Conn& c, const std::string& server_name, const std::string& media_id,
                        int req_width, int req_height, const std::string& method, const ThumbnailRecord& t) {
  return c.exec("INSERT INTO media_thumbnails(server_name, media_id, req_width, req_height, method, "
                "sha256, content_type, size, width, height) VALUES(?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT DO NOTHING",
                {server_name, media_id, static_cast<int64_t>(req_width), static_cast<int64_t>(req_height),
                 method, t.sha256, t.content_type, t.size, static_cast<int64_t>(t.width),
                 static_cast<int64_t>(t.height)});
}

Result<int64_t> purge_media(storage::Conn& c, const FileStore& files, const std::string& local_server,
                            int64_t now, int64_t remote_cutoff_ts) {
  DS_ASSIGN(storage::Rows victims,
            c.query("SELECT server_name, media_id, sha256 FROM media WHERE "
                    "(sha256 IS NULL AND expires_ts IS NOT NULL AND expires_ts <= ?) OR "
                    "(server_name != ? AND ? > 0 AND last_access_ts < ?)",
                    {now, local_server, remote_cutoff_ts, remote_cutoff_ts}));
  std::vector<std::string> hashes;
  for (const auto& v : victims) {
    DS_ASSIGN(storage::Rows thumbs, c.query("SELECT sha256 FROM media_thumbnails WHERE server_name=? AND "
                                            "media_id=?",
                                            {v.str(0), v.str(1)}));
    for (const auto& t : thumbs) hashes.push_back(t.str(0));
    if (!v.str(2).empty()) hashes.push_back(v.str(2));
    DS_TRY(c.exec("DELETE FROM media_thumbnails WHERE server_name=? AND media_id=?", {v.str(0), v.str(1)}));
    DS_TRY(c.exec("DELETE FROM media WHERE server_name=? AND media_id=?", {v.str(0), v.str(1)}));
  }
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
  for (auto& h : hashes) DS_TRY(remove_if_unused(c, files, h));
  return static_cast<int64_t>(victims.size());
}

}  // namespace despatch::media
