#include "service/media/media_admin.h"

#include "service/records/audit.h"
#include "storage/media_store.h"

namespace despatch {

namespace asio = boost::asio;

Result<json::object> MediaAdmin::uploads_of(const std::string& user, int64_t from, int64_t limit) {
  storage::Stores& s = db_.read();
  DS_ASSIGN(auto rows, s.media().uploads_of(user, from, limit));
  DS_ASSIGN(int64_t total, s.media().upload_count(user));
  json::array media;
  for (auto& m : rows)
    media.push_back(json::object{{"media_id", m.media_id},
                                 {"media_type", m.content_type},
                                 {"media_length", m.size},
                                 {"upload_name", m.upload_name.empty() ? json::value(nullptr) : json::value(m.upload_name)},
                                 {"created_ts", m.created_ts},
                                 {"last_access_ts", nullptr},
                                 {"quarantined_by", m.quarantined ? json::value("quarantined") : json::value(nullptr)},
                                 {"safe_from_quarantine", false}});
  int64_t n = static_cast<int64_t>(rows.size());
  json::object out{{"media", std::move(media)}, {"total", total}};
  if (from + n < total) out["next_token"] = from + n;
  return out;
}

asio::awaitable<Status> MediaAdmin::set_quarantined(std::string server_name, std::string media_id, bool quarantined,
                                                    std::string actor) {
  auto job = [=](storage::Txn& t) -> Status {
    DS_ASSIGN(auto m, t.media().media(server_name, media_id));
    if (!m) return Error::not_found("Unknown media");
    if (quarantined) DS_TRY(t.media().set_quarantined(server_name, media_id));
    else DS_TRY(t.media().clear_quarantined(server_name, media_id));
    json::object details{{"server_name", server_name}, {"media_id", media_id}};
    DS_TRY(audit_append(t, actor, quarantined ? "media.quarantine" : "media.unquarantine", "", details));
    return ok_status();
  };
  co_return co_await db_.transact<Ok>(job);
}

}  // namespace despatch
