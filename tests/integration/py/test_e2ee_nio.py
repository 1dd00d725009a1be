"""End-to-end encryption between matrix-nio (python3-olm) and matrix-js-sdk (Rust crypto)
through one Despatch server: each side decrypts the other's megolm messages, in a room and in a
direct chat, and the records keeper's plaintext of every one of them is in the records
office's export.

Run with /usr/bin/python3 (Debian's python3-matrix-nio):
    cd tests/integration/py && /usr/bin/python3 -m unittest test_e2ee_nio -v

The js side is tests/integration/js/e2ee_peer.mjs, driven through JSON lines.
"""

import asyncio
import os
import shutil
import tempfile
import time
import unittest
import uuid

from nio import (AsyncClient, AsyncClientConfig, JoinResponse, LoginResponse, MegolmEvent,
                 RoomCreateResponse, RoomMessageText, RoomSendResponse)

from e2ee_helpers import JsPeer, nio_step
from harness import SharedServer, q
from records_helpers import cli_export, open_export, read_bundle, sealed_export, verify_export

PASSWORD = "nio e2ee password 1"
DEADLINE = 30.0
MEGOLM = "m.megolm.v1.aes-sha2"
ENCRYPTION_STATE = {"type": "m.room.encryption", "state_key": "",
                    "content": {"algorithm": MEGOLM}}


def uname(prefix):
    return "%s%s" % (prefix, uuid.uuid4().hex[:8])


