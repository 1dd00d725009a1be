"""End-to-end encryption and EDUs between two real Despatch servers on loopback (certificates
from a test CA): the federation API's user/keys/query, user/keys/claim and user/devices for
a server's own users (and refusals for others'); a client's /keys/query and /keys/claim for
users of the other server, answered by that server; a new or removed device on B reaching
A's /sync device_lists.changed, /keys/changes and /keys/query through m.device_list_update;
B's typing and read receipts in A's /sync; to-device messages across servers.

A user of B joins a public room of A once for the module; the tests then share that room.
"""

import json
import os
import sqlite3
import time
import unittest
import uuid

from e2ee_helpers import CrossSigningKeys, FakeDevice
from harness import free_port, q, run_cli
from federation_helpers import PairTestCase
from test_federation_keys import USER_PASSWORD, V3, federation_request



class Device:
    """A logged-in device of a peer's user with real olm keys uploaded."""

    def __init__(self, peer, otks=5, cross_signing=None):
        self.peer = peer
        if getattr(peer, "first_device", None) is None:
            self.user_id, self.token, self.device_id = peer.user_id, peer.user_token, None
            st, who = peer.fx.http("GET", V3 + "/account/whoami", token=self.token)
            assert st == 200, (st, who)
            self.device_id = who["device_id"]
            peer.first_device = self
        else:
            localpart = peer.user_id[1:].split(":")[0]
            st, body = peer.fx.login(localpart, USER_PASSWORD)
            assert st == 200, (st, body)
            self.user_id, self.token, self.device_id = body["user_id"], body["access_token"], body["device_id"]
        self.olm = FakeDevice(self.user_id, self.device_id)
        dk = self.olm.device_keys()
        if cross_signing:
            dk = cross_signing.sign_device(dk)
        self.uploaded_otks = self.olm.one_time_keys(otks)
        st, body = self.http("POST", "/keys/upload", {"device_keys": dk, "one_time_keys": self.uploaded_otks})
        assert st == 200, (st, body)

    def http(self, method, path, body=None):
        return self.peer.fx.http(method, V3 + path, body=body, token=self.token)


