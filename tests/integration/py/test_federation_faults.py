"""Federation under faults, between real Despatch servers on loopback (test CA; A and B allow
each other, C allows A but A does not allow C). No mocks: servers are stopped, killed and
restarted on their own data folders.

- A server down for a minute: B is killed while A's user sends 30 messages over a minute,
  and comes back just after one of A's retries, when A's next one is a minute away; all 30
  reach B promptly (B's start tells A it is back), in order and once each, and B's user is
  heard by A again.
- Both sides change the room's state while apart: A changes the topic and power levels while
  B is down, then B while A is down (B's events not queued for A: B ran without A on its
  allow-list then). Once they are back, A's fork reaches B through A's queue and B's fork
  reaches A through get_missing_events when B's next message names it; both end with the
  same state and keep chatting.
- Refusals that store nothing: a server off the allow-list both ways, forged and wrongly
  keyed signatures, a PDU in the name of another server, an X-Matrix origin that does not
  match the key, a transaction whose origin is not its signer, an oversized PDU. Each is
  looked for in A's events table (sqlite3) and over the client API's /event.
"""

import base64
import os
import signal
import sqlite3
import time
import unittest
import uuid

import nacl.signing

from federation_helpers import PeerPair
from harness import q
from test_federation_keys import Peer
from test_federation_send import SEND, sign_pdu


