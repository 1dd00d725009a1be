#include "storage/sqlite/media_store.h"

namespace despatch::storage {

namespace {

constexpr const char* kMediaColumns =
    "server_name, media_id, user_id, content_type, upload_name, sha256, size, created_ts, expires_ts, "
    "legacy_ok, quarantined";

MediaRecord media_from_row(const Row& r) {
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

// Absent fields are NULL in the table (a pending upload has no sha256 yet).
Value nullable(const std::string& s) {
  if (s.empty()) return nullptr;
  return s;
}

}  // namespace

Result<std::optional<MediaRecord>> SqliteMediaStore::media(const std::string& server_name,
                                                           const std::string& media_id) {
  DS_ASSIGN(auto row, query_one(c_, std::string("SELECT ") + kMediaColumns + " FROM media WHERE server_name=? AND media_id=?",
                                {server_name, media_id}));
  if (!row) return std::optional<MediaRecord>{};
  return std::optional<MediaRecord>(media_from_row(*row));
}

Status SqliteMediaStore::add(const MediaRecord& m) {
  return c_.exec(std::string("INSERT INTO media(") + kMediaColumns + ", last_access_ts) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                 {m.server_name, m.media_id, nullable(m.user_id), nullable(m.content_type), nullable(m.upload_name),
                  nullable(m.sha256), m.size, m.created_ts, m.expires_ts ? Value(m.expires_ts) : Value(nullptr),
                  static_cast<int64_t>(m.legacy_ok), static_cast<int64_t>(m.quarantined), m.created_ts});
}

Result<bool> SqliteMediaStore::complete(const MediaRecord& m) {
  DS_TRY(c_.exec("UPDATE media SET content_type=?, upload_name=?, sha256=?, size=?, expires_ts=NULL, "
                 "last_access_ts=? WHERE server_name=? AND media_id=? AND sha256 IS NULL",
                 {nullable(m.content_type), nullable(m.upload_name), m.sha256, m.size, m.created_ts, m.server_name,
                  m.media_id}));
  return c_.changes() == 1;
}

Result<int64_t> SqliteMediaStore::bytes_used(const std::string& user) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT COALESCE(SUM(size), 0) FROM media WHERE user_id=?", {user}));
  return row ? row->i64(0) : 0;
}

Result<int64_t> SqliteMediaStore::pending_count(const std::string& user, int64_t now) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT COUNT(*) FROM media WHERE user_id=? AND sha256 IS NULL AND expires_ts > ?",
                                {user, now}));
  return row ? row->i64(0) : 0;
}

Status SqliteMediaStore::touch(const std::string& server_name, const std::string& media_id, int64_t now) {
  return c_.exec("UPDATE media SET last_access_ts=? WHERE server_name=? AND media_id=?", {now, server_name, media_id});
}

Status SqliteMediaStore::set_quarantined(const std::string& server_name, const std::string& media_id) {
  return c_.exec("UPDATE media SET quarantined=1 WHERE server_name=? AND media_id=?", {server_name, media_id});
}

Status SqliteMediaStore::clear_quarantined(const std::string& server_name, const std::string& media_id) {
  return c_.exec("UPDATE media SET quarantined=0 WHERE server_name=? AND media_id=?", {server_name, media_id});
}

Result<std::vector<MediaRecord>> SqliteMediaStore::uploads_of(const std::string& user, int64_t offset, int64_t limit) {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kMediaColumns +
                                    " FROM media WHERE user_id=? ORDER BY created_ts DESC, media_id LIMIT ? OFFSET ?",
                                {user, limit, offset}));
  std::vector<MediaRecord> out;
  for (auto& r : rows) out.push_back(media_from_row(r));
  return out;
}

Result<int64_t> SqliteMediaStore::upload_count(const std::string& user) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT COUNT(*) FROM media WHERE user_id=?", {user}));
  return row ? row->i64(0) : 0;
}

Result<bool> SqliteMediaStore::file_in_use(const std::string& sha256) {
  DS_ASSIGN(auto a, query_one(c_, "SELECT 1 FROM media WHERE sha256=? LIMIT 1", {sha256}));
  if (a) return true;
  DS_ASSIGN(auto b, query_one(c_, "SELECT 1 FROM media_thumbnails WHERE sha256=? LIMIT 1", {sha256}));
  return b.has_value();
}

Result<std::vector<MediaRecord>> SqliteMediaStore::expired(const std::string& local_server, int64_t now,
                                                           int64_t remote_cutoff_ts) {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kMediaColumns +
                                    " FROM media WHERE "
                                    "(sha256 IS NULL AND expires_ts IS NOT NULL AND expires_ts <= ?) OR "
                                    "(server_name != ? AND ? > 0 AND last_access_ts < ?)",
                                {now, local_server, remote_cutoff_ts, remote_cutoff_ts}));
  std::vector<MediaRecord> out;
  for (auto& r : rows) out.push_back(media_from_row(r));
  return out;
}

Result<std::vector<std::string>> SqliteMediaStore::remove(const std::string& server_name,
                                                          const std::string& media_id) {
  std::vector<std::string> files;
  DS_ASSIGN(auto thumbs, c_.query("SELECT sha256 FROM media_thumbnails WHERE server_name=? AND media_id=?",
                                  {server_name, media_id}));
  for (auto& t : thumbs) files.push_back(t.str(0));
  DS_ASSIGN(auto row, query_one(c_, "SELECT sha256 FROM media WHERE server_name=? AND media_id=?",
                                {server_name, media_id}));
  if (row && !row->is_null(0)) files.push_back(row->str(0));
  DS_TRY(c_.exec("DELETE FROM media_thumbnails WHERE server_name=? AND media_id=?", {server_name, media_id}));
  DS_TRY(c_.exec("DELETE FROM media WHERE server_name=? AND media_id=?", {server_name, media_id}));
  return files;
}

Result<std::optional<ThumbnailRecord>> SqliteMediaStore::thumbnail(const std::string& server_name,
                                                                   const std::string& media_id, int req_width,
                                                                   int req_height, const std::string& method) {
  DS_ASSIGN(auto row, query_one(c_,
                                "SELECT sha256, content_type, size, width, height FROM media_thumbnails WHERE "
                                "server_name=? AND media_id=? AND req_width=? AND req_height=? AND method=?",
                                {server_name, media_id, static_cast<int64_t>(req_width),
                                 static_cast<int64_t>(req_height), method}));
  if (!row) return std::optional<ThumbnailRecord>{};
  return std::optional<ThumbnailRecord>(ThumbnailRecord{row->str(0), row->str(1), row->i64(2),
                                                        static_cast<int>(row->i64(3)), static_cast<int>(row->i64(4))});
}

Status SqliteMediaStore::add_thumbnail(const std::string& server_name, const std::string& media_id, int req_width,
                                       int req_height, const std::string& method, const ThumbnailRecord& t) {
  return c_.exec("INSERT INTO media_thumbnails(server_name, media_id, req_width, req_height, method, "
                 "sha256, content_type, size, width, height) VALUES(?,?,?,?,?,?,?,?,?,?) "
                 "ON CONFLICT(server_name, media_id, req_width, req_height, method) DO NOTHING",
                 {server_name, media_id, static_cast<int64_t>(req_width), static_cast<int64_t>(req_height), method,
                  t.sha256, t.content_type, t.size, static_cast<int64_t>(t.width), static_cast<int64_t>(t.height)});
}

}  // namespace despatch::storage
