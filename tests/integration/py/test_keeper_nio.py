"""The records keeper with matrix-nio (python3-olm): two nio users chat in an encrypted room
and an encrypted direct chat, and the records office's export holds their plaintext, their
edit and the plaintext of a redacted message; nio cannot kick the keeper.

Run with /usr/bin/python3 (Debian's python3-matrix-nio):
    cd tests/integration/py && /usr/bin/python3 -m unittest test_keeper_nio -v
"""

import asyncio
import shutil
import tempfile
import time
import unittest
import uuid

from nio import (AsyncClient, AsyncClientConfig, JoinResponse, LoginResponse, RoomCreateResponse,
                 RoomKickError, RoomMessageText, RoomPreset, RoomRedactResponse, RoomSendResponse)

from e2ee_helpers import nio_step
from harness import q
from records_helpers import RecordsServer, cli_export, read_bundle, verify_export

PASSWORD = "nio keeper password 1"
DEADLINE = 30.0
MEGOLM = "m.megolm.v1.aes-sha2"
ENCRYPTION_STATE = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}
KEEPER = "@records:localhost"


def uname(prefix):
    return "%s%s" % (prefix, uuid.uuid4().hex[:8])


class KeeperNioTests(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = RecordsServer().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.teardown()

    async def asyncSetUp(self):
        asyncio.get_running_loop().slow_callback_duration = 5.0
        self.stores = []
        self.alice = await self.nio_user("alice")
        self.bob = await self.nio_user("bob")

    async def asyncTearDown(self):
        for c in (self.alice, self.bob):
            await c.close()
        for s in self.stores:
            shutil.rmtree(s, ignore_errors=True)

    async def nio_user(self, prefix):
        name = uname(prefix)
        self.server.fx.register(name, PASSWORD)
        store = tempfile.mkdtemp(prefix="despatch-keeper-nio-")
        self.stores.append(store)
        cfg = AsyncClientConfig(max_timeouts=2, encryption_enabled=True, store_sync_tokens=False,
                                request_timeout=20)
        client = AsyncClient(self.server.fx.base_url, "@%s:localhost" % name, store_path=store, config=cfg)
        resp = await client.login(PASSWORD, device_name="nio keeper test")
        self.assertIsInstance(resp, LoginResponse, repr(resp))
        await nio_step(client, 0)
        return client

    async def until(self, client, predicate, what, deadline=DEADLINE):
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            await nio_step(client)
            got = predicate()
            if got:
                return got
        raise AssertionError("%s: timed out after %.0fs waiting for %s" % (client.user_id, deadline, what))

    def sees_joined(self, client, room_id, users):
        room = client.rooms.get(room_id)
        if room is None or not room.encrypted:
            return False
        joined = set(room.users.keys()) - set(room.invited_users.keys())
        return all(u in joined for u in users)

    def knows_keeper_device(self, client):
        return any(d.id == "RECORDSKEEPER" for d in client.device_store.active_user_devices(KEEPER))

    async def encrypted_room(self, direct=False):
        extra = {"is_direct": True, "preset": RoomPreset.trusted_private_chat} if direct else {}
        resp = await self.alice.room_create(name="keeper nio", invite=[self.bob.user_id],
                                            initial_state=[ENCRYPTION_STATE], **extra)
        self.assertIsInstance(resp, RoomCreateResponse, repr(resp))
        room_id = resp.room_id
        await self.until(self.bob, lambda: room_id in self.bob.invited_rooms, "the invite")
        self.assertIsInstance(await self.bob.join(room_id), JoinResponse)
        members = [self.alice.user_id, self.bob.user_id, KEEPER]
        for c in (self.alice, self.bob):
            await self.until(c, lambda c=c: self.sees_joined(c, room_id, members), "everyone joined")
            await self.until(c, lambda c=c: self.knows_keeper_device(c), "the keeper's device")
        return room_id

    async def send(self, client, room_id, content):
        # nio shares room keys with unverified devices only when told to; the keeper's device
        # is cross-signed by its own server-made keys, not verified by these users.
        resp = await client.room_send(room_id, "m.room.message", content, ignore_unverified_devices=True)
        self.assertIsInstance(resp, RoomSendResponse, repr(resp))
        return resp.event_id

    async def say(self, client, room_id, body):
        return await self.send(client, room_id, {"msgtype": "m.text", "body": body})

    async def decrypted_by(self, client, room_id, event_id):
        # nio keeps no timeline: the event is looked for in the sync responses.
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            resp = await nio_step(client)
            room = resp.rooms.join.get(room_id)
            for ev in (room.timeline.events if room else []):
                if ev.event_id == event_id and isinstance(ev, RoomMessageText):
                    return ev
        raise AssertionError("%s never decrypted %s" % (client.user_id, event_id))

    def export(self):
        out = self.server.new_out_path("keeper-nio")
        res = cli_export(self.server.data_dir, self.server.secret_key_file, out, "KEEPER-NIO")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(verify_export(out, self.server.data_dir).returncode, 0)
        return read_bundle(out)

    def plaintext_records(self, event_ids):
        """The export once it holds a plaintext record of every event: {event_id: record}."""
        end = time.monotonic() + DEADLINE
        while True:
            found = {r["event_id"]: r for r in self.export() if r["kind"] == "plaintext"}
            if all(e in found for e in event_ids):
                return found
            if time.monotonic() > end:
                missing = [e for e in event_ids if e not in found]
                raise AssertionError("no plaintext records of %s" % missing)
            time.sleep(0.5)

    # ---- tests --------------------------------------------------------------------------

    async def test_encrypted_room_plaintext_edit_and_redaction_in_export(self):
        room_id = await self.encrypted_room()
        hello = "hello from nio alice " + uuid.uuid4().hex
        reply = "reply from nio bob " + uuid.uuid4().hex
        secret = "redacted soon " + uuid.uuid4().hex
        edited = "hello, edited " + uuid.uuid4().hex
        hello_id = await self.say(self.alice, room_id, hello)
        self.assertEqual((await self.decrypted_by(self.bob, room_id, hello_id)).body, hello)
        reply_id = await self.say(self.bob, room_id, reply)
        self.assertEqual((await self.decrypted_by(self.alice, room_id, reply_id)).body, reply)
        edit_id = await self.send(self.alice, room_id, {
            "msgtype": "m.text", "body": "* " + edited,
            "m.new_content": {"msgtype": "m.text", "body": edited},
            "m.relates_to": {"rel_type": "m.replace", "event_id": hello_id}})
        secret_id = await self.say(self.bob, room_id, secret)
        self.assertIsInstance(await self.bob.room_redact(room_id, secret_id, reason="oops"), RoomRedactResponse)

        found = self.plaintext_records([hello_id, reply_id, edit_id, secret_id])
        self.assertEqual(found[hello_id]["event"]["content"]["body"], hello)
        self.assertEqual(found[hello_id]["sender"], self.alice.user_id)
        self.assertTrue(found[hello_id]["event"]["decryption"]["sender_verified"])
        self.assertEqual(found[reply_id]["event"]["content"]["body"], reply)
        self.assertEqual(found[reply_id]["sender"], self.bob.user_id)
        self.assertEqual(found[edit_id]["event"]["content"]["m.new_content"]["body"], edited)
        self.assertEqual(found[edit_id]["event"]["content"]["m.relates_to"]["event_id"], hello_id)
        self.assertEqual(found[secret_id]["event"]["content"]["body"], secret)
        # Nothing stayed undecryptable.
        st, body = self.server.admin("GET", "/records/undecryptable")
        self.assertEqual(st, 200, body)
        self.assertFalse([e for e in body["events"] if e["room_id"] == room_id], body)

    async def test_encrypted_direct_chat_in_export(self):
        room_id = await self.encrypted_room(direct=True)
        m1 = "direct from nio alice " + uuid.uuid4().hex
        m2 = "direct from nio bob " + uuid.uuid4().hex
        id1 = await self.say(self.alice, room_id, m1)
        self.assertEqual((await self.decrypted_by(self.bob, room_id, id1)).body, m1)
        id2 = await self.say(self.bob, room_id, m2)
        found = self.plaintext_records([id1, id2])
        self.assertEqual(found[id1]["event"]["content"]["body"], m1)
        self.assertEqual(found[id2]["event"]["content"]["body"], m2)

    async def test_kicking_the_keeper_is_refused(self):
        room_id = await self.encrypted_room()
        resp = await self.alice.room_kick(room_id, KEEPER, reason="no records")
        self.assertIsInstance(resp, RoomKickError, repr(resp))
        self.assertEqual(resp.status_code, "M_FORBIDDEN")
        st, body = self.server.http("GET", "/_matrix/client/v3/rooms/%s/joined_members" % q(room_id),
                                    token=self.alice.access_token)
        self.assertEqual(st, 200, body)
        self.assertIn(KEEPER, body["joined"])


if __name__ == "__main__":
    unittest.main()
