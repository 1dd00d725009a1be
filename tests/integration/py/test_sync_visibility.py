"""What /sync, /messages and /state show to whom, over raw HTTP against a real server:
people who never joined a private room see nothing of it, shared history follows the spec,
lazy-loaded members arrive in incremental syncs, transaction IDs are scoped to their room,
and device lists tell a leaver whose devices stopped mattering.
"""

import unittest
import uuid

from harness import ApiUser, SharedServer, q

V3 = "/_matrix/client/v3"
PASSWORD = "sync visibility password"


def bodies(events):
    return [e.get("content", {}).get("body") for e in events if e.get("type") == "m.room.message"]


class SyncVisibilityTests(SharedServer, unittest.TestCase):
    def user(self, prefix):
        return ApiUser(self.server, prefix, PASSWORD)

    def private_room(self, owner, history="shared"):
        room = owner.ok("POST", "/createRoom", {"preset": "private_chat"})["room_id"]
        owner.state(room, "m.room.history_visibility", {"history_visibility": history})
        return room

    def assertSeesNothingOf(self, section, secrets, user):
        """A left room as a user who never joined must see: only their own member events."""
        events = section["timeline"]["events"] + section["state"]["events"]
        self.assertFalse(set(bodies(events)) & set(secrets), "leaked messages: %r" % events)
        others = [e for e in events if not (e["type"] == "m.room.member" and e["state_key"] == user.user_id)]
        self.assertEqual(others, [], "a user who never joined sees the room's events: %r" % others)
        self.assertIn(user.user_id, [e.get("state_key") for e in section["timeline"]["events"]],
                      "their own membership change is missing from the timeline")

    def test_rejected_withdrawn_and_banned_users_never_see_the_room(self):
        alice, bob, carol, dave = (self.user(p) for p in ("alice", "bob", "carol", "dave"))
        room = self.private_room(alice)
        secrets = ["budget line %d" % i for i in range(3)]
        for s in secrets[:2]:
            alice.send(room, s)
        for u in (bob, carol, dave):
            u.since = u.sync()["next_batch"]
        alice.ok("POST", "/rooms/%s/invite" % q(room), {"user_id": bob.user_id})
        alice.ok("POST", "/rooms/%s/invite" % q(room), {"user_id": carol.user_id})
        alice.send(room, secrets[2])
        bob.ok("POST", "/rooms/%s/leave" % q(room), {})                                    # rejects
        alice.ok("POST", "/rooms/%s/kick" % q(room), {"user_id": carol.user_id})          # withdraws
        alice.ok("POST", "/rooms/%s/ban" % q(room), {"user_id": dave.user_id})            # pre-emptive

        for u in (bob, carol, dave):
            with self.subTest(user=u.user_id):
                inc = u.sync(since=u.since)
                self.assertIn(room, inc["rooms"]["leave"], "the leave is not reported to %s" % u.user_id)
                self.assertSeesNothingOf(inc["rooms"]["leave"][room], secrets, u)
                full = u.sync(filter_={"room": {"include_leave": True}})
                self.assertSeesNothingOf(full["rooms"]["leave"][room], secrets, u)
                st, body = u.http("GET", "/rooms/%s/state" % q(room))
                self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)
                st, body = u.http("GET", "/rooms/%s/members" % q(room))
                self.assertEqual(st, 403, body)
                st, body = u.http("GET", "/rooms/%s/messages?dir=b&limit=50" % q(room))
                if st == 200:
                    self.assertFalse(set(bodies(body["chunk"])) & set(secrets), body)

    def test_a_user_who_left_still_reads_shared_history_from_before_their_join(self):
        alice, bob = self.user("alice"), self.user("bob")
        room = self.private_room(alice, "shared")
        early = alice.send(room, "before bob joined")
        alice.ok("POST", "/rooms/%s/invite" % q(room), {"user_id": bob.user_id})
        bob.ok("POST", "/join/%s" % q(room), {})
        alice.send(room, "while bob is here")
        bob.ok("POST", "/rooms/%s/leave" % q(room), {})
        after = alice.send(room, "after bob left")
        page = bob.ok("GET", "/rooms/%s/messages?dir=b&limit=50" % q(room))
        seen = bodies(page["chunk"])
        self.assertIn("before bob joined", seen, "shared history is visible to anyone who joined later")
        self.assertIn("while bob is here", seen)
        self.assertNotIn("after bob left", seen)
        st, _ = bob.http("GET", "/rooms/%s/event/%s" % (q(room), q(early)))
        self.assertEqual(st, 200)
        st, _ = bob.http("GET", "/rooms/%s/event/%s" % (q(room), q(after)))
        self.assertEqual(st, 404)

    def test_joined_history_hides_what_came_before_the_join(self):
        alice, bob = self.user("alice"), self.user("bob")
        room = self.private_room(alice, "joined")
        alice.send(room, "before the invite")
        alice.ok("POST", "/rooms/%s/invite" % q(room), {"user_id": bob.user_id})
        bob.ok("POST", "/join/%s" % q(room), {})
        alice.send(room, "after the join")
        seen = bodies(bob.ok("GET", "/rooms/%s/messages?dir=b&limit=50" % q(room))["chunk"])
        self.assertEqual(seen, ["after the join"])

    def test_lazy_loaded_members_arrive_in_incremental_sync(self):
        alice, bob, carol = self.user("alice"), self.user("bob"), self.user("carol")
        room = alice.ok("POST", "/createRoom", {"preset": "public_chat"})["room_id"]
        for u in (bob, carol):
            u.ok("POST", "/join/%s" % q(room), {})
        alice.send(room, "filler so the joins fall out of a 1-event timeline")
        lazy = {"room": {"state": {"lazy_load_members": True}, "timeline": {"limit": 1}}}
        first = bob.sync(filter_=lazy)
        members = [e["state_key"] for e in first["rooms"]["join"][room]["state"]["events"]
                   if e["type"] == "m.room.member"]
        self.assertNotIn(carol.user_id, members, "carol sent nothing: lazy loading leaves her out")
        carol.send(room, "hello from carol")
        inc = bob.sync(filter_=lazy, since=first["next_batch"])
        joined = inc["rooms"]["join"][room]
        self.assertFalse(joined["timeline"]["limited"])
        self.assertEqual(bodies(joined["timeline"]["events"]), ["hello from carol"])
        members = {e["state_key"]: e for e in joined["state"]["events"] if e["type"] == "m.room.member"}
        self.assertIn(carol.user_id, members, "the sender's member event is owed: %r" % joined["state"])
        self.assertEqual(members[carol.user_id]["content"]["membership"], "join")
        # Nothing new: the long-poll must not return early because of lazy members.
        again = bob.sync(filter_=lazy, since=inc["next_batch"], timeout=300)
        self.assertNotIn(room, again["rooms"]["join"])

    def test_filters_apply_to_every_section(self):
        alice, bob = self.user("alice"), self.user("bob")
        room = alice.ok("POST", "/createRoom", {"preset": "public_chat"})["room_id"]
        bob.ok("POST", "/join/%s" % q(room), {})
        since = bob.sync()["next_batch"]
        alice.state(room, "m.room.topic", {"topic": "filtered"})
        event = alice.send(room, "shaped")
        bob.ok("POST", "/rooms/%s/receipt/m.read/%s" % (q(room), q(event)), {})
        bob.ok("PUT", "/user/%s/rooms/%s/tags/u.x" % (q(bob.user_id), q(room)), {})
        bob.ok("PUT", "/user/%s/rooms/%s/account_data/org.example.note" % (q(bob.user_id), q(room)), {"n": 1})
        filt = {"event_fields": ["type", "content.body"],
                "room": {"timeline": {"types": ["m.room.message"]},
                         "ephemeral": {"not_types": ["m.receipt"]},
                         "account_data": {"types": ["org.example.*"]}}}
        joined = bob.sync(filter_=filt, since=since)["rooms"]["join"][room]
        self.assertEqual(joined["timeline"]["events"], [{"type": "m.room.message", "content": {"body": "shaped"}}])
        self.assertEqual([e["type"] for e in joined["ephemeral"]["events"]], [])
        self.assertEqual([e["type"] for e in joined["account_data"]["events"]], ["org.example.note"])
        unfiltered = bob.sync(since=since)["rooms"]["join"][room]
        self.assertIn("m.receipt", [e["type"] for e in unfiltered["ephemeral"]["events"]])
        self.assertIn("m.tag", [e["type"] for e in unfiltered["account_data"]["events"]])
        self.assertIn("event_id", unfiltered["timeline"]["events"][-1])

    def test_transaction_ids_are_scoped_to_their_room(self):
        alice = self.user("alice")
        room_a = alice.ok("POST", "/createRoom", {"preset": "private_chat"})["room_id"]
        room_b = alice.ok("POST", "/createRoom", {"preset": "private_chat"})["room_id"]
        first = alice.send(room_a, "one", txn="same-txn")
        self.assertEqual(alice.send(room_a, "one", txn="same-txn"), first, "a retried send is not idempotent")
        other = alice.send(room_b, "two", txn="same-txn")
        self.assertNotEqual(other, first, "the same transaction ID in another room is a new message")
        got = alice.ok("GET", "/rooms/%s/event/%s" % (q(room_b), q(other)))
        self.assertEqual(got["room_id"], room_b)
        msgs = bodies(alice.ok("GET", "/rooms/%s/messages?dir=b&limit=50" % q(room_a))["chunk"])
        self.assertEqual(msgs.count("one"), 1)

    def test_public_rooms_since_token_overflow_is_a_bad_param(self):
        alice = self.user("alice")
        st, body = alice.http("GET", "/publicRooms?since=o99999999999999999999999")
        self.assertEqual((st, body.get("errcode")), (400, "M_INVALID_PARAM"), body)
        self.assertTrue(self.server.alive())