class FederationE2eeTest(PairTestCase):
    PREFIX = "despatch-e2ee-fed-"

    @classmethod
    def configure(cls):
        # A also allows a server that is never running, to see it listed in failures.
        cls.dead = "127.0.0.1:%d" % free_port()
        cls.a.fx.extra_args += ["--federation-allow", cls.dead]

    @classmethod
    def prepare(cls):
        cls.b_cs = CrossSigningKeys(cls.b.user_id)
        cls.a_dev = Device(cls.a, otks=5)
        cls.b_dev = Device(cls.b, otks=5, cross_signing=cls.b_cs)
        st, body = cls.b.client("POST", "/keys/device_signing/upload", cls.b_cs.upload_body())
        assert st == 200, (st, body)
        st, body = cls.a.client("POST", "/createRoom", {"preset": "public_chat", "name": "E2EE across"})
        assert st == 200, (st, body)
        cls.room = body["room_id"]
        st, body = cls.b.client("POST", "/join/%s?via=%s" % (q(cls.room), q(cls.a.name)), {})
        assert st == 200, (st, body)

    # ---- helpers

    def fed(self, origin, target_peer, method, uri, body=None):
        """A federation request from origin to target_peer, signed with origin's key (the
        signature covers the body)."""
        args = ["federation", "sign-request", "--data", origin.fx.data_dir, "--server-name", origin.name,
                "--destination", target_peer.name, "--method", method, "--uri", uri]
        if body is not None:
            args += ["--content", json.dumps(body)]
        res = run_cli(*args)
        self.assertEqual(res.returncode, 0, res.stderr)
        return federation_request(self.ca, target_peer, method, uri, res.stdout.strip(), body)

    def sync_token(self, peer):
        st, body = peer.client("GET", "/sync?timeout=0")
        self.assertEqual(st, 200, body)
        return body["next_batch"]

    def sync_until(self, peer, since, pred, what, timeout=20):
        """Incremental /sync of peer's user from since until pred(body) is truthy; returns it."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            st, body = peer.client("GET", "/sync?timeout=1000&since=" + q(since))
            self.assertEqual(st, 200, body)
            found = pred(body)
            if found:
                return found
            since = body["next_batch"]
        self.fail("%s's /sync never showed %s" % (peer.label, what))

    def query(self, peer, user, timeout=None):
        body = {"device_keys": {user: []}}
        if timeout is not None:
            body["timeout"] = timeout
        st, out = peer.client("POST", "/keys/query", body)
        self.assertEqual(st, 200, out)
        return out

    # ---- the federation API, resident side

    def test_federation_user_keys_query_answers_for_local_users_only(self):
        uri = "/_matrix/federation/v1/user/keys/query"
        st, body = self.fed(self.a, self.b, "POST", uri, {"device_keys": {self.b.user_id: []}})
        self.assertEqual(st, 200, body)
        keys = body["device_keys"][self.b.user_id][self.b_dev.device_id]
        self.assertEqual(keys["keys"]["ed25519:" + self.b_dev.device_id], self.b_dev.olm.ed25519)
        self.assertIn("ed25519:" + self.b_cs.self_signing.public_key, keys["signatures"][self.b.user_id],
                      "the self-signing signature goes with the device")
        self.assertEqual(body["master_keys"][self.b.user_id]["keys"],
                         self.b_cs.master_key()["keys"])
        self.assertIn(self.b.user_id, body["self_signing_keys"])
        self.assertNotIn("user_signing_keys", body, "never for another server")
        # A user of another server: refused.
        st, body = self.fed(self.a, self.b, "POST", uri, {"device_keys": {self.a.user_id: []}})
        self.assertEqual(st, 400, body)
        self.assertEqual(body["errcode"], "M_INVALID_PARAM")

    def test_federation_user_devices_has_stream_id_devices_and_cross_signing(self):
        uri = "/_matrix/federation/v1/user/devices/" + q(self.b.user_id)
        st, body = self.fed(self.a, self.b, "GET", uri)
        self.assertEqual(st, 200, body)
        self.assertEqual(body["user_id"], self.b.user_id)
        self.assertIsInstance(body["stream_id"], int)
        self.assertGreater(body["stream_id"], 0)
        ids = {d["device_id"]: d for d in body["devices"]}
        self.assertIn(self.b_dev.device_id, ids)
        self.assertEqual(ids[self.b_dev.device_id]["keys"]["keys"]["curve25519:" + self.b_dev.device_id],
                         self.b_dev.olm.curve25519)
        self.assertEqual(body["master_key"]["keys"], self.b_cs.master_key()["keys"])
        self.assertIn("self_signing_key", body)
        st, body = self.fed(self.a, self.b, "GET", "/_matrix/federation/v1/user/devices/" + q(self.a.user_id))
        self.assertEqual(st, 400, body)
        st, body = self.fed(self.a, self.b, "GET",
                            "/_matrix/federation/v1/user/devices/" + q("@nobody:" + self.b.name))
        self.assertEqual(st, 404, body)

    def test_federation_user_keys_claim_takes_a_key_once(self):
        dev = Device(self.b, otks=2)
        uri = "/_matrix/federation/v1/user/keys/claim"
        want = {"one_time_keys": {self.b.user_id: {dev.device_id: "signed_curve25519"}}}
        claimed = []
        for _ in range(2):
            st, body = self.fed(self.a, self.b, "POST", uri, want)
            self.assertEqual(st, 200, body)
            (key_id, key), = body["one_time_keys"][self.b.user_id][dev.device_id].items()
            self.assertIn(key_id, dev.uploaded_otks)
            claimed.append(key_id)
        self.assertNotEqual(claimed[0], claimed[1], "a one-time key is handed out once")
        st, body = self.fed(self.a, self.b, "POST", uri,
                            {"one_time_keys": {self.a.user_id: {"X": "signed_curve25519"}}})
        self.assertEqual(st, 400, body)

    # ---- the client API for users of the other server

    def test_keys_query_for_a_remote_user_asks_their_server(self):
        out = self.query(self.a, self.b.user_id)
        self.assertEqual(out["failures"], {})
        keys = out["device_keys"][self.b.user_id][self.b_dev.device_id]
        self.assertEqual(keys["keys"]["ed25519:" + self.b_dev.device_id], self.b_dev.olm.ed25519)
        self.assertEqual(keys["user_id"], self.b.user_id)
        self.assertEqual(out["master_keys"][self.b.user_id]["keys"], self.b_cs.master_key()["keys"])
        self.assertIn(self.b.user_id, out["self_signing_keys"])
        # Both ways, and local users keep working beside remote ones in one request.
        st, out = self.b.client("POST", "/keys/query",
                                {"device_keys": {self.a.user_id: [], self.b.user_id: [self.b_dev.device_id]}})
        self.assertEqual(st, 200, out)
        self.assertIn(self.a_dev.device_id, out["device_keys"][self.a.user_id])
        self.assertEqual(list(out["device_keys"][self.b.user_id]), [self.b_dev.device_id])

    def test_unreachable_server_is_listed_in_failures(self):
        started = time.time()
        out = self.query(self.a, "@someone:" + self.dead, timeout=3000)
        self.assertIn(self.dead, out["failures"])
        self.assertLess(time.time() - started, 10, "the client's timeout bounds the wait")
        # The reachable server in the same request still answers.
        st, out = self.a.client("POST", "/keys/query",
                                {"device_keys": {"@someone:" + self.dead: [], self.b.user_id: []}, "timeout": 3000})
        self.assertEqual(st, 200, out)
        self.assertIn(self.dead, out["failures"])
        self.assertNotIn(self.b.name, out["failures"])
        self.assertIn(self.b_dev.device_id, out["device_keys"][self.b.user_id])

    def test_keys_claim_for_a_remote_device(self):
        dev = Device(self.b, otks=3)
        st, out = self.a.client("POST", "/keys/claim",
                                {"one_time_keys": {self.b.user_id: {dev.device_id: "signed_curve25519"}}})
        self.assertEqual(st, 200, out)
        self.assertEqual(out["failures"], {})
        (key_id, key), = out["one_time_keys"][self.b.user_id][dev.device_id].items()
        self.assertIn(key_id, dev.uploaded_otks)
        self.assertEqual(key["key"], dev.uploaded_otks[key_id]["key"])
        st, out = self.a.client("POST", "/keys/claim",
                                {"one_time_keys": {"@x:" + self.dead: {"D": "signed_curve25519"}}, "timeout": 2000})
        self.assertEqual(st, 200, out)
        self.assertIn(self.dead, out["failures"])

    # ---- device lists across servers

    def test_new_and_removed_device_on_b_reach_a(self):
        self.query(self.a, self.b.user_id)  # A holds B's user's list from here on
        since = self.sync_token(self.a)
        dev = Device(self.b, otks=1)

        def changed(body):
            return self.b.user_id in body.get("device_lists", {}).get("changed", [])
        self.sync_until(self.a, since, changed, "B's new device in device_lists.changed")
        st, ch = self.a.client("GET", "/keys/changes?from=%s&to=%s" % (q(since), q(self.sync_token(self.a))))
        self.assertEqual(st, 200, ch)
        self.assertIn(self.b.user_id, ch["changed"])
        # A's copy has the new device (the EDU carried it, or A fetched the list again).
        deadline = time.time() + 10
        while time.time() < deadline:
            out = self.query(self.a, self.b.user_id)
            if dev.device_id in out["device_keys"][self.b.user_id]:
                break
            time.sleep(0.2)
        self.assertIn(dev.device_id, out["device_keys"][self.b.user_id])
        self.assertEqual(out["device_keys"][self.b.user_id][dev.device_id]["keys"]["ed25519:" + dev.device_id],
                         dev.olm.ed25519)
        # A new display name travels too.
        st, body = dev.http("PUT", "/devices/" + q(dev.device_id), {"display_name": "B's laptop"})
        self.assertEqual(st, 200, body)
        deadline = time.time() + 10
        name = None
        while time.time() < deadline and name != "B's laptop":
            out = self.query(self.a, self.b.user_id)
            name = out["device_keys"][self.b.user_id].get(dev.device_id, {}).get("unsigned", {}).get(
                "device_display_name")
            time.sleep(0.2)
        self.assertEqual(name, "B's laptop")
        # Logging out removes the device, on A as well.
        since = self.sync_token(self.a)
        st, body = dev.http("POST", "/logout", {})
        self.assertEqual(st, 200, body)
        self.sync_until(self.a, since, changed, "B's removed device in device_lists.changed")
        deadline = time.time() + 10
        while time.time() < deadline:
            out = self.query(self.a, self.b.user_id)
            if dev.device_id not in out["device_keys"][self.b.user_id]:
                break
            time.sleep(0.2)
        self.assertNotIn(dev.device_id, out["device_keys"][self.b.user_id])
        self.assertIn(self.b_dev.device_id, out["device_keys"][self.b.user_id])

    def cached_list(self, peer, user):
        """(stream_id, stale) of peer's cached copy of user's device list, or None."""
        db = sqlite3.connect(os.path.join(peer.fx.data_dir, "despatch.db"))
        try:
            return db.execute("SELECT stream_id, stale FROM remote_device_lists WHERE user_id=?", (user,)).fetchone()
        finally:
            db.close()

    def b_stream_id(self):
        st, body = self.fed(self.a, self.b, "GET", "/_matrix/federation/v1/user/devices/" + q(self.b.user_id))
        self.assertEqual(st, 200, body)
        return body["stream_id"]

    def wait_cache_at(self, stream_id, what):
        deadline = time.time() + 15
        row = None
        while time.time() < deadline:
            row = self.cached_list(self.a, self.b.user_id)
            if row == (stream_id, 0):
                return
            time.sleep(0.2)
        self.fail("A's copy of B's user's list is %r, not at stream_id %d (%s)" % (row, stream_id, what))

    def test_device_list_updates_follow_on_by_prev_id(self):
        """Two new devices on B in a row: A's cached copy follows the EDUs to B's latest
        stream_id and is not stale (each prev_id named the stream_id before it)."""
        self.query(self.a, self.b.user_id)  # cached from here on
        self.assertIsNotNone(self.cached_list(self.a, self.b.user_id))
        before = self.b.metrics()["federation_edus_sent"]
        Device(self.b, otks=1)
        Device(self.b, otks=1)
        latest = self.b_stream_id()
        self.wait_cache_at(latest, "after two updates")
        self.assertGreaterEqual(self.b.metrics()["federation_edus_sent"] - before, 2)

    def test_missed_device_list_update_makes_a_fetch_the_list_again(self):
        self.query(self.a, self.b.user_id)
        latest = self.b_stream_id()
        self.wait_cache_at(latest, "before the gap")
        # An update as if from B whose prev_id A never saw: A must not apply it, and fetches
        # the list from B instead (which has no such device).
        edu = {"edu_type": "m.device_list_update",
               "content": {"user_id": self.b.user_id, "device_id": "GHOST", "stream_id": latest + 1000,
                           "prev_id": [latest + 999], "deleted": False,
                           "keys": {"user_id": self.b.user_id, "device_id": "GHOST", "algorithms": [],
                                    "keys": {"ed25519:GHOST": "x"}}}}
        txn = "gap" + uuid.uuid4().hex
        body = {"origin": self.b.name, "origin_server_ts": int(time.time() * 1000), "pdus": [], "edus": [edu]}
        st, out = self.fed(self.b, self.a, "PUT", "/_matrix/federation/v1/send/" + txn, body)
        self.assertEqual(st, 200, out)
        self.wait_cache_at(latest, "fetched again after the gap")
        out = self.query(self.a, self.b.user_id)
        self.assertNotIn("GHOST", out["device_keys"][self.b.user_id])
        self.assertIn(self.b_dev.device_id, out["device_keys"][self.b.user_id])

    # ---- typing, receipts, to-device

    def test_typing_of_b_shows_on_a(self):
        since = self.sync_token(self.a)
        st, body = self.b.client("PUT", "/rooms/%s/typing/%s" % (q(self.room), q(self.b.user_id)),
                                 {"typing": True, "timeout": 20000})
        self.assertEqual(st, 200, body)

        def typing(body):
            room = body.get("rooms", {}).get("join", {}).get(self.room, {})
            for ev in room.get("ephemeral", {}).get("events", []):
                if ev["type"] == "m.typing" and self.b.user_id in ev["content"]["user_ids"]:
                    return ev
        self.sync_until(self.a, since, typing, "B's user typing")
        since = self.sync_token(self.a)
        st, body = self.b.client("PUT", "/rooms/%s/typing/%s" % (q(self.room), q(self.b.user_id)), {"typing": False})
        self.assertEqual(st, 200, body)

        def stopped(body):
            room = body.get("rooms", {}).get("join", {}).get(self.room, {})
            for ev in room.get("ephemeral", {}).get("events", []):
                if ev["type"] == "m.typing" and self.b.user_id not in ev["content"]["user_ids"]:
                    return ev
        self.sync_until(self.a, since, stopped, "B's user stopping typing")

    def test_read_receipt_of_b_shows_on_a(self):
        st, sent = self.a.client("PUT", "/rooms/%s/send/m.room.message/r%s" % (q(self.room), uuid.uuid4().hex),
                                 {"msgtype": "m.text", "body": "read me"})
        self.assertEqual(st, 200, sent)
        event_id = sent["event_id"]
        # B must have the event before it can mark it read.
        deadline = time.time() + 20
        while time.time() < deadline:
            st, body = self.b.client("POST", "/rooms/%s/receipt/m.read/%s" % (q(self.room), q(event_id)), {})
            if st == 200:
                break
            time.sleep(0.2)
        self.assertEqual(st, 200, body)
        since = self.sync_token(self.a)

        def receipt(body):
            room = body.get("rooms", {}).get("join", {}).get(self.room, {})
            for ev in room.get("ephemeral", {}).get("events", []):
                if ev["type"] == "m.receipt":
                    by = ev["content"].get(event_id, {}).get("m.read", {})
                    if self.b.user_id in by:
                        return by[self.b.user_id]
        # The receipt may already be in A's state before `since`: look from the start too.
        st, full = self.a.client("GET", "/sync?timeout=0")
        self.assertEqual(st, 200, full)
        found = receipt(full) or self.sync_until(self.a, since, receipt, "B's read receipt")
        self.assertIn("ts", found)

    def test_to_device_message_crosses_servers_once(self):
        dev = Device(self.b, otks=1)
        since_st, first = dev.http("GET", "/sync?timeout=0")
        self.assertEqual(since_st, 200, first)
        since = first["next_batch"]
        txn = "td" + uuid.uuid4().hex
        body = {"messages": {dev.user_id: {dev.device_id: {"secret": "for B's device"}}}}
        for _ in range(2):  # the same transaction twice: delivered once
            st, out = self.a_dev.http("PUT", "/sendToDevice/m.test.federated/" + txn, body)
            self.assertEqual(st, 200, out)
        deadline = time.time() + 20
        got = []
        while time.time() < deadline and not got:
            st, sync = dev.http("GET", "/sync?timeout=1000&since=" + q(since))
            self.assertEqual(st, 200, sync)
            since = sync["next_batch"]
            got = [e for e in sync.get("to_device", {}).get("events", []) if e["type"] == "m.test.federated"]
        self.assertEqual(len(got), 1, got)
        self.assertEqual(got[0]["sender"], self.a.user_id)
        self.assertEqual(got[0]["content"], {"secret": "for B's device"})
        time.sleep(1.5)
        st, sync = dev.http("GET", "/sync?timeout=500&since=" + q(since))
        self.assertEqual(st, 200, sync)
        again = [e for e in sync.get("to_device", {}).get("events", []) if e["type"] == "m.test.federated"]
        self.assertEqual(again, [], "a repeated transaction is not delivered again")


if __name__ == "__main__":
    unittest.main()
