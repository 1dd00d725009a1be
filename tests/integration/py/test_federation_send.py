"""Transactions between two real Despatch servers on loopback (A and B, each allowing the
other). Room joins over federation are built elsewhere, so B's user joins A's room by a
join PDU this test builds and signs with B's own signing key, sent to A's /send by hand
(X-Matrix header from `despatch federation sign-request`). Shown here: a valid PDU is
accepted and reaches the local user's /sync; a repeated transaction ID is answered from
memory; a forged signature, an unknown room, an oversized PDU and a sender whose server is
not allowed are refused and not stored; a PDU with an unknown prev event makes A ask the
origin (get_missing_events); A's own events reach B through A's queue, also across a
stop of B. B does not know A's room (no joins yet), so what B received is read from its
metrics, and what A delivered from A's.
"""

import base64
import hashlib
import json
import os
import time
import unittest
import uuid

import nacl.signing

from harness import q
from federation_helpers import PairTestCase
from test_federation_keys import federation_request

SEND = "/_matrix/federation/v1/send/"


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def b64(raw, urlsafe=False):
    s = base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)
    return s.decode().rstrip("=")


KEEP_TOP = {"event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures", "depth",
            "prev_events", "auth_events", "origin_server_ts"}
KEEP_CONTENT = {"m.room.member": {"membership", "join_authorised_via_users_server"}}


def redact(ev):
    out = {k: v for k, v in ev.items() if k in KEEP_TOP}
    out["content"] = {k: v for k, v in ev.get("content", {}).items() if k in KEEP_CONTENT.get(ev["type"], set())}
    return out


def sign_pdu(ev, server, key_version, signing_key):
    """Hashes and signs a room version 11 event as server; returns its event ID."""
    ev.pop("hashes", None)
    ev.pop("signatures", None)
    ev["hashes"] = {"sha256": b64(hashlib.sha256(canonical(ev)).digest())}
    redacted = redact(ev)
    sig = signing_key.sign(canonical(redacted)).signature
    ev["signatures"] = {server: {"ed25519:" + key_version: b64(sig)}}
    ref = dict(redact(ev))
    ref.pop("signatures", None)
    return "$" + b64(hashlib.sha256(canonical(ref)).digest(), urlsafe=True)


