"""Client-Server API details that conformance suites and older clients check, over raw HTTP
against a real server: the deprecated event stream and initial syncs (old_sync.yaml,
room_initial_sync.yaml), the /pushrules paths that name no rule, /admin/whois and
/thirdparty/protocols, the transaction-less POST /send, idempotent state and joins, kicks
of banned users, registration's user-interactive auth session, joined_members fields, the
room summary without the records keeper, and the unstable cross-signing alias.
"""

import unittest
import uuid

from harness import ApiUser, SharedServer, q

PASSWORD = "conformance password"


class ConformanceTests(SharedServer, unittest.TestCase):
    def user(self, prefix):
        return ApiUser(self.server, prefix, PASSWORD)

    def room(self, owner, **body):
        return owner.ok("POST", "/createRoom", body)["room_id"]

    # ---- /events and /initialSync ------------------------------------------------------

    def test_event_stream_pages_in_order_and_carries_account_data(self):
        alice = self.user("alice")
        room = self.room(alice)
        start = alice.ok("GET", "/events?timeout=0")
        self.assertIn("start", start)
        token = start["end"]
        sent = [alice.send(room, "m%d" % i) for i in range(7)]
        alice.ok("PUT", "/user/%s/rooms/%s/tags/work" % (q(alice.user_id), q(room)), {"order": 0.5})
        seen, tags = [], []
        for _ in range(10):
            page = alice.ok("GET", "/events?timeout=0&limit=3&from=%s" % q(token))
            self.assertLessEqual(len([e for e in page["chunk"] if "event_id" in e]), 3)
            self.assertEqual(page["start"], token)
            token = page["end"]
            for ev in page["chunk"]:
                if ev["type"] == "m.room.message":
                    self.assertEqual(ev["room_id"], room)
                    seen.append(ev["event_id"])
                if ev["type"] == "m.tag":
                    tags.append(ev)
            if not page["chunk"]:
                break
        self.assertEqual(seen, sent, "every message once, oldest first, across pages")
        self.assertEqual([t["room_id"] for t in tags], [room])
        self.assertIn("work", tags[0]["content"]["tags"])
        st, body = alice.http("GET", "/events?from=nonsense")
        self.assertEqual((st, body.get("errcode")), (400, "M_INVALID_PARAM"))

    def test_event_stream_of_a_world_readable_room_for_a_non_member(self):
        alice, bob = self.user("alice"), self.user("bob")
        room = self.room(alice, preset="public_chat")
        token = bob.ok("GET", "/events?timeout=0")["end"]
        st, _ = bob.http("GET", "/events?timeout=0&room_id=%s&from=%s" % (q(room), q(token)))
        self.assertEqual(st, 403, "shared history is not readable without joining")
        alice.state(room, "m.room.history_visibility", {"history_visibility": "world_readable"})
        event_id = alice.send(room, "for everyone")
        page = bob.ok("GET", "/events?timeout=0&room_id=%s&from=%s" % (q(room), q(token)))
        self.assertIn(event_id, [e.get("event_id") for e in page["chunk"]])

    def test_initial_sync_lists_joined_and_left_rooms(self):
        alice, bob = self.user("alice"), self.user("bob")
        kept = self.room(alice, name="kept")
        left = self.room(alice, preset="public_chat")
        bob.ok("POST", "/join/%s" % q(left), {})
        alice.state(left, "madeup.test.state", {"body": "before leaving"})
        bob.send(left, "last words")
        bob.ok("POST", "/rooms/%s/leave" % q(left), {})
        alice.send(left, "after bob left")
        message = alice.send(kept, "hello")
        alice.ok("POST", "/rooms/%s/receipt/m.read/%s" % (q(kept), q(message)), {})

        body = alice.ok("GET", "/initialSync?limit=1")
        self.assertIn("end", body)
        rooms = {r["room_id"]: r for r in body["rooms"]}
        self.assertEqual(rooms[kept]["membership"], "join")
        self.assertEqual([e["event_id"] for e in rooms[kept]["messages"]["chunk"]], [message])
        self.assertIn("m.room.name", [e["type"] for e in rooms[kept]["state"]])
        receipts = [r for r in body["receipts"] if r["room_id"] == kept]
        self.assertIn(alice.user_id, receipts[0]["content"][message]["m.read"])

        self.assertNotIn(left, [r["room_id"] for r in bob.ok("GET", "/initialSync")["rooms"]])
        archived = {r["room_id"]: r for r in bob.ok("GET", "/initialSync?limit=2&archived=true")["rooms"]}
        self.assertEqual(archived[left]["membership"], "leave")
        bodies = [e["content"].get("body") for e in archived[left]["messages"]["chunk"]]
        self.assertNotIn("after bob left", bodies, "a former member sees the room as they left it")
        state = [e for e in archived[left]["state"] if e["type"] == "madeup.test.state"]
        self.assertEqual(state[0]["content"]["body"], "before leaving")
        alice.state(left, "madeup.test.state", {"body": "after bob left"})
        archived = {r["room_id"]: r for r in bob.ok("GET", "/initialSync?archived=true")["rooms"]}
        state = [e for e in archived[left]["state"] if e["type"] == "madeup.test.state"]
        self.assertEqual(state[0]["content"]["body"], "before leaving", "state as it was at the leave")
        st, body = bob.http("GET", "/initialSync?archived=maybe")
        self.assertEqual(st, 400)

    def test_room_initial_sync(self):
        alice, bob = self.user("alice"), self.user("bob")
        room = self.room(alice)
        alice.send(room, "one")
        body = alice.ok("GET", "/rooms/%s/initialSync?limit=5" % q(room))
        for key in ("room_id", "membership", "state", "messages", "presence", "account_data"):
            self.assertIn(key, body)
        self.assertEqual(body["membership"], "join")
        self.assertEqual(body["visibility"], "private", "not in the room directory")
        for key in ("chunk", "start", "end"):
            self.assertIn(key, body["messages"])
        mine = [e for e in body["state"] if e["type"] == "m.room.member" and e["state_key"] == alice.user_id]
        self.assertEqual(mine[0]["user_id"], alice.user_id, "the first API's events name their sender user_id")
        presence = {p["content"]["user_id"]: p["content"] for p in body["presence"]}
        self.assertEqual(presence[alice.user_id]["presence"], "online", "an initial sync is a sync")
        st, _ = bob.http("GET", "/rooms/%s/initialSync" % q(room))
        self.assertEqual(st, 403, "a private room is not for non-members")
        alice.state(room, "m.room.history_visibility", {"history_visibility": "world_readable"})
        alice.send(room, "two")
        peek = bob.ok("GET", "/rooms/%s/initialSync" % q(room))
        bodies = [e["content"].get("body") for e in peek["messages"]["chunk"]]
        self.assertIn("two", bodies)
        self.assertNotIn("one", bodies, "sent while the history was shared with members only")

    # ---- /pushrules paths --------------------------------------------------------------

    def test_push_rule_paths(self):
        alice = self.user("alice")
        alice.ok("PUT", "/pushrules/global/room/%s" % q("!spam:example.com"), {"actions": ["dont_notify"]})
        rules = alice.ok("GET", "/pushrules/global/room/")
        self.assertIsInstance(rules, list)
        self.assertIn("!spam:example.com", [r["rule_id"] for r in rules])
        self.assertEqual(alice.http("GET", "/pushrules")[0], 404, "the spec's path ends with a slash")
        for method, path in [("PUT", "/pushrules/"), ("PUT", "/pushrules/global"), ("GET", "/pushrules/global"),
                             ("PUT", "/pushrules/global/room"), ("GET", "/pushrules/global/room"),
                             ("PUT", "/pushrules/global/room/"), ("GET", "/pushrules/global/nokind/"),
                             ("GET", "/pushrules/elsewhere/"),
                             ("PUT", "/pushrules/elsewhere/room/%s" % q("#a:example.com")),
                             ("GET", "/pushrules/global/override/.m.rule.master/colour"),
                             ("PUT", "/pushrules/global/override/.m.rule.master/colour")]:
            st, body = alice.http(method, path, {"actions": ["notify"]})
            self.assertEqual((st, body.get("errcode")), (400, "M_INVALID_PARAM"), (method, path, body))
        self.assertEqual(alice.http("GET", "/pushrules/global/override/no_such_rule")[0], 404)

    # ---- administration and third parties -----------------------------------------------

    def test_whois_and_thirdparty_protocols(self):
        alice, bob = self.user("alice"), self.user("bob")
        body = alice.ok("GET", "/admin/whois/%s" % q(alice.user_id))
        self.assertEqual(body["user_id"], alice.user_id)
        session = body["devices"][alice.device_id]["sessions"][0]
        self.assertTrue(session["connections"], "this very request was a connection")
        for key in ("ip", "last_seen", "user_agent"):
            self.assertIn(key, session["connections"][0])
        st, body = bob.http("GET", "/admin/whois/%s" % q(alice.user_id))
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"))
        self.assertEqual(alice.ok("GET", "/thirdparty/protocols"), {})

    # ---- sending, state and membership --------------------------------------------------

    def test_post_send_makes_a_new_event_each_time(self):
        alice = self.user("alice")
        room = self.room(alice)
        path = "/rooms/%s/send/m.room.message" % q(room)
        first = alice.ok("POST", path, {"msgtype": "m.text", "body": "x"})["event_id"]
        second = alice.ok("POST", path, {"msgtype": "m.text", "body": "x"})["event_id"]
        self.assertNotEqual(first, second)

    def test_same_state_twice_and_joining_twice_make_no_new_event(self):
        alice, bob = self.user("alice"), self.user("bob")
        room = self.room(alice, preset="public_chat")
        first = alice.state(room, "m.room.topic", {"topic": "same"})["event_id"]
        self.assertEqual(alice.state(room, "m.room.topic", {"topic": "same"})["event_id"], first)
        self.assertNotEqual(alice.state(room, "m.room.topic", {"topic": "other"})["event_id"], first)
        bob.ok("POST", "/join/%s" % q(room), {})
        since = bob.sync()["next_batch"]
        bob.ok("POST", "/join/%s" % q(room), {})
        timeline = bob.sync(since=since).get("rooms", {}).get("join", {}).get(room, {}).get("timeline", {})
        members = [e for e in timeline.get("events", []) if e["type"] == "m.room.member"]
        self.assertEqual(members, [], "joining again made a member event")

    def test_kicking_a_banned_user_is_refused(self):
        alice, bob = self.user("alice"), self.user("bob")
        room = self.room(alice, preset="public_chat")
        bob.ok("POST", "/join/%s" % q(room), {})
        alice.ok("POST", "/rooms/%s/ban" % q(room), {"user_id": bob.user_id})
        st, body = alice.http("POST", "/rooms/%s/kick" % q(room), {"user_id": bob.user_id})
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"))
        member = alice.ok("GET", "/rooms/%s/state/m.room.member/%s" % (q(room), q(bob.user_id)))
        self.assertEqual(member["membership"], "ban")
        self.assertEqual(bob.http("POST", "/join/%s" % q(room), {})[0], 403)

    def test_joined_members_always_has_both_fields(self):
        alice = self.user("alice")
        room = self.room(alice)
        joined = alice.ok("GET", "/rooms/%s/joined_members" % q(room))["joined"]
        self.assertIn("avatar_url", joined[alice.user_id])
        self.assertIsNone(joined[alice.user_id]["avatar_url"])
        self.assertIn("display_name", joined[alice.user_id])

    # ---- registration's auth session -------------------------------------------------------

    def register(self, body):
        return self.server.http("POST", "/_matrix/client/v3/register", body)

    def test_registration_session_remembers_and_repeats(self):
        localpart = "reg" + uuid.uuid4().hex[:8]
        st, challenge = self.register({"username": localpart, "password": PASSWORD, "device_id": "XYZZY",
                                       "initial_device_display_name": "phone"})
        self.assertEqual(st, 401, challenge)
        self.assertEqual(challenge["completed"], [])
        auth = {"type": "m.login.dummy", "session": challenge["session"]}
        st, made = self.register({"auth": auth})
        self.assertEqual(st, 200, made)
        self.assertEqual(made["user_id"], "@%s:localhost" % localpart)
        self.assertEqual(made["device_id"], "XYZZY")
        st, again = self.register({"auth": auth})
        self.assertEqual(st, 200, again)
        self.assertEqual(again["user_id"], made["user_id"], "a retry returns the same account")
        st, body = self.register({"username": localpart, "password": PASSWORD, "auth": {"type": "m.login.dummy"}})
        self.assertEqual((st, body.get("errcode")), (400, "M_USER_IN_USE"), "outside the session it is taken")

    def test_uia_challenge_lists_completed_stages(self):
        alice = self.user("alice")
        st, body = alice.http("POST", "/account/deactivate", {})
        self.assertEqual(st, 401)
        self.assertEqual(body["completed"], [])

    # ---- room summary ----------------------------------------------------------------------

    def test_summary_leaves_out_the_records_keeper(self):
        alice, bob = self.user("alice"), self.user("bob")
        room = self.room(alice, preset="public_chat")
        bob.ok("POST", "/join/%s" % q(room), {})
        summary = alice.sync()["rooms"]["join"][room]["summary"]
        self.assertEqual(summary["m.heroes"], [bob.user_id])
        self.assertEqual(summary["m.joined_member_count"], 2)
        alice.state(room, "m.room.name", {"name": "Named"})
        summary = alice.sync()["rooms"]["join"][room]["summary"]
        self.assertNotIn("m.heroes", summary, "a named room needs no heroes")

    def test_incremental_sync_brings_presence_of_newly_met_users(self):
        alice, bob, carol = self.user("alice"), self.user("bob"), self.user("carol")
        # Both set their presence before bob's token: only meeting them brings it to him.
        alice.ok("PUT", "/presence/%s/status" % q(alice.user_id), {"presence": "online", "status_msg": "here"})
        carol.ok("PUT", "/presence/%s/status" % q(carol.user_id), {"presence": "online"})
        room = self.room(alice, preset="public_chat")
        since = bob.sync()["next_batch"]
        bob.ok("POST", "/join/%s" % q(room), {})
        body = bob.sync(since=since)
        senders = [e["sender"] for e in body["presence"]["events"]]
        self.assertIn(alice.user_id, senders, "bob joined alice's room: he is owed her presence")
        since = body["next_batch"]
        carol.ok("POST", "/join/%s" % q(room), {})
        body = bob.sync(since=since)
        senders = [e["sender"] for e in body["presence"]["events"]]
        self.assertIn(carol.user_id, senders, "carol joined bob's room: he is owed her presence")
        self.assertNotIn(alice.user_id, senders, "alice's presence did not change and was sent already")
        self.assertNotIn("@records:localhost", senders, "the records keeper is no participant")
        since = body["next_batch"]
        dave = self.user("dave")  # never synced nor set a presence
        dave.ok("POST", "/join/%s" % q(room), {})
        events = [e for e in bob.sync(since=since)["presence"]["events"] if e["sender"] != bob.user_id]
        self.assertEqual([(e["sender"], e["content"]["presence"]) for e in events], [(dave.user_id, "offline")])

    def test_ignored_users_messages_and_invites_are_not_sent(self):
        alice, bob = self.user("alice"), self.user("bob")
        room = self.room(alice, preset="public_chat")
        bob.ok("POST", "/join/%s" % q(room), {})
        bob.ok("PUT", "/user/%s/account_data/m.ignored_user_list" % q(bob.user_id),
               {"ignored_users": {alice.user_id: {}}})
        hidden = alice.send(room, "ignored words")
        alice.state(room, "m.room.topic", {"topic": "still state"})
        private = self.room(alice, invite=[bob.user_id])
        body = bob.sync()
        timeline = body["rooms"]["join"][room]["timeline"]["events"]
        ids = [e["event_id"] for e in timeline]
        self.assertNotIn(hidden, ids, "a message of an ignored user")
        self.assertIn("m.room.topic", [e["type"] for e in timeline], "their state events still come")
        self.assertNotIn(private, body["rooms"]["invite"], "an invite of an ignored user")
        bob.ok("PUT", "/user/%s/account_data/m.ignored_user_list" % q(bob.user_id), {"ignored_users": {}})
        body = bob.sync()
        self.assertIn(private, body["rooms"]["invite"])

    # ---- discovery -------------------------------------------------------------------------

    def test_unstable_cross_signing_is_advertised_and_answers(self):
        alice = self.user("alice")
        st, versions = self.server.http("GET", "/_matrix/client/versions")
        self.assertTrue(versions["unstable_features"].get("org.matrix.e2e_cross_signing"))
        st, body = self.server.http("POST", "/_matrix/client/unstable/keys/device_signing/upload",
                                    {"master_key": "not an object"}, token=alice.token)
        self.assertEqual(st, 400, body)


if __name__ == "__main__":
    unittest.main()
