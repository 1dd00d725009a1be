"""Retention reaches the live copy: once a record's period is over (and no hold covers it),
the message is gone from the event tables and from every client read, while the sealed
record's tombstone keeps the chain; a held message stays in both."""

import json
import time
import unittest
import uuid

from records_helpers import RecordsServer, db_connect, records_cli, sync_timeline


class LiveCopyRetentionTests(unittest.TestCase):

    def setUp(self):
        # About 2.6 seconds.
        self.srv = RecordsServer(config_toml="[records]\nretention_days = 0.00003\n")
        self.srv.start()
        self.addCleanup(self.srv.teardown)

    def bodies(self, client, room):
        msgs = client.messages(room)["chunk"]
        timeline = sync_timeline(client.initial_sync(), room)
        return ({e.get("content", {}).get("body") for e in msgs} |
                {e.get("content", {}).get("body") for e in timeline})

    def test_expired_messages_leave_the_live_tables_and_every_read(self):
        alice = self.srv.register("alice")
        bob = self.srv.register("bob")
        free = alice.create_room(invite=[bob.user_id])
        held = alice.create_room(invite=[bob.user_id])
        bob.join(free)
        bob.join(held)
        tag = uuid.uuid4().hex[:8]
        gone = alice.say(free, "expires %s" % tag)
        kept = alice.say(held, "held %s" % tag)
        st, body = self.srv.admin("POST", "/legal_holds", {"case_ref": "HOLD-" + tag, "room_id": held})
        self.assertEqual(st, 200, body)
        self.assertIn("expires %s" % tag, self.bodies(bob, free), "readable before its period ends")

        time.sleep(3.0)
        fresh = alice.say(free, "fresh %s" % tag)
        st, body = self.srv.admin("POST", "/retention/run", {"case_ref": "RET-LIVE"})
        self.assertEqual(st, 200, body)
        self.assertGreater(body["deleted"], 0, body)

        for client in (alice, bob):
            seen = self.bodies(client, free)
            self.assertNotIn("expires %s" % tag, seen, "an expired message is still served")
            self.assertIn("fresh %s" % tag, seen, "a message within its period went too")
            self.assertIn("held %s" % tag, self.bodies(client, held), "a held message went")
            st, ev = client.get_event(free, gone)
            self.assertFalse(st == 200 and "body" in ev.get("content", {}), "GET /event still has the body: %r" % ev)
            st, ctx = client.context(free, fresh)
            self.assertEqual(st, 200, ctx)
            around = ctx.get("events_before", []) + ctx.get("events_after", []) + [ctx.get("event", {})]
            self.assertNotIn("expires %s" % tag, {e.get("content", {}).get("body") for e in around})
            st, ev = client.get_event(held, kept)
            self.assertEqual((st, ev.get("content", {}).get("body")), (200, "held %s" % tag))

        code = self.srv.stop()
        self.assertEqual(code, 0)
        with db_connect(self.srv.data_dir) as conn:
            row = conn.execute("SELECT json, purged FROM events WHERE event_id=?", (gone,)).fetchone()
            self.assertIsNotNone(row, "the event's shell stays for the room's graph")
            self.assertEqual(row["purged"], 1)
            self.assertNotIn(tag, row["json"], "the plaintext is still in the events table")
            self.assertNotIn("body", json.loads(row["json"]).get("content", {}))
            held_row = conn.execute("SELECT json, purged FROM events WHERE event_id=?", (kept,)).fetchone()
            self.assertEqual(held_row["purged"], 0)
            self.assertIn(tag, held_row["json"])
            kinds = {r[0] for r in conn.execute("SELECT kind FROM archive WHERE event_id=?", (gone,))}
            self.assertEqual(kinds, {"tombstone"})
        res = records_cli(self.srv.data_dir, "verify")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)


if __name__ == "__main__":
    unittest.main()
