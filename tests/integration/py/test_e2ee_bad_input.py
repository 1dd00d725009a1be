"""End-to-end encryption endpoints fed bad or tricky input over raw HTTP: each request gets
the spec's answer, nothing half-stored shows up afterwards, and the server keeps serving.

Run with /usr/bin/python3 (it signs keys with Debian's python3-olm):
    cd tests/integration/py && /usr/bin/python3 -m unittest test_e2ee_bad_input -v

Where the spec leaves a choice, the test documents the choice it accepts:
- /keys/upload lists no error responses (keys.yaml). A device_keys object that is not the
  caller's own (user_id or device_id differ), lacks a required field (definitions/
  device_keys.yaml: user_id, device_id, algorithms, keys, signatures) or whose
  self-signature does not verify is refused with 400 and one of M_BAD_JSON,
  M_INVALID_PARAM, M_MISSING_PARAM or M_INVALID_SIGNATURE; the whole request is refused, so
  nothing in it is stored.
- One-time and fallback key names must be "<algorithm>:<key_id>" (keys.yaml) with both parts
  non-empty; other names get 400 with M_BAD_JSON or M_INVALID_PARAM.
- /keys/claim for an unknown device or user on this server: no key and no failure
  (keys.yaml: "If the homeserver could be reached, but the user or device was unknown, no
  failure is recorded").
- /sendToDevice to a well-formed but unknown local user: 404 M_NOT_FOUND (the spec is silent;
  this is Despatch's choice), and the whole request is refused, so no other recipient in it
  gets anything.
- Bad signatures on cross-signing keys: 400 M_INVALID_SIGNATURE (cross_signing.yaml,
  /keys/device_signing/upload); on /keys/signatures/upload, failures[user][key].errcode
  M_INVALID_SIGNATURE (cross_signing.yaml: "If a signature was invalid, the errcode will be
  set to M_INVALID_SIGNATURE").
- Key backup writes to an earlier version that is no longer the current one: 403
  M_WRONG_ROOM_KEYS_VERSION with current_version (key_backup.yaml, the three PUT
  /room_keys/keys endpoints: "The version specified does not match the current backup
  version"). For a version that never existed, 404 M_NOT_FOUND is accepted too (two of those
  endpoints also list 404 "The backup was not found").
"""

import base64
import os
import time
import unittest
import uuid

from e2ee_helpers import CrossSigningKeys, FakeDevice, flip_signature, signed
from harness import SharedServer, q

V3 = "/_matrix/client/v3"
PASSWORD = "e2ee bad input password"
BACKUP_ALG = "m.megolm_backup.v1.curve25519-aes-sha2"
UPLOAD_ERRCODES = {"M_BAD_JSON", "M_INVALID_PARAM", "M_MISSING_PARAM", "M_INVALID_SIGNATURE"}
KEY_ID_ERRCODES = {"M_BAD_JSON", "M_INVALID_PARAM"}


def uname(prefix):
    return "%s%s" % (prefix, uuid.uuid4().hex[:8])


class User:
    def __init__(self, server, prefix):
        self.server = server
        self.name = uname(prefix)
        self.user_id, self.token, self.device_id = server.register(self.name, PASSWORD)

    def http(self, method, path, body=None, token=None):
        return self.server.http(method, V3 + path, body=body, token=token or self.token)

    def login_device(self):
        st, body = self.server.login(self.name, PASSWORD)
        if st != 200:
            raise AssertionError("login failed: %s %r" % (st, body))
        return body["device_id"], body["access_token"]


