// The public web of announcement channels, served on the client listener without any
// Matrix authentication: WebFinger, NodeInfo, the ActivityPub actors, inboxes, outboxes and
// notes, the Atom feeds and HTML pages, and the pictures of published posts.
#pragma once

#include "http/router.h"
#include "service/announce/announcements.h"

namespace despatch::api {

void add_activitypub_routes(http::Router& r, Announcements& announce);  // activitypub.cpp
void add_feed_routes(http::Router& r, Announcements& announce);         // feeds.cpp: Atom, HTML, pictures

}  // namespace despatch::api
