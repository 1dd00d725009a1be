"""Three Despatch servers on loopback, each allowing the other two: a room made on A, a user
of B joins through A, a user of C joins through B (a resident server that did not make the
room), and then every message reaches both other servers with the same event ID, including
C's, which C sends to B directly; the three servers agree on the room's members and state.
"""

import os
import time
import unittest
import uuid

from federation_helpers import PeerPair, User
from harness import q


class ThreeServersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.group = PeerPair("despatch-three-", "ABC")
        cls.group.start()
        cls.peers = cls.group.peers

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("DESPATCH_TEST_LOGS"):
            for p in cls.peers:
                print("---- %s\n%s" % (p.label, p.fx.stderr_text()[-4000:]))
        cls.group.stop()

    def wait(self, fn, what, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = fn()
            if value:
                return value
            time.sleep(0.3)
        self.fail("never: " + what)

    def message_ids(self, user, room):
        st, page = user.client("GET", "/rooms/%s/messages?dir=b&limit=100" % q(room))
        self.assertEqual(st, 200, page)
        return {e["content"].get("body"): e["event_id"] for e in page["chunk"] if e["type"] == "m.room.message"}

    def test_a_room_across_three_servers(self):
        a, b, c = (User(p) for p in self.peers)
        st, body = a.client("POST", "/createRoom", {"preset": "public_chat", "name": "Three departments"})
        self.assertEqual(st, 200, body)
        room = body["room_id"]
        st, body = b.client("POST", "/join/%s?via=%s" % (q(room), q(self.peers[0].name)), {})
        self.assertEqual(st, 200, body)
        # C joins through B, not through the room's own server.
        st, body = c.client("POST", "/join/%s?via=%s" % (q(room), q(self.peers[1].name)), {})
        self.assertEqual(st, 200, body)
        users = [a, b, c]
        for u in users:
            self.wait(lambda u=u: all(x.user_id in u.client("GET", "/rooms/%s/joined_members" % q(room))[1]
                                      .get("joined", {}) for x in users),
                      "%s sees all three members (it has %s)" % (
                          u.user_id, u.client("GET", "/rooms/%s/joined_members" % q(room))[1]))
        sent = {}
        for u in users:
            text = "from %s %s" % (u.peer.label, uuid.uuid4().hex[:6])
            st, ev = u.client("PUT", "/rooms/%s/send/m.room.message/%s" % (q(room), uuid.uuid4().hex),
                              {"msgtype": "m.text", "body": text})
            self.assertEqual(st, 200, ev)
            sent[text] = ev["event_id"]
        for u in users:
            self.wait(lambda u=u: all(self.message_ids(u, room).get(t) == i for t, i in sent.items()),
                      "%s has every message under its ID" % u.user_id)
        # The same state everywhere.
        views = []
        for u in users:
            st, state = u.client("GET", "/rooms/%s/state" % q(room))
            self.assertEqual(st, 200, state)
            views.append({(e["type"], e["state_key"]): e["event_id"] for e in state})
        self.assertEqual(views[0], views[1])
        self.assertEqual(views[0], views[2])


if __name__ == "__main__":
    unittest.main()