def wait_until(what, timeout, step=0.25):
    """Polls what() until it returns something true; returns it, or None after timeout."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = what()
        if found:
            return found
        time.sleep(step)
    return None


def in_events_table(peer, event_id):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(peer.fx.data_dir, "despatch.db"), uri=True)
    try:
        return db.execute("SELECT count(*) FROM events WHERE event_id=?", (event_id,)).fetchone()[0] > 0
    finally:
        db.close()


class FederationFaultsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pair = PeerPair("despatch-faults-")
        cls.a, cls.b = cls.pair.a, cls.pair.b
        tmp = cls.pair.tmp
        cls.c = Peer(tmp, "C", [cls.a.name], cls.pair.ca, os.path.join(tmp, "server.pem"),
                     os.path.join(tmp, "server.key"))
        cls.pair.peers.append(cls.c)
        cls.pair.start()

    @classmethod
    def tearDownClass(cls):
        cls.pair.stop()

    def tearDown(self):
        if os.environ.get("DESPATCH_TEST_LOGS"):
            for p in self.pair.peers:
                print("---- %s\n%s" % (p.label, p.fx.stderr_text()[-6000:]))

    # ---- helpers -----------------------------------------------------------------------

    def shared_room(self, **extra):
        """A public room of A that B's user has joined over federation."""
        body = {"preset": "public_chat", "name": "Faults"}
        body.update(extra)
        st, res = self.a.client("POST", "/createRoom", body)
        self.assertEqual(st, 200, res)
        room = res["room_id"]
        st, res = self.b.client("POST", "/join/%s?via=%s" % (q(room), q(self.a.name)), {})
        self.assertEqual(st, 200, res)
        return room

    def send(self, peer, room, text):
        st, res = peer.client("PUT", "/rooms/%s/send/m.room.message/%s" % (q(room), uuid.uuid4().hex),
                              {"msgtype": "m.text", "body": text})
        self.assertEqual(st, 200, res)
        return res["event_id"]

    def has_event(self, peer, room, event_id):
        st, _ = peer.client("GET", "/rooms/%s/event/%s" % (q(room), q(event_id)))
        return st == 200

    def messages(self, peer, room):
        """Every m.room.message of room on peer, oldest first, paging /messages backwards."""
        events, token = [], None
        for _ in range(20):
            path = "/rooms/%s/messages?dir=b&limit=100" % q(room) + ("&from=" + q(token) if token else "")
            st, page = peer.client("GET", path)
            self.assertEqual(st, 200, page)
            events += page["chunk"]
            token = page.get("end")
            if not token or not page["chunk"]:
                break
        return [e for e in reversed(events) if e["type"] == "m.room.message"]

    def state_ids(self, peer, room):
        st, state = peer.client("GET", "/rooms/%s/state" % q(room))
        self.assertEqual(st, 200, state)
        return {(e["type"], e["state_key"]): e["event_id"] for e in state}

    def put_state(self, peer, room, type_, content):
        st, res = peer.client("PUT", "/rooms/%s/state/%s/" % (q(room), type_), content)
        self.assertEqual(st, 200, res)
        return res["event_id"]

    def power_levels(self, peer, room):
        st, pl = peer.client("GET", "/rooms/%s/state/m.room.power_levels/" % q(room))
        self.assertEqual(st, 200, pl)
        return pl

    def set_allow(self, peer, others):
        args = peer.fx.extra_args
        while "--federation-allow" in args:
            i = args.index("--federation-allow")
            del args[i:i + 2]
        for o in others:
            args += ["--federation-allow", o]

    # ---- 1. a server down for a minute -------------------------------------------------

    def test_backlog_of_a_minute_arrives_once_and_in_order(self):
        room = self.shared_room()
        first = self.send(self.a, room, "before the outage")
        self.assertTrue(wait_until(lambda: self.has_event(self.b, room, first), 20), "B never had the first")
        self.assertTrue(wait_until(lambda: self.a.metrics()["federation_queue_backlog"] == 0, 20))

        self.b.fx.stop(signal.SIGKILL)
        failures = self.a.metrics()["federation_txn_send_failures"]
        sent = []
        for i in range(30):
            sent.append(self.send(self.a, room, "while B is down %d" % i))
            time.sleep(2)
        # A backs off 1, 2, 4, ... 32 s: its seventh attempt comes 63 s after the first, the
        # eighth 64 s after that. B returns just after the seventh.
        self.assertTrue(wait_until(lambda: self.a.metrics()["federation_txn_send_failures"] >= failures + 7, 40),
                        "A did not keep retrying")
        self.assertGreaterEqual(self.a.metrics()["federation_queue_backlog"], 30)
        self.b.fx.start()
        back = time.time()
        self.assertTrue(wait_until(lambda: self.a.metrics()["federation_queue_backlog"] == 0, 20),
                        "A's backlog did not go within 20 s of B's return")

        def the_thirty():
            down = [e for e in self.messages(self.b, room) if e["content"]["body"].startswith("while B is down")]
            return down if len(down) >= 30 else None
        got = wait_until(the_thirty, 20)
        self.assertIsNotNone(got, "B does not show the 30 messages")
        self.assertLess(time.time() - back, 25)
        ids = [e["event_id"] for e in got]
        self.assertEqual(len(ids), len(set(ids)), "no event twice")
        self.assertEqual(ids, sent, "all 30, in the order sent")
        self.assertEqual([e["content"]["body"] for e in got], ["while B is down %d" % i for i in range(30)])
        # B's sync shows each once too.
        st, sync = self.b.client("GET", "/sync?timeout=0")
        self.assertEqual(st, 200, sync)
        timeline = [e["event_id"] for e in sync["rooms"]["join"][room]["timeline"]["events"]]
        self.assertEqual(len(timeline), len(set(timeline)))
        # And B's user is heard on A again.
        reply = self.send(self.b, room, "back again")
        self.assertTrue(wait_until(lambda: self.has_event(self.a, room, reply), 20), "A never had B's reply")
        self.assertEqual([e["event_id"] for e in self.messages(self.a, room)][-1], reply)

    # ---- 2. both change the room's state while apart ------------------------------------

    def test_state_changed_on_both_sides_while_apart_converges(self):
        room = self.shared_room()
        pl = self.power_levels(self.a, room)
        pl["users"][self.b.user_id] = 100
        pl_both = self.put_state(self.a, room, "m.room.power_levels", pl)
        self.assertTrue(wait_until(lambda: self.has_event(self.b, room, pl_both), 20))
        self.assertTrue(wait_until(lambda: self.a.metrics()["federation_queue_backlog"] == 0, 20))

        # Apart: A writes while B is down ...
        self.b.fx.stop()
        topic_a = self.put_state(self.a, room, "m.room.topic", {"topic": "set on A while apart"})
        pl = self.power_levels(self.a, room)
        pl["users"]["@clerk:" + self.a.name] = 50
        pl_a = self.put_state(self.a, room, "m.room.power_levels", pl)
        # A's side of the split grows deeper than B's: B's fork lies below A's extremities.
        alone_a = [self.send(self.a, room, "A alone %d" % i) for i in range(6)]
        self.assertTrue(wait_until(lambda: self.a.metrics()["federation_queue_backlog"] >= 8, 10))
        self.a.fx.stop()
        # ... then B while A is down, with A off B's allow-list, so that nothing of B's fork
        # is queued for A: it can reach A only when A asks for it.
        self.set_allow(self.b, [])
        self.b.fx.start()
        topic_b = self.put_state(self.b, room, "m.room.topic", {"topic": "set on B while apart"})
        pl = self.power_levels(self.b, room)
        pl["users"]["@officer:" + self.b.name] = 50
        pl_b = self.put_state(self.b, room, "m.room.power_levels", pl)
        self.b.fx.stop()

        self.set_allow(self.b, [self.a.name])
        self.b.fx.start()
        self.a.fx.start()
        # A's queue brings A's fork to B.
        self.assertTrue(wait_until(lambda: self.has_event(self.b, room, alone_a[-1]), 30), "A's fork never reached B")
        for event_id in [topic_a, pl_a] + alone_a:
            self.assertTrue(self.has_event(self.b, room, event_id), event_id)
        self.assertFalse(self.has_event(self.a, room, topic_b))
        # B's next message names B's fork as a prev event: A asks B for what it misses.
        from_b = self.send(self.b, room, "B after the split")
        self.assertTrue(wait_until(lambda: self.has_event(self.a, room, from_b), 30), "A never took B's message")
        for event_id in (topic_b, pl_b):
            self.assertTrue(self.has_event(self.a, room, event_id), event_id)
        # Only the message went in a transaction since B's start: the fork was fetched.
        self.assertEqual(self.b.metrics()["federation_pdus_sent"], 1)
        from_a = self.send(self.a, room, "A after the split")
        self.assertTrue(wait_until(lambda: self.has_event(self.b, room, from_a), 30), "B never took A's message")

        same = wait_until(lambda: self.state_ids(self.a, room) == self.state_ids(self.b, room), 20)
        if not same:
            self.assertEqual(self.state_ids(self.a, room), self.state_ids(self.b, room))
        state = self.state_ids(self.a, room)
        self.assertIn(state[("m.room.topic", "")], (topic_a, topic_b))
        self.assertIn(state[("m.room.power_levels", "")], (pl_a, pl_b))
        # Both keep chatting, each message seen on the other side.
        more_a = self.send(self.a, room, "still talking from A")
        more_b = self.send(self.b, room, "still talking from B")
        self.assertTrue(wait_until(lambda: self.has_event(self.b, room, more_a), 20))
        self.assertTrue(wait_until(lambda: self.has_event(self.a, room, more_b), 20))
        self.assertTrue(wait_until(lambda: self.state_ids(self.a, room) == self.state_ids(self.b, room), 20))

    # ---- 3. refusals that store nothing -------------------------------------------------

    def not_stored(self, room, event_id):
        self.assertFalse(in_events_table(self.a, event_id), event_id)
        st, body = self.a.client("GET", "/rooms/%s/event/%s" % (q(room), q(event_id)))
        self.assertEqual((st, body.get("errcode")), (404, "M_NOT_FOUND"), event_id)

    def b_key(self):
        with open(os.path.join(self.b.fx.data_dir, "signing.key")) as f:
            _, version, seed = f.read().split()
        return version, nacl.signing.SigningKey(base64.b64decode(seed + "=" * (-len(seed) % 4)))

    def pdu_of_b(self, room, text, sender=None, key=None, size=0):
        """A message of B's user (or sender) in room, signed as B with B's key (or key)."""
        st, page = self.a.client("GET", "/rooms/%s/messages?dir=b&limit=1" % q(room))
        self.assertEqual(st, 200, page)
        head = page["chunk"][0]
        ids = self.state_ids(self.a, room)
        ev = {"type": "m.room.message", "room_id": room, "sender": sender or self.b.user_id,
              "content": {"msgtype": "m.text", "body": text + "x" * size},
              "origin_server_ts": int(time.time() * 1000), "depth": 1000,
              "prev_events": [head["event_id"]],
              "auth_events": [ids[("m.room.create", "")], ids[("m.room.power_levels", "")],
                              ids[("m.room.member", sender or self.b.user_id)]
                              if ("m.room.member", sender or self.b.user_id) in ids
                              else ids[("m.room.member", self.b.user_id)]]}
        version, own = self.b_key()
        event_id = sign_pdu(ev, self.b.name, version, key or own)
        return ev, event_id

    def txn(self, origin, pdus, sign_as=None, body_origin=None):
        body = {"origin": body_origin or sign_as or origin.name, "origin_server_ts": int(time.time() * 1000),
                "pdus": pdus}
        return self.pair.federation(origin, self.a, "PUT", SEND + uuid.uuid4().hex, body, sign_as=sign_as)

    def test_bad_pdus_leave_nothing_stored(self):
        room = self.shared_room(room_version="11")
        forged, forged_id = self.pdu_of_b(room, "forged")
        sig = forged["signatures"][self.b.name]
        (kid, value), = sig.items()
        sig[kid] = ("A" if value[0] != "A" else "B") + value[1:]
        wrong_key, wrong_key_id = self.pdu_of_b(room, "wrong key", key=nacl.signing.SigningKey.generate())
        # In the name of A's own user, signed by B: the sender's server did not sign it.
        as_a, as_a_id = self.pdu_of_b(room, "in A's name", sender=self.a.user_id)
        huge, huge_id = self.pdu_of_b(room, "huge", size=66000)
        before = self.a.metrics()
        st, body = self.txn(self.b, [forged, wrong_key, as_a, huge])
        self.assertEqual(st, 200, body)
        answers = body["pdus"]
        self.assertEqual(set(answers), {forged_id, wrong_key_id, as_a_id, huge_id}, answers)
        for event_id, answer in answers.items():
            self.assertIn("error", answer, event_id)
        self.assertEqual(self.a.metrics()["federation_pdus_refused"] - before["federation_pdus_refused"], 4)
        for event_id in (forged_id, wrong_key_id, as_a_id, huge_id):
            self.not_stored(room, event_id)

        # Good PDUs in transactions refused whole: nothing of them stored either.
        good, good_id = self.pdu_of_b(room, "good, in a bad transaction")
        # The X-Matrix origin is B, but A's key signed the request.
        st, body = self.txn(self.a, [good], sign_as=self.b.name)
        self.assertEqual((st, body.get("errcode")), (401, "M_UNAUTHORIZED"), body)
        # Signed by B, but the body says it comes from A.
        st, body = self.txn(self.b, [good], body_origin=self.a.name)
        self.assertEqual((st, body.get("errcode")), (400, "M_BAD_JSON"), body)
        self.not_stored(room, good_id)
        # The same PDU sent properly is stored: the checks above could have seen it.
        st, body = self.txn(self.b, [good])
        self.assertEqual((st, body), (200, {"pdus": {good_id: {}}}))
        self.assertTrue(in_events_table(self.a, good_id))
        self.assertTrue(self.has_event(self.a, room, good_id))

    def test_server_off_the_allow_list_is_refused_both_ways(self):
        room = self.shared_room(room_version="11")
        before_a, before_c = self.a.metrics(), self.c.metrics()
        # C -> A: a transaction from C (a PDU of C's user, signed by C) is refused whole.
        ev = {"type": "m.room.message", "room_id": room, "sender": self.c.user_id,
              "content": {"msgtype": "m.text", "body": "from C"}, "origin_server_ts": int(time.time() * 1000),
              "depth": 1000, "prev_events": [], "auth_events": []}
        with open(os.path.join(self.c.fx.data_dir, "signing.key")) as f:
            _, version, seed = f.read().split()
        event_id = sign_pdu(ev, self.c.name, version,
                            nacl.signing.SigningKey(base64.b64decode(seed + "=" * (-len(seed) % 4))))
        st, body = self.txn(self.c, [ev])
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)
        self.not_stored(room, event_id)
        # C's user asking to join A's room: C asks, A refuses.
        st, body = self.c.client("POST", "/join/%s?via=%s" % (q(room), q(self.a.name)), {})
        self.assertEqual(st, 403, body)
        after_a = self.a.metrics()
        self.assertEqual(after_a["federation_refused_not_allowed"] - before_a["federation_refused_not_allowed"], 2)
        self.assertEqual(after_a["federation_key_fetches"], before_a["federation_key_fetches"])
        st, members = self.a.client("GET", "/rooms/%s/joined_members" % q(room))
        self.assertNotIn(self.c.user_id, members["joined"])

        # A -> C: a join via C and an invite of C's user are refused before any request.
        st, res = self.c.client("POST", "/createRoom", {"preset": "public_chat"})
        self.assertEqual(st, 200, res)
        c_room = res["room_id"]
        before_a = self.a.metrics()
        st, body = self.a.client("POST", "/join/%s?via=%s" % (q(c_room), q(self.c.name)), {})
        self.assertEqual(st, 403, body)
        self.assertEqual(body["errcode"], "M_FORBIDDEN")
        st, body = self.a.client("POST", "/rooms/%s/invite" % q(room), {"user_id": self.c.user_id})
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)
        after_a = self.a.metrics()
        self.assertEqual(after_a["federation_outgoing"], before_a["federation_outgoing"])
        self.assertGreaterEqual(after_a["federation_outgoing_refused_not_allowed"]
                                - before_a["federation_outgoing_refused_not_allowed"], 2)
        after_c = self.c.metrics()
        for k in ("federation_authenticated", "federation_refused_not_allowed", "federation_refused_unauthorized",
                  "federation_txn_received"):
            self.assertEqual(after_c[k], before_c[k], k)
        st, state = self.a.client("GET", "/rooms/%s/state/m.room.member/%s" % (q(room), q(self.c.user_id)))
        self.assertEqual(st, 404, state)
        st, joined = self.a.client("GET", "/joined_rooms")
        self.assertNotIn(c_room, joined["joined_rooms"])


if __name__ == "__main__":
    unittest.main()
