"""Classification over raw HTTP: a room's gov.despatch.classification state event and the
label its topic carries, messages with their own marking, the refusals (refused and too high
markings, protective markings in unencrypted text, createRoom's initial_state) with their
exact errors and audit entries, the marking each archive record keeps (in the database and
in an admin export), and what matrix-nio, unmodified, shows and hears of it.

Run: cd tests/integration/py && /usr/bin/python3 -m unittest test_classification -v
"""

import json
import time
import unittest

from nio import (AsyncClient, AsyncClientConfig, LoginResponse, RoomCreateResponse, RoomPutStateResponse,
                 RoomSendError, RoomSendResponse)

from harness import ServerError, ServerFixture, q
from records_helpers import PASSWORD, RecordsServer, archive_rows, txn

CLASS = "gov.despatch.classification"


class ClassificationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = RecordsServer().start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.teardown()

    def setUp(self):
        self.alice, self.bob = self.srv.register("alice"), self.srv.register("bob")

    def room(self, **extra):
        room = self.alice.create_room(invite=[self.bob.user_id], **extra)
        self.bob.join(room)
        return room

    def topic(self, room):
        st, body = self.alice.call("GET", "/rooms/%s/state/m.room.topic/" % q(room))
        return body.get("topic") if st == 200 else None

    def send(self, who, room, content, event_type="m.room.message"):
        return who.call("PUT", "/rooms/%s/send/%s/%s" % (q(room), event_type, txn()), content)

    def audited(self):
        st, body = self.srv.admin("GET", "/audit?limit=1000")
        self.assertEqual(st, 200, body)
        entries = sorted(body["entries"], key=lambda e: e["seq"])  # oldest first
        return [e for e in entries if e["action"] == "suspicious.classification"]

    def assert_refused(self, st, body, *phrases):
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)
        for p in phrases:
            self.assertIn(p, body["error"])

    def classification_of(self, event_id):
        rows = [r for r in archive_rows(self.srv.data_dir) if r["event_id"] == event_id]
        self.assertEqual(len(rows), 1, event_id)
        return rows[0]["classification"]

    def test_a_room_shows_its_classification_in_state_and_topic(self):
        room = self.room(topic="Budget")
        # No event: the default, OFFICIAL, which is not labelled.
        st, _ = self.alice.call("GET", "/rooms/%s/state/%s/" % (q(room), CLASS))
        self.assertEqual(st, 404)
        self.assertEqual(self.topic(room), "Budget")
        # A room admin raises it: the state says so and the topic carries the label.
        self.alice.put_state(room, CLASS, {"marking": "OFFICIAL-SENSITIVE", "descriptors": ["COMMERCIAL"]})
        got = self.bob.ok("GET", "/rooms/%s/state/%s/" % (q(room), CLASS))
        self.assertEqual(got, {"marking": "OFFICIAL-SENSITIVE", "descriptors": ["COMMERCIAL"]})
        state = {(e["type"], e["state_key"]): e for e in self.bob.ok("GET", "/rooms/%s/state" % q(room))}
        self.assertEqual(state[(CLASS, "")]["content"]["marking"], "OFFICIAL-SENSITIVE")
        self.assertEqual(state[("m.room.topic", "")]["content"]["topic"], "[OFFICIAL-SENSITIVE COMMERCIAL] Budget")
        # A topic set later keeps the real label, whatever label it was written with.
        self.alice.put_state(room, "m.room.topic", {"topic": "[OFFICIAL] Forecast"})
        self.assertEqual(self.topic(room), "[OFFICIAL-SENSITIVE COMMERCIAL] Forecast")
        # Lowered again, the label goes.
        self.alice.put_state(room, CLASS, {"marking": "OFFICIAL"})
        self.assertEqual(self.topic(room), "Forecast")
        # A member without the power to send state cannot change it.
        st, body = self.bob.call("PUT", "/rooms/%s/state/%s/" % (q(room), CLASS), {"marking": "OFFICIAL-SENSITIVE"})
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)
        # A room made with a classification in initial_state starts labelled.
        made = self.alice.create_room(topic="Cases", initial_state=[
            {"type": CLASS, "state_key": "", "content": {"marking": "OFFICIAL-SENSITIVE", "descriptors": ["PERSONAL"]}}])
        self.assertEqual(self.topic(made), "[OFFICIAL-SENSITIVE PERSONAL] Cases")

    def test_archive_records_carry_the_marking_of_their_time(self):
        room = self.room()
        before = self.alice.say(room, "routine")
        self.alice.put_state(room, CLASS, {"marking": "OFFICIAL-SENSITIVE"})
        during = self.alice.say(room, "sensitive by the room")
        own = self.alice.send(room, {"msgtype": "m.text", "body": "marked lower",
                                     CLASS: {"marking": "OFFICIAL"}})
        own_sensitive = self.alice.send(room, {"msgtype": "m.text", "body": "marked with a descriptor",
                                               CLASS: {"marking": "OFFICIAL-SENSITIVE", "descriptors": ["PERSONAL"]}})
        self.alice.put_state(room, CLASS, {"marking": "OFFICIAL"})
        after = self.alice.say(room, "routine again")
        self.assertEqual(self.classification_of(before), "OFFICIAL")
        self.assertEqual(self.classification_of(during), "OFFICIAL-SENSITIVE")
        self.assertEqual(self.classification_of(own), "OFFICIAL")
        self.assertEqual(self.classification_of(own_sensitive), "OFFICIAL-SENSITIVE PERSONAL")
        self.assertEqual(self.classification_of(after), "OFFICIAL")
        # The records office reads the same back from an export (admin API).
        _, records, _ = self.srv.export_sealed("CLASS-1", {"room": room})
        exported = {rec.get("event_id"): rec for rec in records}
        self.assertEqual(exported[during]["classification"], "OFFICIAL-SENSITIVE")
        self.assertEqual(exported[own_sensitive]["classification"], "OFFICIAL-SENSITIVE PERSONAL")
        self.assertEqual(exported[before]["classification"], "OFFICIAL")
        # Every record has one now: the column is never left empty for this server's events.
        rows = [r for r in archive_rows(self.srv.data_dir) if r["room_id"] == room]
        self.assertTrue(rows)
        self.assertEqual([r["event_id"] for r in rows if not r["classification"]], [])

    def test_refused_markings_are_forbidden_explained_and_audited(self):
        room = self.room()
        audited_before = len(self.audited())
        for marking in ("SECRET", "TOP SECRET", "secret"):
            st, body = self.alice.call("PUT", "/rooms/%s/state/%s/" % (q(room), CLASS), {"marking": marking})
            self.assert_refused(st, body, "must never be sent through this server", "approved systems")
        # A message marked above its room.
        st, body = self.send(self.alice, room, {"msgtype": "m.text", "body": "x", CLASS: {"marking": "OFFICIAL-SENSITIVE"}})
        self.assert_refused(st, body, "This message is marked OFFICIAL-SENSITIVE, above its room's classification "
                                      "OFFICIAL: ask a room admin to raise the room's classification first")
        st, body = self.send(self.bob, room, {"msgtype": "m.text", "body": "x", CLASS: {"marking": "TOP SECRET"}})
        self.assert_refused(st, body, "TOP SECRET material must never be sent")
        # Protective markings in unencrypted text: a first line, a file name, an edit.
        st, body = self.send(self.bob, room, {"msgtype": "m.text", "body": "TOP SECRET UK EYES ONLY\nthe plan is"})
        self.assert_refused(st, body, "The message starts with the protective marking TOP SECRET", "approved systems")
        st, body = self.send(self.alice, room, {"msgtype": "m.file", "body": "minutes", "filename": "SECRET.docx",
                                                "url": "mxc://localhost/abc"})
        self.assert_refused(st, body, "The file name starts with the protective marking SECRET")
        st, body = self.send(self.alice, room, {"msgtype": "m.text", "body": "* secret",
                                                "m.new_content": {"msgtype": "m.text", "body": "secret"}})
        self.assert_refused(st, body, "protective marking SECRET")
        # Ordinary sentences pass, and so does encrypted content the server cannot read.
        for text in ("Secret santa on Friday", "This is not secret", "Secretary of State at 10"):
            st, body = self.send(self.alice, room, {"msgtype": "m.text", "body": text})
            self.assertEqual(st, 200, body)
        st, body = self.send(self.alice, room, {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "SECRET",
                                                "sender_key": "k", "session_id": "s", "device_id": "D"},
                             "m.room.encrypted")
        self.assertEqual(st, 200, body)
        # createRoom with a refused classification makes no room.
        st, body = self.alice.call("POST", "/createRoom", {"preset": "private_chat", "initial_state": [
            {"type": CLASS, "state_key": "", "content": {"marking": "SECRET"}}]})
        self.assert_refused(st, body, "SECRET material must never be sent")
        # Malformed markings are bad input, not suspicious.
        for content, code in (({"marking": "RESTRICTED"}, "M_INVALID_PARAM"), ({"marking": 5}, "M_BAD_JSON"),
                              ({"marking": "OFFICIAL", "descriptors": ["SPICY"]}, "M_INVALID_PARAM")):
            st, body = self.alice.call("PUT", "/rooms/%s/state/%s/" % (q(room), CLASS), content)
            self.assertEqual((st, body.get("errcode")), (400, code), body)
        entries = self.audited()[audited_before:]
        attempts = [(e["details"]["attempt"], e["details"]["marking"]) for e in entries]
        self.assertEqual(attempts, [
            ("room_marking", "SECRET"), ("room_marking", "TOP SECRET"), ("room_marking", "SECRET"),
            ("above_room", "OFFICIAL-SENSITIVE"), ("message_marking", "TOP SECRET"),
            ("protective_marking", "TOP SECRET"), ("protective_marking", "SECRET"),
            ("protective_marking", "SECRET"), ("room_marking", "SECRET")])
        self.assertEqual(entries[5]["actor"], self.bob.user_id)
        self.assertEqual(entries[5]["details"]["room_id"], room)
        # What was refused is not kept: neither in the audit log nor in the room.
        self.assertNotIn("the plan is", str(entries))
        bodies = [e["content"].get("body") for e in self.alice.messages(room)["chunk"]]
        self.assertNotIn("TOP SECRET UK EYES ONLY\nthe plan is", bodies)
        self.assertIn("Secret santa on Friday", bodies)