class DeviceListTests(SharedServer, unittest.TestCase):
    def test_leaving_the_last_shared_room_lists_the_others_in_left(self):
        alice, bob = ApiUser(self.server, "alice", PASSWORD), ApiUser(self.server, "bob", PASSWORD)
        room = alice.ok("POST", "/createRoom", {"preset": "public_chat"})["room_id"]
        a0 = alice.sync()["next_batch"]
        b0 = bob.sync()["next_batch"]
        bob.ok("POST", "/join/%s" % q(room), {})
        self.assertIn(bob.user_id, alice.sync(since=a0)["device_lists"]["changed"], "a join changes lists")
        joined = bob.sync(since=b0)
        self.assertIn(alice.user_id, joined["device_lists"]["changed"])
        a1, b1 = alice.sync()["next_batch"], joined["next_batch"]
        bob.ok("POST", "/rooms/%s/leave" % q(room), {})
        self.assertIn(bob.user_id, alice.sync(since=a1)["device_lists"]["left"])
        left = bob.sync(since=b1)["device_lists"]
        self.assertIn(alice.user_id, left["left"], "the leaver is told too: %r" % left)
        self.assertNotIn(alice.user_id, left["changed"])
        changes = bob.ok("GET", "/keys/changes?from=%s&to=%s" % (q(b1), q(bob.sync()["next_batch"])))
        self.assertIn(alice.user_id, changes["left"])

    def test_to_device_messages_for_unknown_devices_are_dropped(self):
        alice, bob = ApiUser(self.server, "alice", PASSWORD), ApiUser(self.server, "bob", PASSWORD)
        ghost = "GHOST" + uuid.uuid4().hex[:6].upper()
        alice.ok("PUT", "/sendToDevice/m.test/%s" % uuid.uuid4().hex,
                 {"messages": {bob.user_id: {ghost: {"n": 1}, bob.device_id: {"n": 2}}}})
        got = bob.sync()["to_device"]["events"]
        self.assertEqual([e["content"] for e in got], [{"n": 2}])
        # A device made later under that ID must not inherit the dropped message.
        st, body = self.server.login(bob.user_id, PASSWORD)
        self.assertEqual(st, 200, body)
        st, body = self.server.http("POST", V3 + "/login",
                                    {"type": "m.login.password", "device_id": ghost,
                                     "identifier": {"type": "m.id.user", "user": bob.user_id},
                                     "password": PASSWORD})
        self.assertEqual(st, 200, body)
        self.assertEqual(body["device_id"], ghost)
        st, sync = self.server.http("GET", V3 + "/sync?timeout=0", token=body["access_token"])
        self.assertEqual(st, 200, sync)
        self.assertEqual(sync["to_device"]["events"], [], "a new device got a message sent before it existed")


if __name__ == "__main__":
    unittest.main()
