"""Interop with the reference homeserver: a Despatch server and a Synapse (1.98, from
../shared/peers/synapse) federate on loopback over TLS, each trusting the tests' CA. A
Despatch user joins a Synapse room and a Synapse user joins a Despatch room, in room
versions 11, 10, 6 and 3 (standard-base64 event IDs), and messages go both ways with the same event IDs,
and a Despatch user who joins a Synapse room pages back into the history from before the join.
"""

import os
import shutil
import tempfile
import time
import unittest
import uuid

from harness import q
from synapse_peer import SynapsePeer, ensure_built, synapse_dir
from test_federation_keys import Peer, make_ca, make_cert

V3 = "/_matrix/client/v3"


def wait_for(fn, timeout=30.0, interval=0.3):
    """Polls fn until it returns a true value; returns the last value."""
    deadline = time.time() + timeout
    value = fn()
    while not value and time.time() < deadline:
        time.sleep(interval)
        value = fn()
    return value


@unittest.skipUnless(synapse_dir(), "the Synapse peer package is not on this machine")
class SynapseInteropTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="despatch-synapse-")
        build = ensure_built()
        make_ca(cls.tmp, "ca")
        make_cert(cls.tmp, "ca", "server")
        ca = os.path.join(cls.tmp, "ca.pem")
        cert, key = os.path.join(cls.tmp, "server.pem"), os.path.join(cls.tmp, "server.key")
        cls.s = SynapsePeer(cls.tmp, "S", cls.tmp, "ca", build)
        cls.d = Peer(cls.tmp, "D", [cls.s.name], ca, cert, key)
        try:
            cls.d.start()
            cls.s.start()
        except Exception:
            cls.tearDownClass()
            raise
        cls.s_user, cls.s_token = cls.s.register("s" + uuid.uuid4().hex[:8])

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("DESPATCH_TEST_LOGS"):
            print("---- despatch\n%s" % cls.d.fx.stderr_text()[-6000:])
            print("---- synapse\n%s" % cls.s.log_tail(12000))
        cls.d.fx.teardown()
        cls.s.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def syn(self, method, path, body=None):
        return self.s.http(method, V3 + path, body=body, token=self.s_token)

    def timeline_bodies(self, get_sync, room):
        st, sync = get_sync()
        if st != 200:
            return []
        room_sync = sync.get("rooms", {}).get("join", {}).get(room, {})
        return [(e.get("event_id"), e.get("content", {}).get("body"))
                for e in room_sync.get("timeline", {}).get("events", []) if e.get("type") == "m.room.message"]

    def messages(self, http, room):
        st, body = http("GET", "/rooms/%s/messages?dir=b&limit=50" % q(room))
        if st != 200:
            return {}
        return {e.get("content", {}).get("body"): e["event_id"] for e in body.get("chunk", [])
                if e.get("type") == "m.room.message"}

    def chat_both_ways(self, room, tag):
        st, sent = self.syn("PUT", "/rooms/%s/send/m.room.message/t%s" % (q(room), uuid.uuid4().hex),
                            {"msgtype": "m.text", "body": "from synapse " + tag})
        self.assertEqual(st, 200, sent)
        got = wait_for(lambda: self.messages(self.d.client, room).get("from synapse " + tag))
        self.assertEqual(got, sent["event_id"], "Synapse's message did not reach Despatch")
        st, sent = self.d.client("PUT", "/rooms/%s/send/m.room.message/t%s" % (q(room), uuid.uuid4().hex),
                                 {"msgtype": "m.text", "body": "from despatch " + tag})
        self.assertEqual(st, 200, sent)
        got = wait_for(lambda: self.messages(self.syn, room).get("from despatch " + tag))
        self.assertEqual(got, sent["event_id"], "Despatch's message did not reach Synapse")

    def check_despatch_joins_synapse_room(self, version):
        st, body = self.syn("POST", "/createRoom", {"preset": "public_chat", "room_version": version,
                                                    "name": "Synapse room v" + version})
        self.assertEqual(st, 200, body)
        room = body["room_id"]
        earlier = []
        for i in range(3):
            st, sent = self.syn("PUT", "/rooms/%s/send/m.room.message/e%d" % (q(room), i),
                                {"msgtype": "m.text", "body": "before the join %d" % i})
            self.assertEqual(st, 200, sent)
            earlier.append(sent["event_id"])
        st, body = self.d.client("POST", "/join/%s?via=%s" % (q(room), q(self.s.name)), {})
        self.assertEqual(st, 200, body)
        # History from before the join, fetched from Synapse with /backfill.
        before = self.messages(self.d.client, room)
        self.assertEqual([before.get("before the join %d" % i) for i in range(3)], earlier)
        st, state = self.d.client("GET", "/rooms/%s/state" % q(room))
        self.assertEqual(st, 200, state)
        create = [e for e in state if e["type"] == "m.room.create"]
        self.assertEqual(create[0]["content"].get("room_version"), version)
        self.assertTrue(wait_for(lambda: self.d.user_id in self.syn("GET", "/rooms/%s/joined_members" % q(room))[1]
                                 .get("joined", {})), "Synapse does not see Despatch's user joined")
        self.chat_both_ways(room, "v" + version + " in S")

    def check_synapse_joins_despatch_room(self, version):
        st, body = self.d.client("POST", "/createRoom", {"preset": "public_chat", "room_version": version,
                                                         "name": "Despatch room v" + version})
        self.assertEqual(st, 200, body)
        room = body["room_id"]
        st, body = self.syn("POST", "/join/%s?server_name=%s" % (q(room), q(self.d.name)), {})
        self.assertEqual(st, 200, body)
        st, members = self.d.client("GET", "/rooms/%s/joined_members" % q(room))
        self.assertEqual(st, 200, members)
        self.assertIn(self.s_user, members["joined"])
        st, name = self.syn("GET", "/rooms/%s/state/m.room.name/" % q(room))
        self.assertEqual((st, name.get("name")), (200, "Despatch room v" + version))
        self.chat_both_ways(room, "v" + version + " in D")

    def test_despatch_joins_synapse_room_v11(self):
        self.check_despatch_joins_synapse_room("11")

    def test_synapse_joins_despatch_room_v11(self):
        self.check_synapse_joins_despatch_room("11")

    def test_despatch_joins_synapse_room_v10(self):
        self.check_despatch_joins_synapse_room("10")

    def test_synapse_joins_despatch_room_v10(self):
        self.check_synapse_joins_despatch_room("10")

    def test_despatch_joins_synapse_room_v3(self):
        self.check_despatch_joins_synapse_room("3")

    def test_synapse_joins_despatch_room_v3(self):
        self.check_synapse_joins_despatch_room("3")

    def test_despatch_joins_synapse_room_v6(self):
        self.check_despatch_joins_synapse_room("6")

    def test_synapse_joins_despatch_room_v6(self):
        self.check_synapse_joins_despatch_room("6")


if __name__ == "__main__":
    unittest.main()