class NioJsE2EETests(SharedServer, unittest.IsolatedAsyncioTestCase):

    async def asyncSetUp(self):
        # unittest runs the loop in debug mode; olm work in callbacks is slow but expected.
        asyncio.get_running_loop().slow_callback_duration = 5.0
        # The js user, with its device from registration.
        self.js_user, js_token, js_device = self.server.register(uname("js"), PASSWORD)
        self.js_token = js_token
        self.peer = await asyncio.to_thread(JsPeer, self.server.base_url, self.js_user, js_token, js_device)
        self.js_device = js_device
        # The nio user logs in on a new device with an olm store in a temp folder.
        name = uname("nio")
        self.nio_user, _, _ = self.server.register(name, PASSWORD)
        self.store = tempfile.mkdtemp(prefix="despatch-nio-store-")
        cfg = AsyncClientConfig(max_timeouts=2, encryption_enabled=True, store_sync_tokens=False,
                                request_timeout=20)
        self.nio = AsyncClient(self.server.base_url, self.nio_user, store_path=self.store, config=cfg)
        resp = await self.nio.login(PASSWORD, device_name="nio e2ee test")
        self.assertIsInstance(resp, LoginResponse, repr(resp))
        self.nio_token = resp.access_token
        await nio_step(self.nio, 0)  # uploads device and one-time keys
        self.assertFalse(self.nio.should_upload_keys)

    async def asyncTearDown(self):
        try:
            await asyncio.to_thread(self.peer.close)
        finally:
            await self.nio.close()
            shutil.rmtree(self.store, ignore_errors=True)

    # ---- helpers ------------------------------------------------------------------------

    async def nio_until(self, predicate, what, deadline=DEADLINE):
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            resp = await nio_step(self.nio)
            got = predicate(resp)
            if got:
                return got
        raise AssertionError("nio: timed out after %.0fs waiting for %s" % (deadline, what))

    def nio_sees_joined(self, room_id, users):
        room = self.nio.rooms.get(room_id)
        if room is None or not room.encrypted:
            return False
        joined = set(room.users.keys()) - set(room.invited_users.keys())
        return all(u in joined for u in users)

    async def nio_wait_decrypted(self, room_id, event_id, deadline=DEADLINE):
        """Syncs until the event arrives and decrypts; retries megolm events whose key is late."""
        pending = None
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            resp = await nio_step(self.nio)
            room = resp.rooms.join.get(room_id)
            for ev in (room.timeline.events if room else []):
                if ev.event_id != event_id:
                    continue
                if isinstance(ev, MegolmEvent):
                    pending = ev
                else:
                    return ev
            if pending is not None:
                dec = self.nio.decrypt_event(pending)
                if not isinstance(dec, MegolmEvent):
                    return dec
        raise AssertionError("nio: event %s not decrypted in %.0fs (last seen: %r)"
                             % (event_id, deadline, pending))

    def assert_stored_encrypted(self, token, room_id, event_id, plaintext):
        st, body = self.server.http("GET", "/_matrix/client/v3/rooms/%s/event/%s" % (q(room_id), q(event_id)),
                                    token=token)
        self.assertEqual(st, 200, body)
        self.assertEqual(body["type"], "m.room.encrypted")
        self.assertEqual(body["content"]["algorithm"], MEGOLM)
        self.assertNotIn(plaintext, repr(body))

    def assert_recorded(self, sent, room_id):
        """The records office's export holds the keeper's plaintext of every message sent."""
        end = time.monotonic() + DEADLINE
        while True:
            out = os.path.join(self.server.tmp, "export-" + uuid.uuid4().hex[:8])
            res = cli_export(self.server.data_dir, self.server.records_key_file, out, "E2EE-" + uuid.uuid4().hex[:6])
            self.assertEqual(res.returncode, 0, res.stderr)
            found = {r["event_id"]: r for r in read_bundle(out) if r["kind"] == "plaintext"}
            if all(e in found for e in sent) or time.monotonic() > end:
                break
            time.sleep(0.5)
        self.assertEqual(verify_export(out, self.server.data_dir).returncode, 0)
        for event_id, (sender, text) in sent.items():
            self.assertIn(event_id, found, "no plaintext record of %s (%r)" % (event_id, text))
            rec = found[event_id]
            self.assertEqual(rec["room_id"], room_id)
            self.assertEqual(rec["sender"], sender)
            self.assertEqual(rec["event"]["content"]["body"], text)
            self.assertTrue(rec["event"]["decryption"]["sender_verified"], rec)
        self.assert_sealed_export_opens(sent, room_id)

    def assert_sealed_export_opens(self, sent, room_id):
        """The same plaintext through the admin API's sealed export, opened with the records
        office's key on this side: in records.jsonl and as EML messages."""
        import email
        import email.policy
        if not hasattr(self, "admin_token"):
            name = uname("admin")
            res = self.server.user_add(name, password=PASSWORD, admin=True)
            self.assertEqual(res.returncode, 0, res.stderr)
            st, body = self.server.login(name, PASSWORD)
            self.assertEqual(st, 200, body)
            self.admin_token = body["access_token"]
        st, body, raw = sealed_export(self.server, self.admin_token, "E2EE-SEALED", {"room": room_id})
        self.assertEqual(st, 200, body)
        for _, text in sent.values():
            self.assertNotIn(text, raw.decode("utf-8"), "the sealed export holds a decrypted message in clear")
        path = os.path.join(self.server.tmp, "sealed-" + uuid.uuid4().hex[:8] + ".json")
        with open(path, "wb") as f:
            f.write(raw)
        bag = os.path.join(self.server.tmp, "bag-" + uuid.uuid4().hex[:8])
        res = open_export(path, self.server.records_key_file, bag, data_dir=self.server.data_dir)
        self.assertEqual(res.returncode, 0, res.stderr)
        found = {r["event_id"]: r for r in read_bundle(bag) if r["kind"] == "plaintext"}
        for event_id, (sender, text) in sent.items():
            self.assertEqual(found[event_id]["event"]["content"]["body"], text)
            eml = os.path.join(bag, "data", "messages", "%010d.eml" % found[event_id]["seq"])
            with open(eml, "rb") as f:
                msg = email.message_from_bytes(f.read(), policy=email.policy.default)
            self.assertEqual(str(msg["X-Matrix-Event-ID"]), event_id)
            self.assertIn("decrypted by the records keeper", str(msg["X-Despatch-Decrypted"]))
            self.assertEqual(msg.get_body().get_content().rstrip("\r\n"), text)
        self.assertEqual(verify_export(bag, self.server.data_dir).returncode, 0)

    async def exchange(self, room_id):
        """nio -> js and js -> nio, each decrypting the other's message. Returns what was sent,
        {event_id: (sender, text)}."""
        sent = {}
        # nio to js: nio shares its megolm session with js's (unverified) device over olm.
        text1 = "from nio " + uuid.uuid4().hex
        resp = await self.nio.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": text1},
                                        ignore_unverified_devices=True)
        self.assertIsInstance(resp, RoomSendResponse, repr(resp))
        sent[resp.event_id] = (self.nio_user, text1)
        self.assert_stored_encrypted(self.js_token, room_id, resp.event_id, text1)
        got = await self.peer.request("wait_event", room_id=room_id, event_id=resp.event_id, timeout_ms=30000)
        self.assertIsNone(got["decryption_failure"], got)
        self.assertEqual(got["wire_type"], "m.room.encrypted")
        self.assertEqual(got["algorithm"], MEGOLM)
        self.assertEqual(got["type"], "m.room.message")
        self.assertEqual(got["body"], text1)
        self.assertEqual(got["sender"], self.nio_user)

        # js to nio.
        text2 = "from js " + uuid.uuid4().hex
        js_sent = await self.peer.request("send", room_id=room_id, body=text2)
        sent[js_sent["event_id"]] = (self.js_user, text2)
        self.assert_stored_encrypted(self.nio_token, room_id, js_sent["event_id"], text2)
        ev = await self.nio_wait_decrypted(room_id, js_sent["event_id"])
        self.assertIsInstance(ev, RoomMessageText, repr(ev))
        self.assertTrue(ev.decrypted, "nio did not mark the event as decrypted")
        self.assertEqual(ev.body, text2)
        self.assertEqual(ev.sender, self.js_user)

        # A second round each way on the established sessions.
        text3 = "again from nio " + uuid.uuid4().hex
        resp = await self.nio.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": text3},
                                        ignore_unverified_devices=True)
        self.assertIsInstance(resp, RoomSendResponse, repr(resp))
        sent[resp.event_id] = (self.nio_user, text3)
        got = await self.peer.request("wait_event", room_id=room_id, event_id=resp.event_id, timeout_ms=30000)
        self.assertIsNone(got["decryption_failure"], got)
        self.assertEqual(got["body"], text3)
        text4 = "again from js " + uuid.uuid4().hex
        js_sent = await self.peer.request("send", room_id=room_id, body=text4)
        sent[js_sent["event_id"]] = (self.js_user, text4)
        ev = await self.nio_wait_decrypted(room_id, js_sent["event_id"])
        self.assertIsInstance(ev, RoomMessageText, repr(ev))
        self.assertEqual(ev.body, text4)
        return sent

    # ---- tests --------------------------------------------------------------------------

    async def test_nio_creates_room_and_both_decrypt(self):
        resp = await self.nio.room_create(name="nio e2ee", invite=[self.js_user],
                                          initial_state=[ENCRYPTION_STATE])
        self.assertIsInstance(resp, RoomCreateResponse, repr(resp))
        room_id = resp.room_id
        await self.peer.request("join", room_id=room_id)
        await self.nio_until(lambda r: self.nio_sees_joined(room_id, [self.nio_user, self.js_user]),
                             "nio to see the js user joined to the encrypted room")
        await self.peer.request("wait_ready", room_id=room_id, members=[self.nio_user, self.js_user])
        self.assert_recorded(await self.exchange(room_id), room_id)

    async def test_nio_direct_chat_with_js_is_recorded(self):
        resp = await self.nio.room_create(is_direct=True, invite=[self.js_user], initial_state=[ENCRYPTION_STATE])
        self.assertIsInstance(resp, RoomCreateResponse, repr(resp))
        room_id = resp.room_id
        await self.peer.request("join", room_id=room_id)
        await self.nio_until(lambda r: self.nio_sees_joined(room_id, [self.nio_user, self.js_user]),
                             "nio to see the js user joined to the direct chat")
        await self.peer.request("wait_ready", room_id=room_id, members=[self.nio_user, self.js_user])
        self.assert_recorded(await self.exchange(room_id), room_id)

    async def test_js_creates_room_and_both_decrypt(self):
        created = await self.peer.request("create_room", invite=[self.nio_user])
        room_id = created["room_id"]
        await self.nio_until(lambda r: room_id in r.rooms.invite, "nio to see the invite")
        resp = await self.nio.join(room_id)
        self.assertIsInstance(resp, JoinResponse, repr(resp))
        await self.nio_until(lambda r: self.nio_sees_joined(room_id, [self.nio_user, self.js_user]),
                             "nio to see itself joined to the encrypted room")
        await self.peer.request("wait_ready", room_id=room_id, members=[self.nio_user, self.js_user])
        # Both sides know each other's device keys through /keys/query.
        devs = await self.peer.request("device_info", user_id=self.nio_user)
        self.assertIn(self.nio.device_id, devs["devices"])
        await self.nio_until(lambda r: any(d.id == self.js_device for d in
                                           self.nio.device_store.active_user_devices(self.js_user)),
                             "nio to know the js device")
        self.assert_recorded(await self.exchange(room_id), room_id)


if __name__ == "__main__":
    unittest.main()
