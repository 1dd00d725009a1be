"""The records keeper in a federated encrypted room, between two real Despatch servers on
loopback: a matrix-nio user of B joins an encrypted room of A (recorded by A's keeper) and
sends an encrypted message; B's client finds the keeper's device through B's server (keys
query and claim over federation) and shares the room key with it by to-device over
federation; A's archive then holds the message's plaintext, attributed to B's user, beside
the ciphertext record marked with its origin.

Run with /usr/bin/python3 (Debian's python3-matrix-nio):
    cd tests/integration/py && /usr/bin/python3 -m unittest test_federation_records_nio -v
"""

import asyncio
import shutil
import tempfile
import time
import unittest
import uuid

from nio import (AsyncClient, AsyncClientConfig, JoinedMembersResponse, JoinResponse, LoginResponse,
                 RoomSendResponse)

from e2ee_helpers import nio_step
from federation_helpers import PeerPair
from harness import q
from records_helpers import cli_export, read_bundle

PASSWORD = "nio federation records password"
DEADLINE = 40.0
MEGOLM = "m.megolm.v1.aes-sha2"


class FederationKeeperNioTest(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.pair = PeerPair("despatch-fed-records-nio-")
        cls.pair.start()
        cls.a, cls.b = cls.pair.a, cls.pair.b

    @classmethod
    def tearDownClass(cls):
        cls.pair.stop()

    async def asyncSetUp(self):
        asyncio.get_running_loop().slow_callback_duration = 5.0
        self.store = tempfile.mkdtemp(prefix="despatch-fed-nio-")
        name = "nio" + uuid.uuid4().hex[:8]
        self.b.fx.register(name, PASSWORD)
        cfg = AsyncClientConfig(max_timeouts=2, encryption_enabled=True, store_sync_tokens=False, request_timeout=20)
        self.bu = AsyncClient(self.b.fx.base_url, "@%s:%s" % (name, self.b.name), store_path=self.store, config=cfg)
        resp = await self.bu.login(PASSWORD, device_name="nio across servers")
        self.assertIsInstance(resp, LoginResponse, repr(resp))
        await nio_step(self.bu, 0)

    async def asyncTearDown(self):
        await self.bu.close()
        shutil.rmtree(self.store, ignore_errors=True)

    async def until(self, predicate, what):
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            await nio_step(self.bu)
            got = predicate()
            if got:
                return got
        raise AssertionError("timed out after %.0fs waiting for %s" % (DEADLINE, what))

    def export_a(self):
        out = self.a.fx.tmp + "/export-" + uuid.uuid4().hex[:8]
        res = cli_export(self.a.fx.data_dir, self.a.fx.records_key_file, out, "FED-NIO")
        self.assertEqual(res.returncode, 0, res.stderr)
        return read_bundle(out)

    async def test_keeper_of_a_decrypts_a_message_from_b(self):
        keeper = "@records:%s" % self.a.name
        st, body = self.a.client("POST", "/createRoom", {
            "preset": "public_chat", "name": "encrypted across",
            "initial_state": [{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}]})
        self.assertEqual(st, 200, body)
        room = body["room_id"]
        self.assertIsInstance(await self.bu.join(room), JoinResponse)
        # A's user looks at B's user's keys, so A keeps B's device list (the keeper checks
        # the sender of a room key against it).
        st, keys = self.a.client("POST", "/keys/query", {"device_keys": {self.bu.user_id: []}})
        self.assertEqual(st, 200, keys)
        self.assertIn(self.bu.device_id, keys["device_keys"].get(self.bu.user_id, {}), keys)

        def ready():
            r = self.bu.rooms.get(room)
            if r is None or not r.encrypted or keeper not in r.users:
                return False
            return any(d.id == "RECORDSKEEPER" for d in self.bu.device_store.active_user_devices(keeper))
        await self.until(ready, "B's client to see A's keeper and its device")

        # nio encrypts only once it has the full member list (lazy loading aside).
        members = await self.bu.joined_members(room)
        self.assertIsInstance(members, JoinedMembersResponse, repr(members))
        self.assertTrue(self.bu.rooms[room].members_synced, repr(members))
        text = "encrypted from B " + uuid.uuid4().hex
        resp = await self.bu.room_send(room, "m.room.message", {"msgtype": "m.text", "body": text},
                                       ignore_unverified_devices=True)
        self.assertIsInstance(resp, RoomSendResponse, repr(resp))
        event_id = resp.event_id

        end = time.monotonic() + DEADLINE
        while True:
            records = [r for r in self.export_a() if r["event_id"] == event_id]
            plain = [r for r in records if r["kind"] == "plaintext"]
            if plain:
                break
            if time.monotonic() > end:
                raise AssertionError("A's archive has no plaintext of %s: %r" % (event_id, records))
            await nio_step(self.bu)
        self.assertEqual(plain[0]["sender"], self.bu.user_id)
        self.assertEqual(plain[0]["event"]["content"]["body"], text)
        cipher = [r for r in records if r["kind"] == "event"]
        self.assertEqual(len(cipher), 1, records)
        self.assertEqual(cipher[0]["type"], "m.room.encrypted")
        self.assertEqual(cipher[0]["event"]["despatch.received"]["origin"], self.b.name)


if __name__ == "__main__":
    unittest.main()
