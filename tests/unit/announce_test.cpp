// Announcement channels: the store against a real SQLite database (channels, followers,
// posts paged newest first, the delivery queue and its schedule), the channel rules shared
// by the command line and the admin API, and the public documents built from them.
#include "service/announce/announcements.h"
#include "service/announce/documents.h"
#include "core/web_transport.h"
#include "storage/room_store.h"

#include "store_fixture.h"

namespace despatch {
namespace {

using test::StoreTest;

class AnnounceStoreTest : public StoreTest {};

TEST_F(AnnounceStoreTest, ChannelsFollowersPostsAndQueue) {
  write([](storage::Txn& t) -> Status {
    DS_TRY(t.announce().add_channel({"news", "!r:dept", "News", "", 50, "@a:dept", 1}));
    DS_TRY(t.announce().put_follower({"news", "https://m.example/users/x", "https://m.example/inbox", "f1", 2}));
    DS_TRY(t.announce().put_follower({"news", "https://m.example/users/x", "https://m.example/inbox2", "f2", 3}));
    for (int i = 0; i < 5; ++i) {
      storage::PostRow p{0, "news", "$e" + std::to_string(i), "@a:dept", "post " + std::to_string(i), "", "", 10 + i, 0, 0};
      DS_TRY(t.announce().add_post(p));
    }
    DS_TRY(t.announce().enqueue_delivery({0, "news", "https://m.example/inbox", "{}", 0, 100, ""}));
    return t.announce().enqueue_delivery({0, "news", "https://n.example/inbox", "{}", 0, 200, ""});
  });
  auto& s = read().announce();
  EXPECT_EQ((*s.channel_of_room("!r:dept"))->handle, "news");
  EXPECT_EQ(*s.follower_count("news"), 1);  // a second Follow replaces the first
  EXPECT_EQ((*s.followers("news"))[0].inbox, "https://m.example/inbox2");
  auto page = *s.posts("news", 0, 2);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].body, "post 4");
  auto older = *s.posts("news", page[1].id, 10);
  ASSERT_EQ(older.size(), 3u);
  EXPECT_EQ(older.back().body, "post 0");
  int64_t first = (*s.post_of_event("$e0"))->id;
  write([first](storage::Txn& t) { return t.announce().withdraw_post(first, 99); });
  EXPECT_EQ(*read().announce().post_count("news"), 4);
  EXPECT_EQ((*read().announce().due_deliveries(150, 10)).size(), 1u);
  EXPECT_EQ(**read().announce().next_delivery_ts(), 100);
  write([](storage::Txn& t) -> Status {
    auto due = t.announce().due_deliveries(150, 10);
    return t.announce().reschedule_delivery((*due)[0].id, 1, 500, "answered 503");
  });
  EXPECT_EQ(**read().announce().next_delivery_ts(), 200);
  write([](storage::Txn& t) { return t.announce().remove_channel("news").ok() ? ok_status() : Error::internal("x"); });
  EXPECT_EQ(*read().announce().delivery_backlog(), 0);
  EXPECT_EQ(*read().announce().follower_count("news"), 0);
}

TEST_F(AnnounceStoreTest, ChannelRules) {
  write([](storage::Txn& t) { return t.rooms().create({"!room:dept", "11", "@a:dept", false, 1, "group"}); });
  auto make = [this](ChannelRequest req) {
    return db_->transact_blocking<storage::ChannelRow>([&](storage::Txn& t) { return create_channel(t, req, "@a:dept", 5); });
  };
  EXPECT_EQ(make({"!room:dept", "Bad Handle", "News", "", 50}).error().errcode, errc::kInvalidParam);
  EXPECT_EQ(make({"!room:dept", "news", "", "", 50}).error().errcode, errc::kInvalidParam);
  EXPECT_EQ(make({"!nowhere:dept", "news", "News", "", 50}).error().errcode, errc::kNotFound);
  EXPECT_EQ(make({"#nothing:dept", "news", "News", "", 50}).error().errcode, errc::kNotFound);
  EXPECT_EQ(make({"not a room", "news", "News", "", 50}).error().errcode, errc::kInvalidParam);
  ASSERT_TRUE(make({"!room:dept", "news", "News", "", 50}).ok());
  EXPECT_EQ(make({"!room:dept", "other", "News", "", 50}).error().errcode, errc::kRoomInUse);
  EXPECT_EQ(make({"!room:dept", "news", "News", "", 50}).error().errcode, errc::kExclusive);
  auto removed = db_->transact_blocking<bool>([](storage::Txn& t) { return remove_channel(t, "news", "@a:dept"); });
  EXPECT_TRUE(removed.ok() && *removed);
  auto again = db_->transact_blocking<bool>([](storage::Txn& t) { return remove_channel(t, "news", "@a:dept"); });
  EXPECT_TRUE(again.ok() && !*again);
}

TEST(AnnounceDocuments, TextIsEscapedAndNothingPrivateLeaks) {
  EXPECT_EQ(announce::post_html("a <b> & c\nnext\n\nnew para"), "<p>a &lt;b&gt; &amp; c<br>next</p><p>new para</p>");
  announce::Urls u{"https://dept.example", "dept.example"};
  storage::ChannelRow c{"news", "!secret:dept", "News", "", 50, "@admin:dept", 0};
  storage::PostRow p{7, "news", "$ev", "@alice:dept", "Hello", "", "", 1000, 0, 0};
  std::string note = json::serialize(announce::create_activity(u, p, false));
  EXPECT_EQ(note.find("@alice"), std::string::npos);
  EXPECT_EQ(note.find("$ev"), std::string::npos);
  EXPECT_NE(json::serialize(announce::create_activity(u, p, true)).find("@alice:dept"), std::string::npos);
  std::string actor = json::serialize(announce::actor_document(u, c, "PEM"));
  EXPECT_EQ(actor.find("!secret"), std::string::npos);
  EXPECT_EQ(actor.find("@admin"), std::string::npos);
  auto wf = announce::webfinger(u, c);
  EXPECT_EQ(std::string(wf.at("subject").as_string()), "acct:news@dept.example");
  std::string feed = announce::atom_feed(u, c, {p}, false);
  EXPECT_NE(feed.find("<id>https://dept.example/ap/users/news/posts/7</id>"), std::string::npos);
  EXPECT_EQ(announce::iso_time(1000), "1970-01-01T00:00:01Z");
}

TEST(WebUrl, Parses) {
  auto u = parse_web_url("https://m.example:8443/users/a?x=1#k");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "m.example");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/users/a?x=1");
  EXPECT_EQ(u->host_header(), "m.example:8443");
  EXPECT_EQ(parse_web_url("http://127.0.0.1")->target, "/");
  EXPECT_EQ(parse_web_url("https://[::1]:9/x")->host, "::1");
  EXPECT_FALSE(parse_web_url("ftp://x/").ok());
  EXPECT_FALSE(parse_web_url("https://user@x/").ok());
  EXPECT_FALSE(parse_web_url("https://x:99999/").ok());
  EXPECT_FALSE(parse_web_url("/relative").ok());
}

}  // namespace
}  // namespace despatch