class MaximumTest(unittest.TestCase):
    """A server whose maximum is OFFICIAL: OFFICIAL-SENSITIVE is above it."""

    def test_markings_above_the_maximum_are_refused(self):
        srv = RecordsServer(config_toml='[classification]\nmaximum = "OFFICIAL"\nlabel_default = true\n')
        self.addCleanup(srv.teardown)
        srv.start()
        alice = srv.register("alice")
        room = alice.create_room(topic="Plans")
        # label_default: even OFFICIAL rooms are labelled.
        self.assertEqual(alice.ok("GET", "/rooms/%s/state/m.room.topic/" % q(room))["topic"], "[OFFICIAL] Plans")
        st, body = alice.call("PUT", "/rooms/%s/state/%s/" % (q(room), CLASS), {"marking": "OFFICIAL-SENSITIVE"})
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)
        self.assertIn("This server carries information up to OFFICIAL only, and OFFICIAL-SENSITIVE is above it",
                      body["error"])
        st, body = alice.call("POST", "/createRoom", {"initial_state": [
            {"type": CLASS, "state_key": "", "content": {"marking": "OFFICIAL-SENSITIVE"}}]})
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)
        st, audit = srv.admin("GET", "/audit?limit=100")
        self.assertEqual([e["details"]["marking"] for e in audit["entries"] if e["action"] == "suspicious.classification"],
                         ["OFFICIAL-SENSITIVE", "OFFICIAL-SENSITIVE"])

    def test_an_invalid_scheme_stops_the_server(self):
        for bad in ('[classification]\nmaximum = "SECRET"\n', '[classification]\nlevels = ["OFFICIAL", "SECRET"]\n',
                    '[classification]\ndefault = "OFFICIAL-SENSITIVE"\nmaximum = "OFFICIAL"\n',
                    '[federation.max_classification]\n"b.example" = "TOP SECRET"\n'):
            fx = ServerFixture(config_toml=bad, ready_timeout=5)
            try:
                with self.assertRaises(ServerError, msg="server started with %r" % bad):
                    fx.start()
            finally:
                fx.teardown()


