"""Regression tests for the defects found by probing a running server (hardening issue):
bytes that are not UTF-8 in path parameters, numbers JSON cannot carry, unbounded directory
searches, /context leaking state, events over the spec's limits made by other endpoints than
/send, and error bodies that were not valid JSON.

Each test first does the harmful thing, then checks the room, the sender and the recipient
are still served: the old server answered the request and then failed every later /sync.
"""

import json
import unittest
import uuid

from harness import ApiUser, SharedServer, http_request, q

V3 = "/_matrix/client/v3"
PASSWORD = "probe defects password"


class ProbeDefectTests(SharedServer, unittest.TestCase):
    def user(self, prefix):
        return ApiUser(self.server, prefix, PASSWORD)

    def raw(self, user, method, path, body=None):
        """(status, parsed JSON, raw bytes) for a path sent exactly as written."""
        st, parsed, raw, _ = http_request(self.server.host, self.server.port, method, V3 + path,
                                          body=body, token=user.token, raw_response=True)
        return st, parsed, raw

    def assertRefused(self, resp, status, errcode, what):
        st, parsed, raw = resp
        with self.subTest(what):
            # The body must be valid UTF-8 JSON even though the path was not UTF-8.
            body = json.loads(raw.decode("utf-8"))
            self.assertEqual((st, body.get("errcode")), (status, errcode), "%s: %s %r" % (what, st, raw[:300]))
            self.assertIsInstance(body.get("error"), str)

    def assertRoomStillServed(self, room, *users):
        for u in users:
            sync = u.sync()
            self.assertIn(room, sync["rooms"]["join"], "%s lost the room" % u.user_id)
            u.ok("GET", "/rooms/%s/messages?dir=b&limit=50" % q(room))
            u.ok("GET", "/rooms/%s/state" % q(room))
            u.ok("GET", "/rooms/%s/members" % q(room))

    def shared_room(self):
        alice, bob = self.user("alice"), self.user("bob")
        room = alice.ok("POST", "/createRoom", {"preset": "private_chat", "invite": [bob.user_id]})["room_id"]
        bob.ok("POST", "/join/%s" % q(room), {})
        return alice, bob, room

    def test_invalid_utf8_in_room_paths_is_refused_and_the_room_keeps_working(self):
        alice, bob, room = self.shared_room()
        r = q(room)
        cases = [
            ("PUT", "/rooms/%s/send/%%FF/t1" % r, {"body": "x"}, "event type"),
            ("PUT", "/rooms/%s/send/m.room.message/%%FF%%FE" % r, {"msgtype": "m.text", "body": "x"}, "txn ID"),
            ("PUT", "/rooms/%s/send/m.%%C0%%AF/t2" % r, {"body": "x"}, "overlong encoding"),
            ("PUT", "/rooms/%s/send/m.a%%00b/t3" % r, {"body": "x"}, "NUL in event type"),
            ("PUT", "/rooms/%s/send/m.a%%0Ab/t4" % r, {"body": "x"}, "newline in event type"),
            ("PUT", "/rooms/%s/state/%%FF/" % r, {"a": 1}, "state event type"),
            ("PUT", "/rooms/%s/state/m.room.topic/%%FF" % r, {"topic": "x"}, "state key"),
            ("PUT", "/rooms/%s/redact/%s/%%FF" % (r, q("$" + "A" * 43)), {}, "redaction txn ID"),
            ("GET", "/rooms/%s/messages?dir=b&filter=%%FF" % r, None, "query parameter"),
        ]
        for method, path, body, what in cases:
            self.assertRefused(self.raw(bob, method, path, body), 400, "M_INVALID_PARAM", what)
        self.assertRoomStillServed(room, alice, bob)

    def test_invalid_utf8_in_account_paths_is_refused_and_sync_keeps_working(self):
        alice, bob, room = self.shared_room()
        uid, r = q(bob.user_id), q(room)
        cases = [
            ("PUT", "/user/%s/account_data/%%FF" % uid, {"a": 1}, "account data type"),
            ("PUT", "/user/%s/rooms/%s/account_data/%%FF" % (uid, r), {"a": 1}, "room account data type"),
            ("PUT", "/user/%s/rooms/%s/tags/%%FF" % (uid, r), {"order": 0.5}, "tag"),
            ("PUT", "/sendToDevice/%%FF/t1", {"messages": {alice.user_id: {"*": {"a": 1}}}}, "to-device type"),
            ("PUT", "/sendToDevice/m.test/%%FF", {"messages": {alice.user_id: {"*": {"a": 1}}}}, "to-device txn"),
        ]
        for method, path, body, what in cases:
            self.assertRefused(self.raw(bob, method, path, body), 400, "M_INVALID_PARAM", what)
        self.assertRoomStillServed(room, alice, bob)

    def test_an_unknown_path_with_invalid_utf8_gets_a_json_error(self):
        alice = self.user("alice")
        st, parsed, raw = self.raw(alice, "GET", "/rooms/%FF%FE/state")
        body = json.loads(raw.decode("utf-8"))
        self.assertEqual(st, 400, raw)
        self.assertIn(body["errcode"], ("M_INVALID_PARAM",))

    def test_numbers_json_cannot_carry_are_refused_at_the_door(self):
        alice, bob, room = self.shared_room()
        uid, r = q(bob.user_id), q(room)
        for raw_body, what in [('{"order": 1e400}', "tag order overflowing to infinity"),
                               ('{"order": -1e400}', "negative infinity"),
                               ('{"order": 1e300}', "a finite fraction beyond 2^53"),
                               ('{"order": 9007199254740992}', "integer 2^53")]:
            resp = self.raw(bob, "PUT", "/user/%s/rooms/%s/tags/u.work" % (uid, r), raw_body)
            self.assertRefused(resp, 400, "M_BAD_JSON", what)
        resp = self.raw(bob, "PUT", "/user/%s/account_data/m.test.num" % uid, '{"x": [1, {"y": 1e999}]}')
        self.assertRefused(resp, 400, "M_BAD_JSON", "nested infinity in account data")
        # What the spec allows still works, and /sync still answers with it.
        bob.ok("PUT", "/user/%s/rooms/%s/tags/u.work" % (uid, r), {"order": 0.25})
        tags = bob.ok("GET", "/user/%s/rooms/%s/tags" % (uid, r))["tags"]
        self.assertEqual(tags, {"u.work": {"order": 0.25}})
        sync = bob.sync()
        room_data = sync["rooms"]["join"][room]["account_data"]["events"]
        self.assertIn({"type": "m.tag", "content": {"tags": {"u.work": {"order": 0.25}}}}, room_data)

    def test_directory_search_terms_are_bounded_and_database_text_never_shown(self):
        alice, bob, room = self.shared_room()
        for term, what in [("a" * 50000, "50,000 characters"), ("%_" * 25000, "wildcards repeated"),
                           ("x" * 257, "one byte over the limit")]:
            st, body = alice.http("POST", "/user_directory/search", {"search_term": term})
            with self.subTest(what):
                self.assertEqual((st, body.get("errcode")), (400, "M_INVALID_PARAM"), body)
                text = json.dumps(body)
                for leak in ("SELECT", "LIKE", "sqlite", "users u"):
                    self.assertNotIn(leak, text)
        # Wildcards within the bound are literal characters, not patterns matching everyone.
        res = alice.ok("POST", "/user_directory/search", {"search_term": "%_" * 128})
        self.assertEqual(res["results"], [])
        res = alice.ok("POST", "/user_directory/search", {"search_term": bob.localpart})
        self.assertEqual([u["user_id"] for u in res["results"]], [bob.user_id])

    def test_context_shows_a_departed_member_only_the_state_they_saw(self):
        alice, bob, room = self.shared_room()
        alice.state(room, "m.room.topic", {"topic": "before leaving"})
        msg = alice.send(room, "while bob was here")
        bob.ok("POST", "/rooms/%s/leave" % q(room), {})
        alice.state(room, "m.room.topic", {"topic": "after bob left"})
        alice.state(room, "m.room.name", {"name": "renamed after bob left"})
        alice.send(room, "after bob left")

        ctx = bob.ok("GET", "/rooms/%s/context/%s?limit=10" % (q(room), q(msg)))
        topics = [e["content"].get("topic") for e in ctx["state"] if e["type"] == "m.room.topic"]
        self.assertEqual(topics, ["before leaving"], ctx["state"])
        self.assertNotIn("m.room.name", [e["type"] for e in ctx["state"]])
        bodies = [e["content"].get("body") for e in ctx["events_after"]]
        self.assertNotIn("after bob left", bodies)
        # The same rule as /state.
        state = bob.ok("GET", "/rooms/%s/state" % q(room))
        self.assertEqual([e["content"]["topic"] for e in state if e["type"] == "m.room.topic"], ["before leaving"])

    def test_context_shows_an_invitee_no_state_from_before_the_invite(self):
        alice, carol = self.user("alice"), self.user("carol")
        room = alice.ok("POST", "/createRoom", {"preset": "private_chat"})["room_id"]
        alice.state(room, "m.room.history_visibility", {"history_visibility": "invited"})
        alice.state(room, "m.room.topic", {"topic": "secret topic before the invite"})
        alice.ok("POST", "/rooms/%s/invite" % q(room), {"user_id": carol.user_id})
        msg = alice.send(room, "after the invite")

        st, _ = carol.http("GET", "/rooms/%s/state" % q(room))
        self.assertEqual(st, 403)
        ctx = carol.ok("GET", "/rooms/%s/context/%s" % (q(room), q(msg)))
        self.assertEqual(ctx["event"]["event_id"], msg)
        leaked = [e for e in ctx["state"]
                  if not (e["type"] == "m.room.member" and e["state_key"] == carol.user_id)]
        self.assertEqual(leaked, [], "an invitee sees state from before the invite")
        self.assertIn(carol.user_id, [e["state_key"] for e in ctx["state"]])

    def test_lazy_members_in_messages_follow_the_departed_members_view(self):
        alice, bob, room = self.shared_room()
        alice.send(room, "hello")
        bob.ok("POST", "/rooms/%s/leave" % q(room), {})
        alice.ok("PUT", "/profile/%s/displayname" % q(alice.user_id), {"displayname": "Renamed Later"})
        flt = q(json.dumps({"lazy_load_members": True}))
        page = bob.ok("GET", "/rooms/%s/messages?dir=b&limit=20&filter=%s" % (q(room), flt))
        names = [e["content"].get("displayname") for e in page.get("state", [])
                 if e["state_key"] == alice.user_id]
        self.assertNotIn("Renamed Later", names)

    def test_every_path_that_makes_an_event_applies_the_size_and_schema_limits(self):
        alice, bob, room = self.shared_room()
        r = q(room)
        big = "x" * 70000
        before = alice.ok("GET", "/joined_rooms")["joined_rooms"]
        for body, status, errcode, what in [
            ({"topic": big}, 413, "M_TOO_LARGE", "createRoom topic"),
            ({"name": big}, 400, "M_BAD_JSON", "createRoom name"),
            ({"name": "n" * 256}, 400, "M_BAD_JSON", "createRoom name over 255 bytes"),
            ({"initial_state": [{"type": "m.room.topic", "state_key": "", "content": {"topic": 5}}]},
             400, "M_BAD_JSON", "createRoom non-string topic"),
            ({"initial_state": [{"type": "m.x", "state_key": "k" * 256, "content": {}}]},
             400, "M_INVALID_PARAM", "createRoom state key over 255 bytes"),
        ]:
            st, resp = alice.http("POST", "/createRoom", body)
            with self.subTest(what):
                self.assertEqual((st, resp.get("errcode")), (status, errcode), resp)
        self.assertEqual(sorted(alice.ok("GET", "/joined_rooms")["joined_rooms"]), sorted(before),
                         "a refused createRoom left a room behind")

        carol = self.user("carol")
        msg = alice.send(room, "to redact")
        for method, path, body, status, errcode, what in [
            ("PUT", "/rooms/%s/redact/%s/t1" % (r, q(msg)), {"reason": big}, 413, "M_TOO_LARGE", "redaction reason"),
            ("POST", "/rooms/%s/invite" % r, {"user_id": carol.user_id, "reason": big}, 413, "M_TOO_LARGE", "invite reason"),
            ("POST", "/rooms/%s/kick" % r, {"user_id": bob.user_id, "reason": big}, 413, "M_TOO_LARGE", "kick reason"),
            ("POST", "/rooms/%s/ban" % r, {"user_id": bob.user_id, "reason": big}, 413, "M_TOO_LARGE", "ban reason"),
            ("PUT", "/rooms/%s/state/m.room.topic/" % r, {"topic": 5}, 400, "M_BAD_JSON", "non-string topic"),
            ("PUT", "/rooms/%s/state/m.room.topic/" % r, {"topic": {"text": "x"}}, 400, "M_BAD_JSON", "object topic"),
            ("PUT", "/rooms/%s/state/m.room.name/" % r, {"name": ["x"]}, 400, "M_BAD_JSON", "non-string name"),
            ("PUT", "/rooms/%s/state/m.room.join_rules/" % r, {"join_rule": 1}, 400, "M_BAD_JSON", "non-string join rule"),
            ("PUT", "/rooms/%s/state/m.x/%s" % (r, "k" * 256), {}, 400, "M_INVALID_PARAM", "state key over 255 bytes"),
        ]:
            st, resp = alice.http(method, path, body)
            with self.subTest(what):
                self.assertEqual((st, resp.get("errcode")), (status, errcode), resp)
        # A join's reason: carol is invited properly, then joins with a huge reason.
        alice.ok("POST", "/rooms/%s/invite" % r, {"user_id": carol.user_id})
        st, resp = carol.http("POST", "/join/%s" % r, {"reason": big})
        self.assertEqual((st, resp.get("errcode")), (413, "M_TOO_LARGE"), resp)
        st, resp = carol.http("POST", "/rooms/%s/leave" % r, {"reason": big})
        self.assertEqual((st, resp.get("errcode")), (413, "M_TOO_LARGE"), resp)
        # Nothing of it was stored: bob is still joined, carol still only invited, the topic unset.
        members = {e["state_key"]: e["content"]["membership"]
                   for e in alice.ok("GET", "/rooms/%s/members" % r)["chunk"]}
        self.assertEqual(members.get(bob.user_id), "join")
        self.assertEqual(members.get(carol.user_id), "invite")
        st, _ = alice.http("GET", "/rooms/%s/state/m.room.topic/" % r)
        self.assertEqual(st, 404)
        # Within the limits all of it works.
        alice.state(room, "m.room.topic", {"topic": "t" * 60000})
        alice.state(room, "m.x", {}, key="k" * 255)
        alice.ok("PUT", "/rooms/%s/redact/%s/t2" % (r, q(msg)), {"reason": "duplicate"})
        self.assertRoomStillServed(room, alice, bob)


if __name__ == "__main__":
    unittest.main()
