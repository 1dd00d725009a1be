#include "storage/sqlite/announce_store.h"

namespace despatch::storage {

namespace {

constexpr const char* kChannelColumns = "handle, room_id, name, summary, min_power, created_by, created_ts";
constexpr const char* kPostColumns =
    "id, handle, event_id, sender, body, media, media_type, published_ts, updated_ts, withdrawn_ts";

ChannelRow channel_from(const Row& r) {
  return ChannelRow{r.str(0), r.str(1), r.str(2), r.str(3), r.i64(4), r.str(5), r.i64(6)};
}

PostRow post_from(const Row& r) {
  return PostRow{r.i64(0), r.str(1), r.str(2), r.str(3), r.str(4), r.str(5), r.str(6), r.i64(7), r.i64(8), r.i64(9)};
}

Result<std::optional<ChannelRow>> one_channel(Conn& c, const char* where, const std::string& key) {
  DS_ASSIGN(auto row, query_one(c, std::string("SELECT ") + kChannelColumns + " FROM announce_channels WHERE " + where,
                                {key}));
  if (!row) return std::optional<ChannelRow>{};
  return std::optional<ChannelRow>(channel_from(*row));
}

Result<int64_t> count(Conn& c, const std::string& sql, const std::string& key) {
  DS_ASSIGN(auto row, query_one(c, sql, {key}));
  return row ? row->i64(0) : 0;
}

}  // namespace

Status SqliteAnnounceStore::add_channel(const ChannelRow& c) {
  return c_.exec("INSERT INTO announce_channels(handle, room_id, name, summary, min_power, created_by, created_ts) "
                 "VALUES(?,?,?,?,?,?,?)",
                 {c.handle, c.room_id, c.name, c.summary, c.min_power, c.created_by, c.created_ts});
}

Result<std::optional<ChannelRow>> SqliteAnnounceStore::channel(const std::string& handle) {
  return one_channel(c_, "handle=?", handle);
}

Result<std::optional<ChannelRow>> SqliteAnnounceStore::channel_of_room(const std::string& room_id) {
  return one_channel(c_, "room_id=?", room_id);
}

Result<std::vector<ChannelRow>> SqliteAnnounceStore::channels() {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kChannelColumns + " FROM announce_channels ORDER BY handle"));
  std::vector<ChannelRow> out;
  for (auto& r : rows) out.push_back(channel_from(r));
  return out;
}

Result<bool> SqliteAnnounceStore::remove_channel(const std::string& handle) {
  DS_TRY(c_.exec("DELETE FROM announce_channels WHERE handle=?", {handle}));
  bool removed = c_.changes() > 0;
  DS_TRY(c_.exec("DELETE FROM announce_followers WHERE handle=?", {handle}));
  DS_TRY(c_.exec("DELETE FROM announce_posts WHERE handle=?", {handle}));
  DS_TRY(c_.exec("DELETE FROM announce_deliveries WHERE handle=?", {handle}));
  return removed;
}

Status SqliteAnnounceStore::put_follower(const FollowerRow& f) {
  return c_.exec("INSERT INTO announce_followers(handle, actor, inbox, follow_id, followed_ts) VALUES(?,?,?,?,?) "
                 "ON CONFLICT(handle, actor) DO UPDATE SET inbox=excluded.inbox, follow_id=excluded.follow_id",
                 {f.handle, f.actor, f.inbox, f.follow_id, f.followed_ts});
}

Result<bool> SqliteAnnounceStore::remove_follower(const std::string& handle, const std::string& actor) {
  DS_TRY(c_.exec("DELETE FROM announce_followers WHERE handle=? AND actor=?", {handle, actor}));
  return c_.changes() > 0;
}

Result<std::vector<FollowerRow>> SqliteAnnounceStore::followers(const std::string& handle) {
  DS_ASSIGN(auto rows, c_.query("SELECT handle, actor, inbox, follow_id, followed_ts FROM announce_followers "
                                "WHERE handle=? ORDER BY followed_ts, actor",
                                {handle}));
  std::vector<FollowerRow> out;
  for (auto& r : rows) out.push_back(FollowerRow{r.str(0), r.str(1), r.str(2), r.str(3), r.i64(4)});
  return out;
}

Result<int64_t> SqliteAnnounceStore::follower_count(const std::string& handle) {
  return count(c_, "SELECT COUNT(*) FROM announce_followers WHERE handle=?", handle);
}

Result<int64_t> SqliteAnnounceStore::add_post(const PostRow& p) {
  DS_ASSIGN(auto row, query_one(c_, "INSERT INTO announce_posts(handle, event_id, sender, body, media, media_type, "
                                    "published_ts) VALUES(?,?,?,?,?,?,?) RETURNING id",
                                {p.handle, p.event_id, p.sender, p.body, p.media, p.media_type, p.published_ts}));
  if (!row) return Error::internal("announce_posts: no id returned");
  return row->i64(0);
}

