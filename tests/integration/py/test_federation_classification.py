"""The federation maximum of classification between two Despatch servers: A caps B at
OFFICIAL ([federation.max_classification]), B caps nobody. A room of A above OFFICIAL is
never shared with B: A's invites to B's users, B's joins and knocks (make_join/send_join,
make_knock), and B's invites of A's users to B's rooms above the cap are refused with a
clear M_FORBIDDEN, and a room B shares cannot be raised above the cap.

Run: cd tests/integration/py && /usr/bin/python3 -m unittest test_federation_classification -v
"""

import time

from federation_helpers import PairTestCase, User
from harness import q

CLASS = "gov.despatch.classification"
SENSITIVE = {"marking": "OFFICIAL-SENSITIVE"}


class FederationClassificationTest(PairTestCase):
    PREFIX = "despatch-fed-class-"

    @classmethod
    def configure(cls):
        with open(cls.a.fx.config_path, "a") as f:
            f.write('\n[federation.max_classification]\n"%s" = "OFFICIAL"\n' % cls.b.name)

    def room(self, user, preset="public_chat", **extra):
        body = {"preset": preset, "name": "Classified across servers"}
        body.update(extra)
        st, res = user.client("POST", "/createRoom", body)
        self.assertEqual(st, 200, res)
        return res["room_id"]

    def raise_room(self, user, room, expect=200):
        st, body = user.client("PUT", "/rooms/%s/state/%s/" % (q(room), CLASS), SENSITIVE)
        self.assertEqual(st, expect, body)
        return body

    def membership(self, user, room, target):
        st, ev = user.client("GET", "/rooms/%s/state/m.room.member/%s" % (q(room), q(target)))
        return ev.get("membership") if st == 200 else None

    def wait_membership(self, user, room, target, want, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.membership(user, room, target) == want:
                return
            time.sleep(0.2)
        self.fail("%s never became %s in %s" % (target, want, room))

    def test_invites_to_a_capped_server_are_refused(self):
        ua, ub = User(self.a), User(self.b)
        room = self.room(ua, preset="private_chat")
        self.raise_room(ua, room)
        st, body = ua.client("POST", "/rooms/%s/invite" % q(room), {"user_id": ub.user_id})
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)
        self.assertEqual(body["error"], "This room is classified OFFICIAL-SENSITIVE, above OFFICIAL, the most that may be "
                                        "shared with %s: it cannot be shared with that server." % self.b.name)
        self.assertIsNone(self.membership(ua, room, ub.user_id))
        # An OFFICIAL room is shared as before.
        plain = self.room(ua, preset="private_chat")
        st, body = ua.client("POST", "/rooms/%s/invite" % q(plain), {"user_id": ub.user_id})
        self.assertEqual(st, 200, body)

    def test_joins_and_knocks_from_a_capped_server_are_refused(self):
        ua, ub = User(self.a), User(self.b)
        room = self.room(ua)
        self.raise_room(ua, room)
        st, body = ub.client("POST", "/join/%s?via=%s" % (q(room), q(self.a.name)), {})
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)
        self.assertIn("classified OFFICIAL-SENSITIVE, above OFFICIAL", body["error"])
        # The federation answers themselves, asked directly with B's key.
        knockable = self.room(ua, preset="private_chat", initial_state=[
            {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}])
        self.raise_room(ua, knockable)
        for path, target in (("/_matrix/federation/v1/make_join/%s/%s?ver=11", room),
                             ("/_matrix/federation/v1/make_knock/%s/%s?ver=11", knockable)):
            st, body = self.pair.federation(self.b, self.a, "GET", path % (q(target), q(ub.user_id)))
            self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)
            self.assertIn("cannot be shared with that server", body["error"])
        st, body = ub.client("POST", "/knock/%s?via=%s" % (q(knockable), q(self.a.name)), {})
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)
        self.assertIsNone(self.membership(ua, room, ub.user_id))
        self.assertIsNone(self.membership(ua, knockable, ub.user_id))

    def test_a_room_a_capped_server_shares_cannot_be_raised(self):
        ua, ub = User(self.a), User(self.b)
        room = self.room(ua)
        st, body = ub.client("POST", "/join/%s?via=%s" % (q(room), q(self.a.name)), {})
        self.assertEqual(st, 200, body)
        self.wait_membership(ua, room, ub.user_id, "join")
        body = self.raise_room(ua, room, expect=403)
        self.assertEqual(body["errcode"], "M_FORBIDDEN")
        self.assertIn("%s takes part in this room and may hold information up to OFFICIAL only" % self.b.name,
                      body["error"])
        st, audit = self.a.fx.http("GET", "/_despatch/admin/v1/audit?limit=100", token=self.a.admin_token)
        attempts = [e["details"] for e in audit["entries"] if e["action"] == "suspicious.classification"]
        self.assertIn(("shared_server", room), [(d["attempt"], d["room_id"]) for d in attempts])
        # Once B's user has left, the room may be raised.
        st, body = ub.client("POST", "/rooms/%s/leave" % q(room), {})
        self.assertEqual(st, 200, body)
        self.wait_membership(ua, room, ub.user_id, "leave")
        self.raise_room(ua, room)

    def test_invites_from_a_capped_server_to_rooms_above_the_cap_are_refused(self):
        ua, ub = User(self.a), User(self.b)
        # B has no cap for A: it sends the invite, with the classification in its stripped state.
        room = self.room(ub, preset="private_chat",
                         initial_state=[{"type": CLASS, "state_key": "", "content": SENSITIVE}])
        st, body = ub.client("POST", "/rooms/%s/invite" % q(room), {"user_id": ua.user_id})
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)
        self.assertIn("%s refused the invite" % self.a.name, body["error"])
        self.assertIn("classified OFFICIAL-SENSITIVE, above OFFICIAL", body["error"])
        sync = ua.sync()
        self.assertNotIn(room, sync["rooms"]["invite"])
        # An OFFICIAL room of B invites A's users as before.
        plain = self.room(ub, preset="private_chat")
        st, body = ub.client("POST", "/rooms/%s/invite" % q(plain), {"user_id": ua.user_id})
        self.assertEqual(st, 200, body)