class E2EEBadInputTests(SharedServer, unittest.TestCase):

    def tearDown(self):
        # Whatever a test sent, the server must still be up and answering.
        self.assertTrue(self.server.alive(), "despatch died; stderr:\n" + self.server.stderr_text()[-4000:])
        self.assertTrue(self.server.versions_ok(), "despatch stopped answering")

    # ---- helpers ------------------------------------------------------------------------

    def user(self, prefix="u"):
        return User(self.server, prefix)

    def assertErr(self, resp, status, errcodes, what=""):
        st, body = resp
        if isinstance(errcodes, str):
            errcodes = {errcodes}
        self.assertIsInstance(body, dict, "%s: response is not a JSON object (status %s): %r" % (what, st, body))
        self.assertTrue(st == status and body.get("errcode") in errcodes,
                        "%s: expected %s with one of %s, got %s %r" % (what, status, sorted(errcodes), st, body))
        self.assertIsInstance(body.get("error"), str, "%s: no error message: %r" % (what, body))

    def assertOk(self, resp, what=""):
        st, body = resp
        self.assertEqual(st, 200, "%s: %s %r" % (what, st, body))
        return body

    def query_devices(self, asker, user_id, devices=None):
        body = self.assertOk(asker.http("POST", "/keys/query", {"device_keys": {user_id: devices or []}}),
                             "keys/query")
        return body

    def device_keys_of(self, asker, user_id):
        return self.query_devices(asker, user_id).get("device_keys", {}).get(user_id, {})

    def otk_counts(self, u, token=None):
        """one_time_key_counts as /keys/upload with nothing in it reports them."""
        body = self.assertOk(u.http("POST", "/keys/upload", {}, token=token), "empty keys/upload")
        return body["one_time_key_counts"]

    def sync(self, u, since=None, timeout=0, token=None):
        path = "/sync?timeout=%d" % timeout
        if since:
            path += "&since=" + q(since)
        return self.assertOk(u.http("GET", path, token=token), "sync")

    def to_device_events(self, sync_body):
        return sync_body.get("to_device", {}).get("events", [])

    def sync_until(self, u, since, predicate, what, deadline=15.0, token=None):
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            body = self.sync(u, since, timeout=1000, token=token)
            if predicate(body):
                return body
            since = body["next_batch"]
        raise AssertionError("timed out waiting for " + what)

    def shared_room(self, a, b):
        """a creates a room and b joins it; returns the room ID."""
        body = self.assertOk(a.http("POST", "/createRoom", {"preset": "private_chat", "invite": [b.user_id]}),
                             "createRoom")
        room_id = body["room_id"]
        self.assertOk(b.http("POST", "/join/" + q(room_id), {}), "join")
        return room_id

    # ---- /keys/upload: device keys ------------------------------------------------------

    def test_upload_device_keys_for_another_user_or_device_is_refused(self):
        alice = self.user("alice")
        bob = self.user("bob")
        other_dev, _ = alice.login_device()  # a real second device of alice
        dev = FakeDevice(alice.user_id, alice.device_id)
        cases = {
            # Correctly self-signed, but claiming to be someone else's device.
            "another user": dev.device_keys(user_id=bob.user_id, device_id=bob.device_id),
            "another user, own device ID": dev.device_keys(user_id=bob.user_id),
            "an unknown device ID": dev.device_keys(device_id="NOSUCHDEVICE"),
            "the user's other device": dev.device_keys(device_id=other_dev),
        }
        for what, dk in cases.items():
            with self.subTest(what):
                self.assertErr(alice.http("POST", "/keys/upload", {"device_keys": dk}), 400, UPLOAD_ERRCODES, what)
        # None of it is stored under any name.
        self.assertEqual(self.device_keys_of(bob, bob.user_id), {}, "bob's devices gained keys")
        self.assertEqual(self.device_keys_of(bob, alice.user_id), {}, "alice's devices gained keys")
        # Alice's own, honest upload still works.
        self.assertOk(alice.http("POST", "/keys/upload", {"device_keys": dev.device_keys()}), "valid upload")
        got = self.device_keys_of(bob, alice.user_id)
        self.assertEqual(set(got), {alice.device_id})
        self.assertEqual(got[alice.device_id]["keys"]["ed25519:" + alice.device_id], dev.ed25519)

    def test_upload_malformed_or_badly_signed_device_keys_is_refused(self):
        alice = self.user("alice")
        bob = self.user("bob")
        dev = FakeDevice(alice.user_id, alice.device_id)
        did = alice.device_id
        good = dev.device_keys()

        def without(field):
            dk = dev.device_keys(sign=False)
            dk.pop(field)
            return signed(dk, dev.sign, alice.user_id, "ed25519:" + did)

        def resigned(mutate):
            dk = dev.device_keys(sign=False)
            mutate(dk)
            return signed(dk, dev.sign, alice.user_id, "ed25519:" + did)

        flipped = dev.device_keys()
        sig = flipped["signatures"][alice.user_id]["ed25519:" + did]
        flipped["signatures"][alice.user_id]["ed25519:" + did] = flip_signature(sig)
        tampered = dev.device_keys()
        tampered["keys"]["curve25519:" + did] = FakeDevice(alice.user_id, did).curve25519
        impostor = FakeDevice(alice.user_id, did)  # signs with a key that is not the one it names
        wrong_signer = signed(dev.device_keys(sign=False), impostor.sign, alice.user_id, "ed25519:" + did)
        unsigned = dev.device_keys(sign=False)
        other_signer_only = signed(dev.device_keys(sign=False), dev.sign, bob.user_id, "ed25519:" + did)

        cases = {
            "missing keys": without("keys"),
            "missing algorithms": without("algorithms"),
            "missing user_id": without("user_id"),
            "missing device_id": without("device_id"),
            "missing signatures": unsigned,
            "signature listed under another user": other_signer_only,
            "no ed25519 key": resigned(lambda dk: dk["keys"].pop("ed25519:" + did)),
            "key value not a string": resigned(lambda dk: dk["keys"].__setitem__("curve25519:" + did, 12345)),
            "ed25519 key not base64": resigned(lambda dk: dk["keys"].__setitem__("ed25519:" + did, "not*base64!")),
            "ed25519 key of the wrong length": resigned(
                lambda dk: dk["keys"].__setitem__("ed25519:" + did, base64.b64encode(b"short").decode().rstrip("="))),
            "signature with one bit flipped": flipped,
            "signature that is not base64": resigned(lambda dk: None) | {
                "signatures": {alice.user_id: {"ed25519:" + did: "!!!not base64!!!"}}},
            "keys changed after signing": tampered,
            "signed by a different key": wrong_signer,
            "device_keys is a string": "not an object",
            "device_keys is a list": [good],
        }
        for what, dk in cases.items():
            with self.subTest(what):
                self.assertErr(alice.http("POST", "/keys/upload", {"device_keys": dk}), 400, UPLOAD_ERRCODES, what)
                self.assertEqual(self.device_keys_of(bob, alice.user_id), {},
                                 "%s: refused keys show up in /keys/query" % what)

        # A request whose device keys are fine but whose one-time keys are not stores nothing.
        otks = dev.one_time_keys(2)
        otks["no_colon_here"] = {"key": "AAAA"}
        self.assertErr(alice.http("POST", "/keys/upload", {"device_keys": good, "one_time_keys": otks}),
                       400, KEY_ID_ERRCODES, "good device keys with a bad one-time key ID")
        self.assertEqual(self.device_keys_of(bob, alice.user_id), {}, "device keys of a refused request were stored")
        self.assertEqual(self.otk_counts(alice).get("signed_curve25519", 0), 0,
                         "one-time keys of a refused request were stored")

        self.assertOk(alice.http("POST", "/keys/upload", {"device_keys": good}), "valid upload")
        got = self.device_keys_of(bob, alice.user_id)
        self.assertEqual(got[did]["keys"], good["keys"])
        self.assertEqual(got[did]["signatures"][alice.user_id]["ed25519:" + did],
                         good["signatures"][alice.user_id]["ed25519:" + did])

    # ---- /keys/upload: one-time and fallback keys ----------------------------------------

    def test_one_time_keys_with_malformed_ids_are_refused(self):
        alice = self.user("alice")
        dev = FakeDevice(alice.user_id, alice.device_id)
        self.assertOk(alice.http("POST", "/keys/upload", {"device_keys": dev.device_keys()}), "device keys")
        key_obj = next(iter(dev.one_time_keys(1).values()))
        bad_names = ["signed_curve25519", "signed_curve25519:", ":AAAAAQ", ":", ""]
        for name in bad_names:
            with self.subTest(name=name):
                self.assertErr(alice.http("POST", "/keys/upload", {"one_time_keys": {name: key_obj}}),
                               400, KEY_ID_ERRCODES, "one-time key named %r" % name)
                self.assertErr(alice.http("POST", "/keys/upload", {"fallback_keys": {name: dict(key_obj, fallback=True)}}),
                               400, KEY_ID_ERRCODES, "fallback key named %r" % name)
        bad_values = {
            "a number": 5,
            "a list": ["AAAA"],
            "an object without key": {"signatures": key_obj["signatures"]},
            "an object whose key is a number": {"key": 7, "signatures": key_obj["signatures"]},
        }
        for what, val in bad_values.items():
            with self.subTest(value=what):
                self.assertErr(alice.http("POST", "/keys/upload", {"one_time_keys": {"signed_curve25519:BAD1": val}}),
                               400, UPLOAD_ERRCODES, "one-time key that is %s" % what)
        for what, body in {"one_time_keys is a list": {"one_time_keys": [key_obj]},
                           "one_time_keys is a string": {"one_time_keys": "AAAA"},
                           "fallback_keys is a list": {"fallback_keys": [key_obj]}}.items():
            with self.subTest(what):
                self.assertErr(alice.http("POST", "/keys/upload", body), 400, UPLOAD_ERRCODES, what)

        # Nothing of the refused uploads was stored: no one-time key, no fallback key.
        self.assertEqual(self.otk_counts(alice).get("signed_curve25519", 0), 0)
        bob = self.user("bob")
        claim = self.assertOk(bob.http("POST", "/keys/claim",
                                       {"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"}}}))
        self.assertEqual(claim["one_time_keys"].get(alice.user_id, {}), {}, "a refused key can be claimed")
        sync = self.sync(alice)
        self.assertEqual(sync.get("device_one_time_keys_count", {}).get("signed_curve25519", 0), 0)
        self.assertEqual(sync.get("device_unused_fallback_key_types", []), [])

        # Well-formed keys are accepted and counted.
        good = dev.one_time_keys(3)
        body = self.assertOk(alice.http("POST", "/keys/upload", {"one_time_keys": good}), "valid one-time keys")
        self.assertEqual(body["one_time_key_counts"].get("signed_curve25519"), 3)

    def test_key_counts_in_sync_follow_claims_and_fallback_use(self):
        alice = self.user("alice")
        bob = self.user("bob")
        dev = FakeDevice(alice.user_id, alice.device_id)
        otks = dev.one_time_keys(2)
        fallback = dev.one_time_keys(1, fallback=True)
        self.assertOk(alice.http("POST", "/keys/upload", {"device_keys": dev.device_keys(), "one_time_keys": otks,
                                                          "fallback_keys": fallback}))
        s = self.sync(alice)
        self.assertEqual(s["device_one_time_keys_count"].get("signed_curve25519"), 2)
        self.assertEqual(s["device_unused_fallback_key_types"], ["signed_curve25519"])
        claimed = set()
        for _ in range(2):
            c = self.assertOk(bob.http("POST", "/keys/claim",
                                       {"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"}}}))
            keys = c["one_time_keys"][alice.user_id][alice.device_id]
            self.assertEqual(len(keys), 1)
            claimed.update(keys)
        self.assertEqual(claimed, set(otks), "each one-time key is handed out exactly once")
        s = self.sync(alice, s["next_batch"])
        self.assertEqual(s["device_one_time_keys_count"].get("signed_curve25519", 0), 0)
        # Out of one-time keys: the fallback key, which is then reported as used.
        c = self.assertOk(bob.http("POST", "/keys/claim",
                                   {"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"}}}))
        self.assertEqual(set(c["one_time_keys"][alice.user_id][alice.device_id]), set(fallback))
        s = self.sync(alice, s["next_batch"])
        self.assertEqual(s.get("device_unused_fallback_key_types"), [])

    # ---- /keys/claim and /keys/query for unknown things ----------------------------------

    def test_claim_for_unknown_devices_returns_no_key(self):
        alice = self.user("alice")
        bob = self.user("bob")
        nokeys = self.user("nokeys")
        dev = FakeDevice(alice.user_id, alice.device_id)
        otks = dev.one_time_keys(2)
        self.assertOk(alice.http("POST", "/keys/upload", {"device_keys": dev.device_keys(), "one_time_keys": otks}))
        ghost = "@%s:%s" % (uname("ghost"), self.server.server_name)
        body = self.assertOk(bob.http("POST", "/keys/claim", {"one_time_keys": {
            alice.user_id: {alice.device_id: "signed_curve25519", "NOSUCHDEVICE": "signed_curve25519"},
            ghost: {"GHOSTDEV": "signed_curve25519"},
            nokeys.user_id: {nokeys.device_id: "signed_curve25519"},
        }}), "claim")
        got = body["one_time_keys"]
        self.assertEqual(set(got.get(alice.user_id, {})), {alice.device_id})
        self.assertEqual(len(got[alice.user_id][alice.device_id]), 1)
        (kid, kobj), = got[alice.user_id][alice.device_id].items()
        self.assertEqual(otks[kid]["key"], kobj["key"])
        self.assertEqual(got.get(ghost, {}), {}, "keys for an unknown user")
        self.assertEqual(got.get(nokeys.user_id, {}), {}, "keys for a device that uploaded none")
        self.assertEqual(body.get("failures", {}), {}, "failures for local users (keys.yaml: none recorded)")

        # An algorithm the device has no keys for: nothing, and the real keys are untouched.
        body = self.assertOk(bob.http("POST", "/keys/claim", {"one_time_keys": {
            alice.user_id: {alice.device_id: "unknown_algorithm"}}}))
        self.assertEqual(body["one_time_keys"].get(alice.user_id, {}), {})
        self.assertEqual(self.otk_counts(alice).get("signed_curve25519"), 1)

        # /keys/query for unknown users and devices is just as quiet.
        body = self.assertOk(bob.http("POST", "/keys/query", {"device_keys": {
            alice.user_id: ["NOSUCHDEVICE"], ghost: []}}))
        self.assertEqual(body["device_keys"].get(alice.user_id, {}), {})
        self.assertEqual(body["device_keys"].get(ghost, {}), {})

        # Malformed claim bodies are refused, not crashed on.
        for what, req in {"no one_time_keys": {},
                          "one_time_keys a list": {"one_time_keys": []},
                          "device map a string": {"one_time_keys": {alice.user_id: "signed_curve25519"}},
                          "algorithm a number": {"one_time_keys": {alice.user_id: {alice.device_id: 5}}}}.items():
            with self.subTest(what):
                st, resp = bob.http("POST", "/keys/claim", req)
                self.assertEqual(st, 400, "%s: %s %r" % (what, st, resp))
                self.assertIn(resp.get("errcode"), {"M_BAD_JSON", "M_INVALID_PARAM", "M_MISSING_PARAM", "M_NOT_JSON"})
        self.assertEqual(self.otk_counts(alice).get("signed_curve25519"), 1, "a refused claim used up a key")

    # ---- /sendToDevice --------------------------------------------------------------------

    def test_to_device_to_unknown_local_user_is_404_and_delivers_nothing(self):
        alice = self.user("alice")
        bob = self.user("bob")
        s0 = self.sync(bob)["next_batch"]
        ghost = "@%s:%s" % (uname("ghost"), self.server.server_name)
        self.assertErr(alice.http("PUT", "/sendToDevice/m.test.ping/" + uname("txn"),
                                  {"messages": {ghost: {"DEV": {"n": 1}}}}), 404, "M_NOT_FOUND", "unknown user alone")
        self.assertErr(alice.http("PUT", "/sendToDevice/m.test.ping/" + uname("txn"),
                                  {"messages": {bob.user_id: {bob.device_id: {"n": 2}}, ghost: {"*": {"n": 2}}}}),
                       404, "M_NOT_FOUND", "unknown user next to a known one")
        # The known recipient of the refused request got nothing.
        body = self.sync(bob, s0, timeout=1500)
        self.assertEqual(self.to_device_events(body), [], "a refused request was partly delivered")
        # A later good request is delivered (the refusal left nothing stuck).
        self.assertOk(alice.http("PUT", "/sendToDevice/m.test.ping/" + uname("txn"),
                                 {"messages": {bob.user_id: {bob.device_id: {"n": 3}}}}))
        body = self.sync_until(bob, body["next_batch"], self.to_device_events, "the good to-device message")
        self.assertEqual([e["content"] for e in self.to_device_events(body)], [{"n": 3}])

        # Malformed bodies are 400s.
        for what, req in {"no messages": {}, "messages a list": {"messages": []},
                          "device map a string": {"messages": {bob.user_id: "x"}},
                          "content a string": {"messages": {bob.user_id: {bob.device_id: "x"}}}}.items():
            with self.subTest(what):
                st, resp = alice.http("PUT", "/sendToDevice/m.test.ping/" + uname("txn"), req)
                self.assertEqual(st, 400, "%s: %s %r" % (what, st, resp))
                self.assertIn(resp.get("errcode"), {"M_BAD_JSON", "M_INVALID_PARAM", "M_MISSING_PARAM"})
        body = self.sync(bob, body["next_batch"], timeout=500)
        self.assertEqual(self.to_device_events(body), [])

    def test_to_device_same_txn_id_delivers_once(self):
        alice = self.user("alice")
        bob = self.user("bob")
        s0 = self.sync(bob)["next_batch"]
        txn = uname("txn")
        msg = {"messages": {bob.user_id: {bob.device_id: {"nonce": txn}}}}
        self.assertOk(alice.http("PUT", "/sendToDevice/m.test.once/" + txn, msg), "first send")
        self.assertOk(alice.http("PUT", "/sendToDevice/m.test.once/" + txn, msg), "retried send")
        body = self.sync_until(bob, s0, self.to_device_events, "the to-device message")
        time.sleep(0.3)
        more = self.sync(bob, s0)  # everything pending since s0, not yet acknowledged
        events = self.to_device_events(more)
        self.assertEqual(len(events), 1, "one transaction delivered %d times: %r" % (len(events), events))
        self.assertEqual(events[0]["content"], {"nonce": txn})
        self.assertEqual(events[0]["sender"], alice.user_id)
        self.assertEqual(events[0]["type"], "m.test.once")

        # The same transaction ID from another access token (device) is a different transaction.
        _, token2 = alice.login_device()
        self.assertOk(alice.http("PUT", "/sendToDevice/m.test.once/" + txn, msg, token=token2), "other device")
        body = self.sync_until(bob, body["next_batch"], self.to_device_events, "the other device's message")
        self.assertEqual(len(self.to_device_events(body)), 1)

    def test_to_device_delivered_in_sync_and_deleted_after_acknowledgement(self):
        alice = self.user("alice")
        bob = self.user("bob")
        bob_dev2, bob_token2 = bob.login_device()
        s0 = self.sync(bob)["next_batch"]
        other0 = self.sync(bob, token=bob_token2)["next_batch"]
        for n in range(3):
            self.assertOk(alice.http("PUT", "/sendToDevice/m.test.seq/" + uname("txn"),
                                     {"messages": {bob.user_id: {bob.device_id: {"n": n}}}}))
        first = self.sync_until(bob, s0, lambda b: len(self.to_device_events(b)) >= 3, "three to-device messages")
        events = self.to_device_events(first)
        self.assertEqual([e["content"]["n"] for e in events], [0, 1, 2], "not in order of arrival")
        for e in events:
            self.assertEqual((e["sender"], e["type"]), (alice.user_id, "m.test.seq"))
        s1 = first["next_batch"]
        # Not acknowledged yet: syncing again from s0 shows them again.
        again = self.sync(bob, s0)
        self.assertEqual([e["content"]["n"] for e in self.to_device_events(again)], [0, 1, 2],
                         "messages vanished before the client acknowledged them")
        # Acknowledged by syncing with s1: gone, in this sync and the next ones.
        second = self.sync(bob, s1)
        self.assertEqual(self.to_device_events(second), [], "acknowledged messages delivered again")
        third = self.sync(bob, second["next_batch"])
        self.assertEqual(self.to_device_events(third), [], "acknowledged messages delivered again")
        replay = self.sync(bob, s0)
        self.assertEqual(self.to_device_events(replay), [], "acknowledged messages were not deleted")
        # Messages for one device are not shown to the user's other device.
        other = self.sync(bob, other0, token=bob_token2)
        self.assertEqual(self.to_device_events(other), [])

        # "*" reaches every device of the user.
        self.assertOk(alice.http("PUT", "/sendToDevice/m.test.all/" + uname("txn"),
                                 {"messages": {bob.user_id: {"*": {"all": True}}}}))
        got1 = self.sync_until(bob, third["next_batch"], self.to_device_events, "'*' message on device 1")
        got2 = self.sync_until(bob, other["next_batch"], self.to_device_events, "'*' message on device 2",
                               token=bob_token2)
        self.assertEqual([e["content"] for e in self.to_device_events(got1)], [{"all": True}])
        self.assertEqual([e["content"] for e in self.to_device_events(got2)], [{"all": True}])
        self.assertNotEqual(bob_dev2, bob.device_id)

    def test_large_to_device_queue_arrives_in_batches_each_message_once(self):
        alice = self.user("alice")
        bob = self.user("bob")
        since = self.sync(bob)["next_batch"]
        total = 130
        for n in range(total):
            self.assertOk(alice.http("PUT", "/sendToDevice/m.test.bulk/" + uname("txn"),
                                     {"messages": {bob.user_id: {bob.device_id: {"n": n}}}}))
        seen = []
        end = time.monotonic() + 20
        while len(seen) < total and time.monotonic() < end:
            body = self.sync(bob, since, timeout=500)
            batch = [e["content"]["n"] for e in self.to_device_events(body)]
            # send_to_device.md: "100 messages is recommended as a reasonable limit".
            self.assertLessEqual(len(batch), 100, "one sync returned %d to-device messages" % len(batch))
            seen.extend(batch)
            since = body["next_batch"]
        self.assertEqual(seen, list(range(total)), "messages lost, repeated or out of order")
        body = self.sync(bob, since)
        self.assertEqual(self.to_device_events(body), [])

    # ---- cross-signing ---------------------------------------------------------------------

    def cross_signing_user(self, prefix):
        u = self.user(prefix)
        u.dev = FakeDevice(u.user_id, u.device_id)
        self.assertOk(u.http("POST", "/keys/upload", {"device_keys": u.dev.device_keys()}), "device keys")
        u.cs = CrossSigningKeys(u.user_id)
        self.assertOk(u.http("POST", "/keys/device_signing/upload", u.cs.upload_body()), "device_signing/upload")
        return u

    def test_cross_signing_signatures_that_do_not_verify_are_reported_in_failures(self):
        alice = self.cross_signing_user("alice")
        bob = self.cross_signing_user("bob")
        stored_dev = self.device_keys_of(alice, alice.user_id)[alice.device_id]
        ssk_id = "ed25519:" + alice.cs.self_signing.public_key
        usk_id = "ed25519:" + alice.cs.user_signing.public_key
        bob_master_pub = bob.cs.master.public_key

        # Alice's self-signing signature on her device, with one bit flipped.
        dev_signed = alice.cs.sign_device(alice.dev.device_keys())
        bad_dev = dict(dev_signed)
        bad_dev["signatures"] = {alice.user_id: {ssk_id: flip_signature(dev_signed["signatures"][alice.user_id][ssk_id])}}
        # Alice's user-signing signature on Bob's master key, with one bit flipped.
        bob_master_signed = alice.cs.sign_other_master(bob.cs.master_key())
        bad_bob = dict(bob_master_signed)
        bad_bob["signatures"] = {alice.user_id: {usk_id: flip_signature(
            bob_master_signed["signatures"][alice.user_id][usk_id])}}
        body = self.assertOk(alice.http("POST", "/keys/signatures/upload", {
            alice.user_id: {alice.device_id: bad_dev},
            bob.user_id: {bob_master_pub: bad_bob},
        }), "signatures/upload with bad signatures")
        failures = body.get("failures", {})
        with self.subTest("device signature"):
            self.assertIn(alice.device_id, failures.get(alice.user_id, {}), "bad device signature not in failures: %r" % body)
            self.assertEqual(failures[alice.user_id][alice.device_id].get("errcode"), "M_INVALID_SIGNATURE",
                             "cross_signing.yaml: an invalid signature's errcode is M_INVALID_SIGNATURE; got %r" % body)
        with self.subTest("master key signature"):
            self.assertIn(bob_master_pub, failures.get(bob.user_id, {}), "bad master key signature not in failures: %r" % body)
            self.assertEqual(failures[bob.user_id][bob_master_pub].get("errcode"), "M_INVALID_SIGNATURE",
                             "cross_signing.yaml: an invalid signature's errcode is M_INVALID_SIGNATURE; got %r" % body)
        # Nothing of it was stored.
        q_alice = self.query_devices(bob, alice.user_id)
        self.assertNotIn(ssk_id, q_alice["device_keys"][alice.user_id][alice.device_id]
                         .get("signatures", {}).get(alice.user_id, {}))
        q_bob = self.query_devices(alice, bob.user_id)
        self.assertNotIn(alice.user_id, q_bob["master_keys"][bob.user_id].get("signatures", {}))

        # Objects that are not what was stored, or keys that do not exist: failures too.
        altered = alice.cs.sign_device(dict(alice.dev.device_keys(sign=False),
                                            algorithms=["m.megolm.v1.aes-sha2"]))
        body = self.assertOk(alice.http("POST", "/keys/signatures/upload", {
            alice.user_id: {alice.device_id: altered, "NOSUCHDEVICE": dict(altered, device_id="NOSUCHDEVICE")},
        }), "signatures/upload with altered objects")
        fails = body.get("failures", {}).get(alice.user_id, {})
        self.assertIn(alice.device_id, fails, "a signed object that differs from the stored key was accepted: %r" % body)
        self.assertIn("NOSUCHDEVICE", fails, "a signature for an unknown device was accepted: %r" % body)
        for k, v in fails.items():
            self.assertIsInstance(v.get("errcode"), str, "failure %s without errcode" % k)

        # The good signatures are accepted and show up in /keys/query.
        body = self.assertOk(alice.http("POST", "/keys/signatures/upload", {
            alice.user_id: {alice.device_id: dev_signed},
            bob.user_id: {bob_master_pub: bob_master_signed},
        }), "signatures/upload with good signatures")
        self.assertEqual(body.get("failures", {}), {})
        q_alice = self.query_devices(bob, alice.user_id)
        self.assertEqual(q_alice["device_keys"][alice.user_id][alice.device_id]["signatures"][alice.user_id][ssk_id],
                         dev_signed["signatures"][alice.user_id][ssk_id])
        self.assertEqual(q_alice["device_keys"][alice.user_id][alice.device_id]["keys"], stored_dev["keys"])
        q_bob = self.query_devices(alice, bob.user_id)
        self.assertEqual(q_bob["master_keys"][bob.user_id]["signatures"][alice.user_id][usk_id],
                         bob_master_signed["signatures"][alice.user_id][usk_id])

    def test_cross_signing_upload_with_bad_signature_is_refused_and_not_stored(self):
        alice = self.user("alice")
        bob = self.user("bob")
        cs = CrossSigningKeys(alice.user_id)
        body = cs.upload_body()
        master_id = "ed25519:" + cs.master.public_key
        ssk = body["self_signing_key"]
        ssk["signatures"][alice.user_id][master_id] = flip_signature(ssk["signatures"][alice.user_id][master_id])
        with self.subTest("bad self-signing key signature"):
            self.assertErr(alice.http("POST", "/keys/device_signing/upload", body), 400, "M_INVALID_SIGNATURE",
                           "self-signing key with a bad master signature (cross_signing.yaml: M_INVALID_SIGNATURE)")
        q_alice = self.query_devices(bob, alice.user_id)
        self.assertNotIn(alice.user_id, q_alice.get("master_keys", {}), "master key of a refused upload was stored")
        self.assertNotIn(alice.user_id, q_alice.get("self_signing_keys", {}))
        # The same with a user-signing key signed by some other key.
        body = cs.upload_body()
        stranger = CrossSigningKeys(alice.user_id)
        body["user_signing_key"] = signed(cs._key(cs.user_signing, alice.user_id, "user_signing"),
                                          stranger.master.sign, alice.user_id, master_id)
        with self.subTest("user-signing key signed by another key"):
            self.assertErr(alice.http("POST", "/keys/device_signing/upload", body), 400, "M_INVALID_SIGNATURE",
                           "user-signing key not signed by the master key (cross_signing.yaml: M_INVALID_SIGNATURE)")
        q_alice = self.query_devices(alice, alice.user_id)
        self.assertNotIn(alice.user_id, q_alice.get("master_keys", {}), "master key of a refused upload was stored")
        # A correct first upload needs no UIA and is stored.
        self.assertOk(alice.http("POST", "/keys/device_signing/upload", cs.upload_body()), "good upload")
        q_alice = self.query_devices(bob, alice.user_id)
        self.assertEqual(q_alice["master_keys"][alice.user_id]["keys"], {master_id: cs.master.public_key})

    def test_cross_signing_reupload_is_free_but_replacement_needs_auth(self):
        alice = self.user("alice")
        bob = self.user("bob")
        cs = CrossSigningKeys(alice.user_id)
        self.assertOk(alice.http("POST", "/keys/device_signing/upload", cs.upload_body()), "first upload")
        # The same keys again (a retry after a lost response): no challenge.
        self.assertOk(alice.http("POST", "/keys/device_signing/upload", cs.upload_body()), "identical re-upload")
        # New keys: a 401 challenge, and nothing replaced.
        other = CrossSigningKeys(alice.user_id)
        st, body = alice.http("POST", "/keys/device_signing/upload", other.upload_body())
        self.assertEqual(st, 401, body)
        self.assertIn("flows", body)
        q_alice = self.query_devices(bob, alice.user_id)
        self.assertEqual(q_alice["master_keys"][alice.user_id]["keys"],
                         {"ed25519:" + cs.master.public_key: cs.master.public_key})
        # With the password the new set replaces the old one.
        replace = other.upload_body()
        replace["auth"] = {"type": "m.login.password", "session": body.get("session"),
                           "identifier": {"type": "m.id.user", "user": alice.user_id}, "password": PASSWORD}
        self.assertOk(alice.http("POST", "/keys/device_signing/upload", replace), "replacement with auth")
        q_alice = self.query_devices(bob, alice.user_id)
        self.assertEqual(q_alice["master_keys"][alice.user_id]["keys"],
                         {"ed25519:" + other.master.public_key: other.master.public_key})
        self.assertEqual(q_alice["self_signing_keys"][alice.user_id]["keys"],
                         {"ed25519:" + other.self_signing.public_key: other.self_signing.public_key})
        # Only a new master key: the old self-signing key (signed by the old master) is dropped.
        third = CrossSigningKeys(alice.user_id)
        st, body = alice.http("POST", "/keys/device_signing/upload", {"master_key": third.master_key()})
        self.assertEqual(st, 401, body)
        self.assertOk(alice.http("POST", "/keys/device_signing/upload",
                                 {"master_key": third.master_key(),
                                  "auth": {"type": "m.login.password", "session": body.get("session"),
                                           "identifier": {"type": "m.id.user", "user": alice.user_id},
                                           "password": PASSWORD}}), "new master key only")
        q_alice = self.query_devices(bob, alice.user_id)
        self.assertNotIn(alice.user_id, q_alice.get("self_signing_keys", {}),
                         "a self-signing key the new master key never signed is still served")

    # ---- key backup ---------------------------------------------------------------------------

    def new_backup(self, u):
        auth = {"public_key": base64.b64encode(os.urandom(32)).decode().rstrip("=")}
        body = self.assertOk(u.http("POST", "/room_keys/version", {"algorithm": BACKUP_ALG, "auth_data": auth}),
                             "create backup version")
        return body["version"]

    @staticmethod
    def key_data(index=0):
        return {"first_message_index": index, "forwarded_count": 0, "is_verified": False,
                "session_data": {"ephemeral": "ZXBoZW1lcmFs", "ciphertext": "Y2lwaGVydGV4dA", "mac": "bWFj"}}

    def backup_count(self, u, version):
        body = self.assertOk(u.http("GET", "/room_keys/version/" + q(version)), "backup version")
        return body["count"]

    def test_key_backup_writes_to_a_version_that_is_not_current_are_403(self):
        alice = self.user("alice")
        room = "!backup%s:%s" % (uuid.uuid4().hex[:8], self.server.server_name)
        v1 = self.new_backup(alice)
        ok = self.assertOk(alice.http("PUT", "/room_keys/keys/%s/sess1?version=%s" % (q(room), q(v1)),
                                      self.key_data()), "store a key in the current version")
        self.assertEqual(ok["count"], 1)
        v2 = self.new_backup(alice)
        self.assertNotEqual(v1, v2)

        def writes(version):
            vq = q(version)
            return {
                "PUT /room_keys/keys/{roomId}/{sessionId}": (
                    "/room_keys/keys/%s/sess2?version=%s" % (q(room), vq), self.key_data()),
                "PUT /room_keys/keys/{roomId}": (
                    "/room_keys/keys/%s?version=%s" % (q(room), vq), {"sessions": {"sess2": self.key_data()}}),
                "PUT /room_keys/keys": (
                    "/room_keys/keys?version=%s" % vq, {"rooms": {room: {"sessions": {"sess2": self.key_data()}}}}),
            }

        for what, (path, body) in writes(v1).items():
            with self.subTest(version="previous", endpoint=what):
                resp = alice.http("PUT", path, body)
                self.assertErr(resp, 403, "M_WRONG_ROOM_KEYS_VERSION", "%s to the previous version" % what)
                self.assertEqual(resp[1].get("current_version"), v2, "current_version: %r" % (resp[1],))
        # A version that never existed: key_backup.yaml also lists 404 "The backup was not found"
        # for two of the three endpoints, so either answer is accepted; 403 must name the current one.
        for what, (path, body) in writes("987654").items():
            with self.subTest(version="never existed", endpoint=what):
                resp = alice.http("PUT", path, body)
                if resp[0] == 403:
                    self.assertErr(resp, 403, "M_WRONG_ROOM_KEYS_VERSION", what)
                    self.assertEqual(resp[1].get("current_version"), v2, "current_version: %r" % (resp[1],))
                else:
                    self.assertErr(resp, 404, "M_NOT_FOUND", "%s to a version that never existed" % what)
        # Nothing was written anywhere.
        self.assertEqual(self.backup_count(alice, v2), 0, "a refused write reached the current version")
        self.assertEqual(self.backup_count(alice, v1), 1, "a refused write changed the old version")
        st, body = alice.http("GET", "/room_keys/keys/%s/sess2?version=%s" % (q(room), q(v2)))
        self.assertErr((st, body), 404, "M_NOT_FOUND", "a key from a refused write")
        # Reading an unknown version is 404 M_NOT_FOUND (key_backup.yaml GET /room_keys/keys).
        self.assertErr(alice.http("GET", "/room_keys/keys?version=987654"), 404, "M_NOT_FOUND", "unknown version")
        # And the current version takes the write.
        ok = self.assertOk(alice.http("PUT", "/room_keys/keys/%s/sess2?version=%s" % (q(room), q(v2)),
                                      self.key_data()), "store a key in the new version")
        self.assertEqual(ok["count"], 1)

    # ---- device deletion ------------------------------------------------------------------

    def delete_device(self, u, device_id):
        st, body = u.http("DELETE", "/devices/" + q(device_id), {})
        self.assertEqual(st, 401, "DELETE device without auth: %s %r" % (st, body))
        auth = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": u.name},
                "password": PASSWORD, "session": body.get("session")}
        self.assertOk(u.http("DELETE", "/devices/" + q(device_id), {"auth": auth}), "DELETE device with auth")

    def test_deleting_a_device_removes_its_keys_and_tells_other_users(self):
        alice = self.user("alice")
        bob = self.user("bob")
        self.shared_room(alice, bob)
        dev2_id, dev2_token = alice.login_device()
        dev2 = FakeDevice(alice.user_id, dev2_id)
        self.assertOk(alice.http("POST", "/keys/upload", {"device_keys": dev2.device_keys(),
                                                          "one_time_keys": dev2.one_time_keys(2)},
                                 token=dev2_token), "device 2 uploads keys")
        dev1 = FakeDevice(alice.user_id, alice.device_id)
        self.assertOk(alice.http("POST", "/keys/upload", {"device_keys": dev1.device_keys()}), "device 1 keys")
        self.assertEqual(set(self.device_keys_of(bob, alice.user_id)), {alice.device_id, dev2_id})
        since = self.sync(bob)["next_batch"]

        self.delete_device(alice, dev2_id)

        self.assertEqual(set(self.device_keys_of(bob, alice.user_id)), {alice.device_id},
                         "the deleted device's keys are still in /keys/query")
        body = self.assertOk(bob.http("POST", "/keys/query", {"device_keys": {alice.user_id: [dev2_id]}}))
        self.assertEqual(body["device_keys"].get(alice.user_id, {}), {})
        claim = self.assertOk(bob.http("POST", "/keys/claim",
                                       {"one_time_keys": {alice.user_id: {dev2_id: "signed_curve25519"}}}))
        self.assertEqual(claim["one_time_keys"].get(alice.user_id, {}), {}, "the deleted device's one-time keys")
        got = self.sync_until(bob, since, lambda b: alice.user_id in b.get("device_lists", {}).get("changed", []),
                              "alice in bob's device_lists.changed")
        self.assertNotIn(alice.user_id, got["device_lists"].get("left", []))
        changes = self.assertOk(bob.http("GET", "/keys/changes?from=%s&to=%s" % (q(since), q(got["next_batch"]))))
        self.assertIn(alice.user_id, changes["changed"])
        # The deleted device's token is gone too.
        st, body = alice.http("GET", "/sync?timeout=0", token=dev2_token)
        self.assertEqual((st, body.get("errcode")), (401, "M_UNKNOWN_TOKEN"))


if __name__ == "__main__":
    unittest.main()