Result<std::optional<PostRow>> SqliteAnnounceStore::post(const std::string& handle, int64_t id) {
  DS_ASSIGN(auto row, query_one(c_, std::string("SELECT ") + kPostColumns + " FROM announce_posts WHERE handle=? AND id=?",
                                {handle, id}));
  if (!row) return std::optional<PostRow>{};
  return std::optional<PostRow>(post_from(*row));
}

Result<std::optional<PostRow>> SqliteAnnounceStore::post_of_event(const std::string& event_id) {
  DS_ASSIGN(auto row, query_one(c_, std::string("SELECT ") + kPostColumns + " FROM announce_posts WHERE event_id=?",
                                {event_id}));
  if (!row) return std::optional<PostRow>{};
  return std::optional<PostRow>(post_from(*row));
}

Status SqliteAnnounceStore::update_post(int64_t id, const std::string& body, int64_t updated_ts) {
  return c_.exec("UPDATE announce_posts SET body=?, updated_ts=? WHERE id=?", {body, updated_ts, id});
}

Status SqliteAnnounceStore::withdraw_post(int64_t id, int64_t withdrawn_ts) {
  return c_.exec("UPDATE announce_posts SET withdrawn_ts=? WHERE id=?", {withdrawn_ts, id});
}

Result<std::vector<PostRow>> SqliteAnnounceStore::posts(const std::string& handle, int64_t before, int limit) {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kPostColumns +
                                    " FROM announce_posts WHERE handle=? AND withdrawn_ts=0 AND id<? "
                                    "ORDER BY id DESC LIMIT ?",
                                {handle, before > 0 ? before : INT64_MAX, static_cast<int64_t>(limit)}));
  std::vector<PostRow> out;
  for (auto& r : rows) out.push_back(post_from(r));
  return out;
}

Result<int64_t> SqliteAnnounceStore::post_count(const std::string& handle) {
  return count(c_, "SELECT COUNT(*) FROM announce_posts WHERE handle=? AND withdrawn_ts=0", handle);
}

Status SqliteAnnounceStore::enqueue_delivery(const DeliveryRow& d) {
  return c_.exec("INSERT INTO announce_deliveries(handle, inbox, activity, attempts, next_ts, last_error) "
                 "VALUES(?,?,?,?,?,?)",
                 {d.handle, d.inbox, d.activity, d.attempts, d.next_ts, d.last_error});
}

Result<std::vector<DeliveryRow>> SqliteAnnounceStore::due_deliveries(int64_t now, int limit) {
  DS_ASSIGN(auto rows, c_.query("SELECT id, handle, inbox, activity, attempts, next_ts, last_error "
                                "FROM announce_deliveries WHERE next_ts<=? ORDER BY id LIMIT ?",
                                {now, static_cast<int64_t>(limit)}));
  std::vector<DeliveryRow> out;
  for (auto& r : rows)
    out.push_back(DeliveryRow{r.i64(0), r.str(1), r.str(2), r.str(3), r.i64(4), r.i64(5), r.str(6)});
  return out;
}

Result<std::optional<int64_t>> SqliteAnnounceStore::next_delivery_ts() {
  DS_ASSIGN(auto row, query_one(c_, "SELECT MIN(next_ts) FROM announce_deliveries"));
  if (!row || row->is_null(0)) return std::optional<int64_t>{};
  return std::optional<int64_t>(row->i64(0));
}

Status SqliteAnnounceStore::reschedule_delivery(int64_t id, int64_t attempts, int64_t next_ts,
                                                const std::string& error) {
  return c_.exec("UPDATE announce_deliveries SET attempts=?, next_ts=?, last_error=? WHERE id=?",
                 {attempts, next_ts, error, id});
}

Status SqliteAnnounceStore::remove_delivery(int64_t id) {
  return c_.exec("DELETE FROM announce_deliveries WHERE id=?", {id});
}

Result<int64_t> SqliteAnnounceStore::delivery_backlog() {
  DS_ASSIGN(auto row, query_one(c_, "SELECT COUNT(*) FROM announce_deliveries"));
  return row ? row->i64(0) : 0;
}

Result<std::optional<std::pair<std::string, std::string>>> SqliteAnnounceStore::key(const std::string& name) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT private_pem, public_pem FROM announce_keys WHERE name=?", {name}));
  if (!row) return std::optional<std::pair<std::string, std::string>>{};
  return std::optional<std::pair<std::string, std::string>>(std::pair{row->str(0), row->str(1)});
}

Status SqliteAnnounceStore::put_key(const std::string& name, const std::string& private_pem,
                                    const std::string& public_pem) {
  return c_.exec("INSERT INTO announce_keys(name, private_pem, public_pem) VALUES(?,?,?)",
                 {name, private_pem, public_pem});
}

}  // namespace despatch::storage