class FederationSendTest(PairTestCase):
    PREFIX = "despatch-fed-send-"

    @classmethod
    def prepare(cls):
        with open(os.path.join(cls.b.fx.data_dir, "signing.key")) as f:
            _, cls.b_key_version, seed = f.read().split()
        cls.b_key = nacl.signing.SigningKey(base64.b64decode(seed + "=" * (-len(seed) % 4)))
        cls.bob = "@bob:" + cls.b.name
        st, body = cls.a.client("POST", "/createRoom", {"preset": "public_chat", "room_version": "11"})
        assert st == 200, body
        cls.room = body["room_id"]
        cls.join_id = cls.send_join()

    # ---- helpers ------------------------------------------------------------------------

    @classmethod
    def federation(cls, peer, method, target, origin_peer, body=None, origin=None):
        res_header = origin_peer.sign(peer.name, target, method=method, origin=origin) if body is None else None
        if body is not None:
            from harness import run_cli
            res = run_cli("federation", "sign-request", "--data", origin_peer.fx.data_dir, "--server-name",
                          origin or origin_peer.name, "--destination", peer.name, "--method", method, "--uri", target,
                          "--content", json.dumps(body))
            assert res.returncode == 0, res.stderr
            res_header = res.stdout.strip()
        return federation_request(cls.ca, peer, method, target, res_header, body, timeout=30)

    @classmethod
    def room_head(cls, room=None):
        """(latest event ID, its depth, state event IDs by (type, state_key)) of A's room."""
        st, page = cls.a.client("GET", "/rooms/%s/messages?dir=b&limit=100" % q(room or cls.room))
        assert st == 200, page
        st, state = cls.a.client("GET", "/rooms/%s/state" % q(room or cls.room))
        assert st == 200, state
        ids = {(e["type"], e.get("state_key", "")): e["event_id"] for e in state}
        return page["chunk"][0]["event_id"], len(page["chunk"]), ids

    @classmethod
    def pdu(cls, type_, content, state_key=None, sender=None, prev=None, auth=None, room=None, head_of=None):
        """An event of B's user; prev and auth events from the head of head_of (default the
        test's room), room_id room (the same by default)."""
        head, depth, ids = cls.room_head(head_of)
        ev = {"type": type_, "room_id": room or cls.room, "sender": sender or cls.bob, "content": content,
              "origin_server_ts": int(time.time() * 1000), "depth": depth + 1,
              "prev_events": prev or [head],
              "auth_events": auth or [ids[("m.room.create", "")], ids[("m.room.power_levels", "")],
                                      ids.get(("m.room.member", cls.bob), ids[("m.room.join_rules", "")])]}
        if state_key is not None:
            ev["state_key"] = state_key
        event_id = sign_pdu(ev, cls.b.name, cls.b_key_version, cls.b_key)
        return ev, event_id

    @classmethod
    def send_txn(cls, pdus, txn=None):
        txn = txn or uuid.uuid4().hex
        body = {"origin": cls.b.name, "origin_server_ts": int(time.time() * 1000), "pdus": pdus}
        return cls.federation(cls.a, "PUT", SEND + txn, cls.b, body=body)

    @classmethod
    def send_join(cls, room=None):
        ev, event_id = cls.pdu("m.room.member", {"membership": "join"}, state_key=cls.bob, room=room, head_of=room)
        st, body = cls.send_txn([ev])
        assert st == 200 and body["pdus"] == {event_id: {}}, (st, body)
        return event_id

    def stored_on_a(self, event_id):
        st, _ = self.federation(self.a, "GET", "/_matrix/federation/v1/event/" + q(event_id), self.b)
        return st == 200

    def wait_for(self, what, timeout=40):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if what():
                return True
            time.sleep(0.25)
        return False

    # ---- incoming ------------------------------------------------------------------------

    def test_a_remote_message_reaches_sync_once(self):
        st, members = self.a.client("GET", "/rooms/%s/joined_members" % q(self.room))
        self.assertEqual(st, 200)
        self.assertIn(self.bob, members["joined"])
        ev, event_id = self.pdu("m.room.message", {"msgtype": "m.text", "body": "hello from B"})
        before = self.a.metrics()
        txn = uuid.uuid4().hex
        st, body = self.send_txn([ev], txn)
        self.assertEqual((st, body), (200, {"pdus": {event_id: {}}}))
        st, again = self.send_txn([ev], txn)
        self.assertEqual((st, again), (200, body))
        after = self.a.metrics()
        self.assertEqual(after["federation_txn_received"] - before["federation_txn_received"], 1)
        self.assertEqual(after["federation_txn_replayed"] - before["federation_txn_replayed"], 1)
        self.assertEqual(after["federation_pdus_accepted"] - before["federation_pdus_accepted"], 1)
        st, sync = self.a.client("GET", "/sync")
        self.assertEqual(st, 200)
        timeline = sync["rooms"]["join"][self.room]["timeline"]["events"]
        self.assertIn("hello from B", [e["content"].get("body") for e in timeline])
        self.assertEqual([e["event_id"] for e in timeline].count(event_id), 1)
        self.assertTrue(self.stored_on_a(event_id))

    def test_a_transaction_spanning_rooms_reaches_each_room(self):
        # The rooms of one transaction are received side by side; each PDU gets its own answer.
        others = []
        for _ in range(3):
            st, body = self.a.client("POST", "/createRoom", {"preset": "public_chat", "room_version": "11"})
            self.assertEqual(st, 200, body)
            others.append(body["room_id"])
            self.send_join(body["room_id"])
        pdus, ids = [], {}
        for room in [self.room] + others:
            ev, event_id = self.pdu("m.room.message", {"msgtype": "m.text", "body": "to " + room}, room=room,
                                    head_of=room)
            pdus.append(ev)
            ids[event_id] = room
        wrong_room, _ = self.pdu("m.room.message", {"msgtype": "m.text", "body": "x"}, room="!nowhere:" + self.a.name)
        st, body = self.send_txn(pdus + [wrong_room])
        self.assertEqual(st, 200, body)
        self.assertEqual(len(body["pdus"]), 5, body)
        for event_id in ids:
            self.assertEqual(body["pdus"][event_id], {}, event_id)
        st, sync = self.a.client("GET", "/sync")
        self.assertEqual(st, 200)
        for event_id, room in ids.items():
            timeline = sync["rooms"]["join"][room]["timeline"]["events"]
            self.assertIn(event_id, [e["event_id"] for e in timeline], room)

    def test_bad_pdus_are_refused_and_not_stored(self):
        forged, forged_id = self.pdu("m.room.message", {"msgtype": "m.text", "body": "forged"})
        forged["content"]["body"] = "forged"  # unchanged content, broken signature
        sig = forged["signatures"][self.b.name]
        (kid, value), = sig.items()
        sig[kid] = ("A" if value[0] != "A" else "B") + value[1:]
        wrong_room, _ = self.pdu("m.room.message", {"msgtype": "m.text", "body": "x"},
                                 room="!nowhere:" + self.a.name)
        huge, huge_id = self.pdu("m.room.message", {"msgtype": "m.text", "body": "x" * 70000})
        stranger, stranger_id = self.pdu("m.room.message", {"msgtype": "m.text", "body": "x"},
                                         sender="@eve:127.0.0.1:1")
        st, body = self.send_txn([forged, wrong_room, huge, stranger, 42])
        self.assertEqual(st, 200, body)
        answers = body["pdus"]
        self.assertEqual(len(answers), 5, answers)
        for key, answer in answers.items():
            self.assertIn("error", answer, key)
        self.assertIn("signature", answers[forged_id]["error"].lower())
        self.assertIn("allow-list", answers[stranger_id]["error"])
        self.assertIn(huge_id, answers)
        for event_id in (forged_id, huge_id, stranger_id):
            self.assertFalse(self.stored_on_a(event_id), event_id)
        # More PDUs than a transaction may carry: the whole request is refused.
        st, body = self.send_txn([{}] * 51)
        self.assertEqual((st, body.get("errcode")), (400, "M_BAD_JSON"))

    def test_an_unknown_prev_event_is_asked_of_the_origin(self):
        before = self.a.metrics()
        ev, event_id = self.pdu("m.room.message", {"msgtype": "m.text", "body": "after a gap"},
                                prev=["$unknownprev" + uuid.uuid4().hex])
        st, body = self.send_txn([ev])
        self.assertEqual(st, 200, body)
        self.assertIn("error", body["pdus"][event_id])
        self.assertIn("unknown", body["pdus"][event_id]["error"])
        # A asked B (get_missing_events; B does not know the room and refuses).
        self.assertGreater(self.a.metrics()["federation_outgoing"] - before["federation_outgoing"], 0)
        self.assertFalse(self.stored_on_a(event_id))

    # ---- outgoing ------------------------------------------------------------------------

    def test_local_events_are_delivered_to_b_across_a_restart_of_b(self):
        b_before = self.b.metrics()
        a_before = self.a.metrics()
        st, _ = self.a.client("PUT", "/rooms/%s/send/m.room.message/%s" % (q(self.room), uuid.uuid4().hex),
                              {"msgtype": "m.text", "body": "to B"})
        self.assertEqual(st, 200)
        self.assertTrue(self.wait_for(
            lambda: self.b.metrics()["federation_pdus_received"] - b_before["federation_pdus_received"] >= 1))
        self.assertTrue(self.wait_for(lambda: self.a.metrics()["federation_queue_backlog"] == 0))
        self.assertGreaterEqual(self.a.metrics()["federation_txn_sent"] - a_before["federation_txn_sent"], 1)

        self.b.fx.stop()
        failures = self.a.metrics()["federation_txn_send_failures"]
        for i in range(3):
            st, _ = self.a.client("PUT", "/rooms/%s/send/m.room.message/%s" % (q(self.room), uuid.uuid4().hex),
                                  {"msgtype": "m.text", "body": "while B is down %d" % i})
            self.assertEqual(st, 200)
        self.assertTrue(self.wait_for(lambda: self.a.metrics()["federation_txn_send_failures"] > failures))
        # Queued in a commit of its own just after each event's: soon, not before the reply.
        self.assertTrue(self.wait_for(lambda: self.a.metrics()["federation_queue_backlog"] == 3))
        time.sleep(2)
        self.b.fx.start()
        self.assertTrue(self.wait_for(lambda: self.a.metrics()["federation_queue_backlog"] == 0, timeout=60))
        # B restarted with fresh counters: exactly the three it missed, none twice.
        time.sleep(1)
        self.assertEqual(self.b.metrics()["federation_pdus_received"], 3)
        # In one or two transactions: a batch is fixed at its first attempt, so one retried
        # while the later events were queued carries only the earlier ones.
        self.assertIn(self.b.metrics()["federation_txn_received"], (1, 2, 3))


if __name__ == "__main__":
    unittest.main()
