// Routes of an admin queue of things to review (user reports, suspicious-activity alerts):
// GET PATH lists them newest first (?include_acknowledged=true&limit=&before=), and
// POST PATH/{id}/acknowledge {"note": "..."} closes one with a note. The service audits both.
#pragma once

#include "api/admin/routes.h"
#include "api/client/util.h"

#include <string>

namespace despatch::api {

// Queue has list(include_acknowledged, before, limit) -> Result<json::object> and
// acknowledge(admin, id, note) -> awaitable<Status>; `noun` names one item in errors.
template <class Queue>
void add_review_queue_routes(http::Router& r, const std::string& path, const std::string& noun,
                             size_t max_note_bytes, Queue* queue) {
  const std::string prefix = "/_despatch/admin/v1" + path;
  r.add({"GET", prefix, Auth::kAdmin, RateClass::kNone, http::Body::kJson, [queue](Request& req) -> Awaitable {
           auto* all = req.query_param("include_acknowledged");
           if (all && *all != "true" && *all != "false")
             co_return Error::invalid_param("include_acknowledged is true or false");
           DS_CO_ASSIGN(auto limit, query_int(req, "limit", 1, 1000));
           DS_CO_ASSIGN(auto before, query_int(req, "before", 1, INT64_MAX));
           DS_CO_ASSIGN(json::object out, queue->list(all && *all == "true", before.value_or(0), limit.value_or(100)));
           co_return out;
         }});
  r.add({"POST", prefix + "/{id}/acknowledge", Auth::kAdmin, RateClass::kNone, http::Body::kJson,
         [queue, noun, max_note_bytes](Request& req) -> Awaitable {
           const std::string& id = req.param(0);
           if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string::npos)
             co_return Error::not_found("No " + noun + " with that ID");
           DS_CO_ASSIGN(std::string note, req_string(req.body_object(), "note"));
           if (note.empty()) co_return Error::missing_param("note says what was done about the " + noun);
           if (note.size() > max_note_bytes) co_return Error::invalid_param("The note is too long");
           DS_CO_TRY(co_await queue->acknowledge(req.who().user_id, std::stoll(id), std::move(note)));
           co_return empty_reply();
         }});
}

}  // namespace despatch::api
