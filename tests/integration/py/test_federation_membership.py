"""Memberships across servers between two real Despatch servers on loopback (test CA, each
allowing the other): invites (v2, countersigned by the invitee's server), rejecting them
(make_leave/send_leave), leaving, kicks and bans of a remote user, knocking
(make_knock/send_knock), an invite to a server off the allow-list, and bad input on the new
federation endpoints. Every test makes its own users, so their order does not matter.
"""

import os
import time
import unittest

from federation_helpers import PeerPair, User, stored_pdu
from harness import q

INCLUDE_LEAVE = {"room": {"include_leave": True}}


def invite_of(room):
    return lambda s: s["rooms"]["invite"].get(room)


def left_of(room):
    return lambda s: s["rooms"]["leave"].get(room)


def joined_timeline(room, pred):
    def look(s):
        for ev in s["rooms"]["join"].get(room, {}).get("timeline", {}).get("events", []):
            if pred(ev):
                return ev
        return None
    return look


class FederationMembershipTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pair = PeerPair("despatch-members-")
        cls.pair.start()
        cls.a, cls.b = cls.pair.a, cls.pair.b

    @classmethod
    def tearDownClass(cls):
        cls.pair.stop()

    def tearDown(self):
        if os.environ.get("DESPATCH_TEST_LOGS"):
            for p in self.pair.peers:
                print("---- %s\n%s" % (p.label, p.fx.stderr_text()[-4000:]))

    # ---- helpers -----------------------------------------------------------------------

    def room_on_a(self, owner, preset="private_chat", **extra):
        body = {"preset": preset, "name": "Members across servers"}
        body.update(extra)
        st, res = owner.client("POST", "/createRoom", body)
        self.assertEqual(st, 200, res)
        return res["room_id"]

    def membership_on(self, user, room, target):
        st, ev = user.client("GET", "/rooms/%s/state/m.room.member/%s" % (q(room), q(target)))
        return ev.get("membership") if st == 200 else None

    def wait_membership(self, user, room, target, want, timeout=20):
        deadline = time.time() + timeout
        seen = None
        while time.time() < deadline:
            seen = self.membership_on(user, room, target)
            if seen == want:
                return
            time.sleep(0.2)
        self.fail("%s never showed %s as %s in %s (last: %s)" % (user.peer.label, target, want, room, seen))

    def invite_and_see(self, inviter, room, invitee):
        st, body = inviter.client("POST", "/rooms/%s/invite" % q(room), {"user_id": invitee.user_id})
        self.assertEqual(st, 200, body)
        sync, invited = invitee.wait_sync(invite_of(room), "the invite to %s" % room)
        return sync, invited

    def chat_both_ways(self, room, ua, ub):
        st, sent = ua.client("PUT", "/rooms/%s/send/m.room.message/a%d" % (q(room), time.time_ns()),
                             {"msgtype": "m.text", "body": "hello from A"})
        self.assertEqual(st, 200, sent)
        _, seen = ub.wait_sync(joined_timeline(room, lambda e: e["event_id"] == sent["event_id"]), "A's message")
        self.assertEqual(seen["sender"], ua.user_id)
        st, sent = ub.client("PUT", "/rooms/%s/send/m.room.message/b%d" % (q(room), time.time_ns()),
                             {"msgtype": "m.text", "body": "hello from B"})
        self.assertEqual(st, 200, sent)
        _, seen = ua.wait_sync(joined_timeline(room, lambda e: e["event_id"] == sent["event_id"]), "B's message")
        self.assertEqual(seen["sender"], ub.user_id)

    def joined_remote(self, ua, ub, preset="public_chat"):
        room = self.room_on_a(ua, preset)
        st, body = ub.client("POST", "/join/%s" % q(room), {})
        self.assertEqual(st, 200, body)
        self.wait_membership(ua, room, ub.user_id, "join")
        return room

    # ---- invites -----------------------------------------------------------------------

    def test_invite_then_join_then_chat(self):
        ua, ub = User(self.a), User(self.b)
        room = self.room_on_a(ua, topic="Invited across")
        _, invited = self.invite_and_see(ua, room, ub)
        events = invited["invite_state"]["events"]
        kinds = {(e["type"], e["state_key"]) for e in events}
        self.assertIn(("m.room.create", ""), kinds)
        self.assertIn(("m.room.join_rules", ""), kinds)
        self.assertIn(("m.room.name", ""), kinds)
        self.assertIn(("m.room.topic", ""), kinds)
        mine = [e for e in events if e["type"] == "m.room.member" and e["state_key"] == ub.user_id]
        self.assertEqual(len(mine), 1, events)
        self.assertEqual(mine[0]["content"]["membership"], "invite")
        self.assertEqual(mine[0]["sender"], ua.user_id)
        invite_id = mine[0]["event_id"]
        # A keeps the invite signed by both servers, and shows B's user as invited.
        pdu = stored_pdu(self.a, invite_id)
        self.assertIsNotNone(pdu)
        self.assertIn(self.a.name, pdu["signatures"])
        self.assertIn(self.b.name, pdu["signatures"])
        self.assertEqual(self.membership_on(ua, room, ub.user_id), "invite")
        # An invite is not a joined room.
        st, joined = ub.client("GET", "/joined_rooms")
        self.assertEqual(st, 200, joined)
        self.assertNotIn(room, joined["joined_rooms"])
        # Joining with no via goes through the inviter's server.
        st, body = ub.client("POST", "/join/%s" % q(room), {})
        self.assertEqual(st, 200, body)
        self.wait_membership(ua, room, ub.user_id, "join")
        st, joined = ub.client("GET", "/joined_rooms")
        self.assertIn(room, joined["joined_rooms"])
        sync = ub.sync()
        self.assertIn(room, sync["rooms"]["join"])
        self.assertNotIn(room, sync["rooms"]["invite"])
        self.chat_both_ways(room, ua, ub)

    def test_create_room_with_remote_invite(self):
        ua, ub = User(self.a), User(self.b)
        room = self.room_on_a(ua, invite=[ub.user_id], is_direct=True)
        _, invited = ub.wait_sync(invite_of(room), "the createRoom invite")
        mine = [e for e in invited["invite_state"]["events"] if e["type"] == "m.room.member"
                and e["state_key"] == ub.user_id]
        self.assertEqual(mine[0]["content"].get("is_direct"), True)
        self.assertEqual(self.membership_on(ua, room, ub.user_id), "invite")

    def test_reject_invite(self):
        ua, ub = User(self.a), User(self.b)
        room = self.room_on_a(ua)
        sync, _ = self.invite_and_see(ua, room, ub)
        st, body = ub.client("POST", "/rooms/%s/leave" % q(room), {"reason": "not for me"})
        self.assertEqual(st, 200, body)
        # A: the leave went through make_leave/send_leave into the room.
        self.wait_membership(ua, room, ub.user_id, "leave")
        st, ev = ua.client("GET", "/rooms/%s/state/m.room.member/%s" % (q(room), q(ub.user_id)))
        self.assertEqual(ev.get("reason"), "not for me")
        # B: the room moves to rooms.leave with the leave event, and is no longer an invite.
        later = ub.sync(since=sync["next_batch"])
        self.assertNotIn(room, later["rooms"]["invite"])
        left = later["rooms"]["leave"].get(room)
        self.assertIsNotNone(left, later["rooms"])
        last = left["timeline"]["events"][-1]
        self.assertEqual(last["content"]["membership"], "leave")
        self.assertEqual(last["sender"], ub.user_id)
        self.assertNotIn(room, ub.sync()["rooms"]["invite"])
        # Rejecting twice: no invite is left to reject, and B holds no such room.
        st, body = ub.client("POST", "/rooms/%s/leave" % q(room), {})
        self.assertEqual(st, 404, body)
        self.assertEqual(body["errcode"], "M_NOT_FOUND")

    def test_invite_to_server_not_allowed_is_forbidden(self):
        ua = User(self.a)
        room = self.room_on_a(ua)
        before = self.a.metrics()["federation_outgoing_refused_not_allowed"]
        st, body = ua.client("POST", "/rooms/%s/invite" % q(room), {"user_id": "@someone:127.0.0.1:9"})
        self.assertEqual(st, 403, body)
        self.assertEqual(body["errcode"], "M_FORBIDDEN")
        self.assertIn("allow-list", body["error"])
        self.assertEqual(self.a.metrics()["federation_outgoing_refused_not_allowed"], before + 1)
        self.assertIsNone(self.membership_on(ua, room, "@someone:127.0.0.1:9"))

    # ---- leaving, kicks, bans ------------------------------------------------------------

    def test_leave_a_joined_room(self):
        ua, ub = User(self.a), User(self.b)
        room = self.joined_remote(ua, ub)
        st, body = ub.client("POST", "/rooms/%s/leave" % q(room), {})
        self.assertEqual(st, 200, body)
        self.wait_membership(ua, room, ub.user_id, "leave")
        st, members = ua.client("GET", "/rooms/%s/joined_members" % q(room))
        self.assertNotIn(ub.user_id, members["joined"])

    def test_kick_remote_user(self):
        ua, ub = User(self.a), User(self.b)
        room = self.joined_remote(ua, ub)
        since = ub.sync()["next_batch"]
        st, body = ua.client("POST", "/rooms/%s/kick" % q(room), {"user_id": ub.user_id, "reason": "out"})
        self.assertEqual(st, 200, body)
        _, left = ub.wait_sync(left_of(room), "the kick", since=since)
        kick = [e for e in left["timeline"]["events"] if e["type"] == "m.room.member"
                and e["state_key"] == ub.user_id]
        self.assertTrue(kick, left)
        self.assertEqual(kick[-1]["content"]["membership"], "leave")
        self.assertEqual(kick[-1]["sender"], ua.user_id)
        st, body = ub.client("PUT", "/rooms/%s/send/m.room.message/k1" % q(room), {"msgtype": "m.text", "body": "x"})
        self.assertEqual(st, 403, body)

    def test_ban_remote_user_stops_rejoin(self):
        ua, ub = User(self.a), User(self.b)
        room = self.joined_remote(ua, ub)
        since = ub.sync()["next_batch"]
        st, body = ua.client("POST", "/rooms/%s/ban" % q(room), {"user_id": ub.user_id})
        self.assertEqual(st, 200, body)
        _, left = ub.wait_sync(left_of(room), "the ban", since=since)
        bans = [e for e in left["timeline"]["events"] if e["type"] == "m.room.member"
                and e["content"].get("membership") == "ban"]
        self.assertTrue(bans, left)
        st, body = ub.client("POST", "/join/%s" % q(room), {})
        self.assertEqual(st, 403, body)
        # A refuses the make_join itself.
        st, body = self.pair.federation(self.b, self.a, "GET", "/_matrix/federation/v1/make_join/%s/%s?ver=11"
                                        % (q(room), q(ub.user_id)))
        self.assertEqual(st, 403, body)
        self.assertEqual(body["errcode"], "M_FORBIDDEN")
        self.assertEqual(self.membership_on(ua, room, ub.user_id), "ban")

    # ---- knocking ----------------------------------------------------------------------

    def test_knock_then_invite_then_join(self):
        ua, ub = User(self.a), User(self.b)
        room = self.room_on_a(ua, room_version="11", initial_state=[
            {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}])
        st, body = ub.client("POST", "/knock/%s" % q(room), {"reason": "let me in"})
        self.assertEqual(st, 200, body)
        self.assertEqual(body["room_id"], room)
        _, knocked = ub.wait_sync(lambda s: s["rooms"]["knock"].get(room), "the knock")
        events = knocked["knock_state"]["events"]
        rules = [e for e in events if e["type"] == "m.room.join_rules"]
        self.assertEqual(rules[0]["content"]["join_rule"], "knock")
        self.assertTrue(any(e["type"] == "m.room.member" and e["content"]["membership"] == "knock" for e in events))
        self.wait_membership(ua, room, ub.user_id, "knock")
        self.invite_and_see(ua, room, ub)
        self.assertNotIn(room, ub.sync()["rooms"]["knock"])
        st, body = ub.client("POST", "/join/%s" % q(room), {})
        self.assertEqual(st, 200, body)
        self.wait_membership(ua, room, ub.user_id, "join")

    def test_knock_on_invite_only_room_is_refused(self):
        ua, ub = User(self.a), User(self.b)
        room = self.room_on_a(ua, room_version="11")
        st, body = ub.client("POST", "/knock/%s" % q(room), {})
        self.assertEqual(st, 403, body)
        self.assertEqual(body["errcode"], "M_FORBIDDEN")
        self.assertNotIn(room, ub.sync()["rooms"]["knock"])

    # ---- bad input on the new endpoints ------------------------------------------------

    def test_bad_invites_are_refused(self):
        ua, ub = User(self.a), User(self.b)
        room = self.room_on_a(ua)
        _, invited = self.invite_and_see(ua, room, ub)
        invite_id = [e for e in invited["invite_state"]["events"] if e["type"] == "m.room.member"
                     and e["state_key"] == ub.user_id][0]["event_id"]
        pdu = stored_pdu(self.a, invite_id)
        target = "/_matrix/federation/v2/invite/%s/%s" % (q(room), q(invite_id))
        good = {"room_version": "11", "event": pdu, "invite_room_state": []}
        fed = self.pair.federation
        # Unsigned: the same event without signatures.
        unsigned = dict(pdu)
        unsigned.pop("signatures")
        st, body = fed(self.a, self.b, "PUT", target, dict(good, event=unsigned))
        self.assertEqual(st, 403, body)
        self.assertEqual(body["errcode"], "M_FORBIDDEN")
        # Wrong origin: A asks for an invite whose inviter is not a user of A.
        forged = dict(pdu, sender="@mallory:" + self.b.name)
        st, body = fed(self.a, self.b, "PUT", target, dict(good, event=forged))
        self.assertEqual(st, 403, body)
        self.assertIn("inviter", body["error"])
        # An invite for a user of another server.
        other = dict(pdu, state_key=ua.user_id)
        st, body = fed(self.a, self.b, "PUT", target, dict(good, event=other))
        self.assertEqual(st, 403, body)
        # The event ID of the path is not the event's.
        st, body = fed(self.a, self.b, "PUT", "/_matrix/federation/v2/invite/%s/%s" % (q(room), q("$nope")), good)
        self.assertEqual(st, 400, body)
        # A room version this server does not take; a body that is no invite at all.
        st, body = fed(self.a, self.b, "PUT", target, dict(good, room_version="999"))
        self.assertEqual(st, 400, body)
        self.assertEqual(body["errcode"], "M_INCOMPATIBLE_ROOM_VERSION")
        st, body = fed(self.a, self.b, "PUT", target, dict(good, invite_room_state="nope"))
        self.assertEqual(st, 400, body)
        st, body = fed(self.a, self.b, "PUT", target, {"room_version": "11"})
        self.assertEqual(st, 400, body)
        # The well-formed one is still countersigned (a repeat changes nothing).
        st, body = fed(self.a, self.b, "PUT", target, good)
        self.assertEqual(st, 200, body)
        self.assertIn(self.b.name, body["event"]["signatures"])

    def test_bad_leaves_and_knocks_are_refused(self):
        ua, ub = User(self.a), User(self.b)
        room = self.room_on_a(ua)
        fed = self.pair.federation
        # make_leave for a user of another server than the asking one.
        st, body = fed(self.b, self.a, "GET", "/_matrix/federation/v1/make_leave/%s/%s" % (q(room), q(ua.user_id)))
        self.assertEqual(st, 403, body)
        # make_leave for a user who is not in the room: nothing to leave.
        st, body = fed(self.b, self.a, "GET", "/_matrix/federation/v1/make_leave/%s/%s" % (q(room), q(ub.user_id)))
        self.assertEqual(st, 403, body)
        st, body = fed(self.b, self.a, "GET", "/_matrix/federation/v1/make_leave/%s/%s"
                       % (q("!nosuch:" + self.a.name), q(ub.user_id)))
        self.assertEqual(st, 404, body)
        # send_leave of an event for A's user, sent by B.
        ev = {"type": "m.room.member", "room_id": room, "sender": ua.user_id, "state_key": ua.user_id,
              "content": {"membership": "leave"}, "origin_server_ts": 1, "depth": 5, "prev_events": [],
              "auth_events": []}
        st, body = fed(self.b, self.a, "PUT", "/_matrix/federation/v2/send_leave/%s/%s" % (q(room), q("$x")), ev)
        self.assertEqual(st, 403, body)
        # send_leave of B's user with an event ID that is not the event's; a body that is a list.
        ev = dict(ev, sender=ub.user_id, state_key=ub.user_id)
        st, body = fed(self.b, self.a, "PUT", "/_matrix/federation/v2/send_leave/%s/%s" % (q(room), q("$x")), ev)
        self.assertEqual(st, 400, body)
        st, body = fed(self.b, self.a, "PUT", "/_matrix/federation/v1/send_knock/%s/%s" % (q(room), q("$x")), [1])
        self.assertEqual(st, 400, body)
        # make_knock needs ver, and a room whose join rule is knock.
        st, body = fed(self.b, self.a, "GET", "/_matrix/federation/v1/make_knock/%s/%s" % (q(room), q(ub.user_id)))
        self.assertEqual(st, 400, body)
        st, body = fed(self.b, self.a, "GET", "/_matrix/federation/v1/make_knock/%s/%s?ver=11"
                       % (q(room), q(ub.user_id)))
        self.assertEqual(st, 403, body)
        self.assertIsNone(self.membership_on(ua, room, ub.user_id))


if __name__ == "__main__":
    unittest.main()
