"""Presence against real servers: PUT/GET .../presence/{userId}/status and its refusals,
/sync's set_presence and presence.events between users sharing a room (and not others), the
sync filter's presence section, and an m.presence EDU carrying a user of B's status to A's /sync.
"""

import os
import threading
import time
import unittest

from federation_helpers import PeerPair, User
from harness import ApiUser, SharedServer, q

PASSWORD = "presence test password"


def presence_of(body, user_id):
    """The content of the last m.presence event of user_id in a /sync body, or None."""
    found = None
    for ev in body.get("presence", {}).get("events", []):
        if ev.get("type") == "m.presence" and ev.get("sender") == user_id:
            found = ev["content"]
    return found


class PresenceTests(SharedServer, unittest.TestCase):
    def user(self, prefix):
        return ApiUser(self.server, prefix, PASSWORD)

    def pair_in_room(self):
        alice, bob = self.user("alice"), self.user("bob")
        room = alice.ok("POST", "/createRoom", {"preset": "public_chat"})["room_id"]
        bob.ok("POST", "/join/%s" % q(room), {})
        return alice, bob, room

    def status_path(self, user):
        return "/presence/%s/status" % q(user.user_id)

    def test_put_then_get_own_status(self):
        alice = self.user("alice")
        alice.ok("PUT", self.status_path(alice), {"presence": "unavailable", "status_msg": "at lunch"})
        got = alice.ok("GET", self.status_path(alice))
        self.assertEqual(got["presence"], "unavailable")
        self.assertEqual(got["status_msg"], "at lunch")
        self.assertIsInstance(got["last_active_ago"], int)
        alice.ok("PUT", self.status_path(alice), {"presence": "online"})
        got = alice.ok("GET", self.status_path(alice))
        self.assertEqual(got["presence"], "online")
        self.assertTrue(got["currently_active"])
        self.assertNotIn("status_msg", got)

    def test_refusals(self):
        alice, bob, _ = self.pair_in_room()
        st, body = alice.http("PUT", self.status_path(bob), {"presence": "online"})
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)
        st, body = alice.http("PUT", self.status_path(alice), {"presence": "sleeping"})
        self.assertEqual((st, body.get("errcode")), (400, "M_INVALID_PARAM"), body)
        st, body = alice.http("PUT", self.status_path(alice), {"presence": "online", "status_msg": 5})
        self.assertEqual(st, 400, body)
        st, body = alice.http("PUT", self.status_path(alice), {})
        self.assertEqual(st, 400, body)
        stranger = self.user("stranger")
        st, body = stranger.http("GET", self.status_path(alice))
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)
        st, body = alice.http("GET", "/sync?set_presence=asleep")
        self.assertEqual((st, body.get("errcode")), (400, "M_INVALID_PARAM"), body)

    def test_room_member_may_read_status(self):
        alice, bob, _ = self.pair_in_room()
        bob.ok("PUT", self.status_path(bob), {"presence": "online", "status_msg": "coding"})
        got = alice.ok("GET", self.status_path(bob))
        self.assertEqual((got["presence"], got["status_msg"]), ("online", "coding"))

    def test_sync_shows_a_room_members_change_and_wakes(self):
        alice, bob, _ = self.pair_in_room()
        stranger = self.user("stranger")
        since = alice.sync()["next_batch"]
        stranger_since = stranger.sync()["next_batch"]
        # alice's /sync parks first; bob's change must wake it well before its timeout.
        result = {}
        waiter = threading.Thread(target=lambda: result.update(body=alice.sync(since=since, timeout=10000)))
        start = time.time()
        waiter.start()
        time.sleep(0.5)
        bob.ok("PUT", self.status_path(bob), {"presence": "unavailable", "status_msg": "brb"})
        waiter.join(15)
        self.assertLess(time.time() - start, 5, "the parked /sync was not woken")
        body = result["body"]
        content = presence_of(body, bob.user_id)
        self.assertIsNotNone(content, body.get("presence"))
        self.assertEqual((content["presence"], content["status_msg"]), ("unavailable", "brb"))
        # Nothing changed since: the next incremental sync has no presence of bob.
        again = alice.sync(since=body["next_batch"])
        self.assertIsNone(presence_of(again, bob.user_id))
        # Someone sharing no room with bob never hears of him.
        self.assertIsNone(presence_of(stranger.sync(since=stranger_since), bob.user_id))
        self.assertIsNone(presence_of(stranger.sync(), bob.user_id))

    def test_initial_sync_marks_online_and_shows_members(self):
        alice, bob, _ = self.pair_in_room()
        body = bob.sync()
        own = presence_of(body, bob.user_id)
        self.assertEqual(own["presence"], "online", body.get("presence"))
        self.assertEqual(alice.ok("GET", self.status_path(bob))["presence"], "online")
        self.assertEqual(presence_of(alice.sync(), bob.user_id)["presence"], "online")

    def test_set_presence_unavailable(self):
        alice, bob, _ = self.pair_in_room()
        since = alice.sync()["next_batch"]
        bob.ok("GET", "/sync?timeout=0&set_presence=unavailable")
        self.assertEqual(alice.ok("GET", self.status_path(bob))["presence"], "unavailable")
        content = presence_of(alice.sync(since=since), bob.user_id)
        self.assertEqual(content["presence"], "unavailable")
        # set_presence=offline does not mark a client online; online brings it back.
        bob.ok("GET", "/sync?timeout=0&set_presence=offline")
        self.assertEqual(alice.ok("GET", self.status_path(bob))["presence"], "unavailable")
        bob.ok("GET", "/sync?timeout=0")
        self.assertEqual(alice.ok("GET", self.status_path(bob))["presence"], "online")

    def test_filter_can_drop_presence(self):
        alice, bob, _ = self.pair_in_room()
        since = alice.sync()["next_batch"]
        bob.ok("PUT", self.status_path(bob), {"presence": "online", "status_msg": "filtered"})
        body = alice.sync(filter_={"presence": {"not_types": ["m.presence"]}}, since=since)
        self.assertEqual(body["presence"]["events"], [])
        body = alice.sync(since=since)
        self.assertEqual(presence_of(body, bob.user_id)["status_msg"], "filtered")

    def test_old_three_part_token_still_works(self):
        alice, bob, _ = self.pair_in_room()
        token = alice.sync()["next_batch"]
        self.assertEqual(token.count("_"), 3, token)
        old = token.rsplit("_", 1)[0]
        body = alice.sync(since=old)
        self.assertIn("next_batch", body)


class FederatedPresenceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pair = PeerPair("despatch-presence-")
        cls.pair.start()

    @classmethod
    def tearDownClass(cls):
        cls.pair.stop()

    def tearDown(self):
        if os.environ.get("DESPATCH_TEST_LOGS"):
            for p in self.pair.peers:
                print("---- %s\n%s" % (p.label, p.fx.stderr_text()[-4000:]))

    def test_remote_users_status_reaches_local_sync(self):
        ua, ub = User(self.pair.a), User(self.pair.b)
        st, res = ua.client("POST", "/createRoom", {"preset": "public_chat"})
        self.assertEqual(st, 200, res)
        room = res["room_id"]
        st, body = ub.client("POST", "/join/%s" % q(room), {})
        self.assertEqual(st, 200, body)
        deadline = time.time() + 20
        while time.time() < deadline:
            st, ev = ua.client("GET", "/rooms/%s/state/m.room.member/%s" % (q(room), q(ub.user_id)))
            if st == 200 and ev.get("membership") == "join":
                break
            time.sleep(0.2)
        since = ua.sync()["next_batch"]
        st, body = ub.client("PUT", "/presence/%s/status" % q(ub.user_id),
                             {"presence": "unavailable", "status_msg": "across servers"})
        self.assertEqual(st, 200, body)

        def b_status(sync):
            c = presence_of(sync, ub.user_id)
            return c if c and c.get("status_msg") == "across servers" else None

        _, content = ua.wait_sync(b_status, "B's presence", since=since)
        self.assertEqual(content["presence"], "unavailable")
        st, got = ua.client("GET", "/presence/%s/status" % q(ub.user_id))
        self.assertEqual((st, got.get("presence"), got.get("status_msg")), (200, "unavailable", "across servers"))


if __name__ == "__main__":
    unittest.main()
