"""Peer departments witness each other's records (two real Despatch servers on loopback).

A sends its newest signed records head to B every second ([records] peer_witness_seconds);
B keeps each one after checking it against A's server key. `POST
/_despatch/admin/v1/records/verify {"peers": true}` on A asks B what it holds and checks the
archive against it. Then someone with root on A stops it, rewrites a record, re-chains and
re-signs everything with A's own key: A's own checks pass, B's copy does not agree, and the
verify names the range of records and the peer. B refuses a head A's key did not sign.

Run: cd tests/integration/py && /usr/bin/python3 -m unittest test_federation_records_witness -v
"""

import copy
import sqlite3
import time
import os

from federation_helpers import PairTestCase, User
from records_forgery import rechain_archive, resign_everything
from records_helpers import db_connect, records_cli

ADMIN = "/_despatch/admin/v1"
HEAD_PATH = "/_matrix/federation/unstable/gov.despatch.records/head"


def peer_heads(peer, origin):
    conn = sqlite3.connect("file:%s?mode=ro" % os.path.join(peer.fx.data_dir, "despatch.db"), uri=True, timeout=10)
    try:
        return conn.execute("SELECT archive_seq, archive_hash FROM peer_record_heads WHERE origin=? ORDER BY ts",
                            (origin,)).fetchall()
    finally:
        conn.close()


class PeerWitnessTest(PairTestCase):
    PREFIX = "despatch-fed-witness-"

    @classmethod
    def configure(cls):
        for p in cls.peers:
            with open(p.fx.config_path, "a") as f:
                f.write("\n[records]\npeer_witness_seconds = 1\n")

    @classmethod
    def prepare(cls):
        cls.alice = User(cls.a)
        st, body = cls.alice.client("POST", "/createRoom", {"preset": "private_chat", "name": "Minutes"})
        assert st == 200, body
        cls.room = body["room_id"]
        cls.events = []
        for i in range(6):
            st, body = cls.alice.client("PUT", "/rooms/%s/send/m.room.message/t%d" % (cls.room, i),
                                        {"msgtype": "m.text", "body": "minute %d" % i})
            assert st == 200, body
            cls.events.append(body["event_id"])
        with db_connect(cls.a.fx.data_dir) as conn:
            cls.target = conn.execute("SELECT seq FROM archive WHERE event_id=?", (cls.events[2],)).fetchone()[0]
            cls.last = conn.execute("SELECT MAX(seq) FROM archive").fetchone()[0]
        deadline = time.time() + 20
        while time.time() < deadline:
            heads = peer_heads(cls.b, cls.a.name)
            if heads and heads[-1][0] >= cls.last:
                return
            time.sleep(0.2)
        raise AssertionError("B never kept a head of A covering record %d: %r" % (cls.last, peer_heads(cls.b, cls.a.name)))

    def verify_with_peers(self, peer):
        st, body = peer.fx.http("POST", ADMIN + "/records/verify", {"peers": True}, token=peer.admin_token)
        self.assertEqual(st, 200, body)
        return body

    def test_1_peer_holds_the_heads_and_agrees(self):
        body = self.verify_with_peers(self.a)
        self.assertTrue(body["ok"], body)
        self.assertEqual([p["server"] for p in body["peers"]], [self.b.name])
        self.assertGreaterEqual(body["peers"][0]["heads"], 1)
        self.assertTrue(body["peers"][0]["ok"], body)

    def test_2_head_not_signed_by_the_origin_is_refused(self):
        st, page = self.a.fx.http("GET", ADMIN + "/records/witness?limit=1", token=self.a.admin_token)
        self.assertEqual(st, 200, page)
        head = copy.deepcopy(page["head"])
        head["archive_hash"] = "0" * 64
        resp = self.pair.federation(self.a, self.b, "PUT", HEAD_PATH, {"head": head})
        self.assertEqual(resp[0], 403, resp)
        self.assertEqual(resp[1].get("errcode"), "M_FORBIDDEN", resp)
        self.assertNotIn(("0" * 64), [h[1] for h in peer_heads(self.b, self.a.name)])
        resp = self.pair.federation(self.a, self.b, "PUT", HEAD_PATH, {"head": "nope"})
        self.assertEqual(resp[0], 400, resp)

    def test_3_rewrite_resigned_with_the_servers_key_is_caught_by_the_peer(self):
        self.a.fx.stop()
        d = self.a.fx.data_dir
        with db_connect(d) as conn:
            conn.execute("UPDATE archive SET sender='@someone-else:localhost' WHERE seq=?", (self.target,))
            rechain_archive(conn, self.target)
            conn.commit()
        resign_everything(d)
        res = records_cli(d, "verify")
        self.assertEqual(res.returncode, 0, "the re-signed rewrite should pass A's own checks: %s" % res.stdout)
        self.a.fx.start()
        body = self.verify_with_peers(self.a)
        self.assertFalse(body["ok"], body)
        check = body["peers"][0]
        self.assertFalse(check["ok"], check)
        self.assertLessEqual(check["first_bad_seq"], self.target, check)
        self.assertIn("was rewritten", check["problem"])
        self.assertIn(self.b.name, check["problem"])