class ClassificationNioTest(unittest.IsolatedAsyncioTestCase):
    """What an unmodified client (matrix-nio) shows and hears: the label in the room's
    topic, and the refusal of a SECRET message with its advice."""

    async def asyncSetUp(self):
        self.srv = RecordsServer()
        self.srv.start()
        self.clients = []

    async def asyncTearDown(self):
        for c in self.clients:
            await c.close()
        self.srv.teardown()

    async def nio_user(self, prefix):
        user = self.srv.register(prefix)
        client = AsyncClient(self.srv.fx.base_url, user.user_id,
                             config=AsyncClientConfig(max_timeouts=2, encryption_enabled=False,
                                                      store_sync_tokens=False, request_timeout=20))
        self.clients.append(client)
        self.assertIsInstance(await client.login(PASSWORD), LoginResponse)
        return client

    async def test_nio_sees_the_label_and_the_refusal(self):
        alice, bob = await self.nio_user("alice"), await self.nio_user("bob")
        made = await alice.room_create(topic="Budget", invite=[bob.user_id])
        self.assertIsInstance(made, RoomCreateResponse, repr(made))
        room = made.room_id
        await bob.join(room)
        put = await alice.room_put_state(room, CLASS, {"marking": "OFFICIAL-SENSITIVE"})
        self.assertIsInstance(put, RoomPutStateResponse, repr(put))
        end = time.monotonic() + 15
        while time.monotonic() < end:
            await bob.sync(timeout=500)
            if room in bob.rooms and bob.rooms[room].topic == "[OFFICIAL-SENSITIVE] Budget":
                break
        self.assertEqual(bob.rooms[room].topic, "[OFFICIAL-SENSITIVE] Budget")
        sent = await bob.room_send(room, "m.room.message", {"msgtype": "m.text", "body": "SECRET\nthe plan"})
        self.assertIsInstance(sent, RoomSendError, repr(sent))
        self.assertEqual(sent.status_code, "M_FORBIDDEN")
        self.assertIn("approved systems", sent.message)
        ok = await bob.room_send(room, "m.room.message", {"msgtype": "m.text", "body": "an ordinary secret santa"})
        self.assertIsInstance(ok, RoomSendResponse, repr(ok))


if __name__ == "__main__":
    unittest.main()
