"""Joining a room of another server, between two real Despatch servers on loopback with
certificates from a test CA: a user of B joins a public room of A by its ID (make_join, then
send_join v2), after which A counts B's user among the members and B holds the room's state
as of the join, and messages go both ways (transactions); an invite-only room refuses the
join; an unknown room is reported as such.
"""

import os
import sqlite3
import unittest

from harness import q
from federation_helpers import PairTestCase
from test_federation_keys import wait_for_message


class FederationJoinTest(PairTestCase):
    PREFIX = "despatch-join-"

    def room_on_a(self, preset, name):
        st, body = self.a.client("POST", "/createRoom", {"preset": preset, "name": name})
        self.assertEqual(st, 200, body)
        return body["room_id"]

    def test_join_public_room_of_another_server(self):
        room = self.room_on_a("public_chat", "Shared between departments")
        st, body = self.b.client("POST", "/join/%s?via=%s" % (q(room), q(self.a.name)), {})
        self.assertEqual(st, 200, body)
        self.assertEqual(body["room_id"], room)
        # A: B's user is a member now.
        st, members = self.a.client("GET", "/rooms/%s/joined_members" % q(room))
        self.assertEqual(st, 200, members)
        self.assertIn(self.b.user_id, members["joined"])
        self.assertIn(self.a.user_id, members["joined"])
        # B: the room with its state as of the join, and B's user in it.
        st, joined = self.b.client("GET", "/joined_rooms")
        self.assertEqual(st, 200, joined)
        self.assertIn(room, joined["joined_rooms"])
        st, state = self.b.client("GET", "/rooms/%s/state" % q(room))
        self.assertEqual(st, 200, state)
        kinds = {(e["type"], e.get("state_key")) for e in state}
        self.assertIn(("m.room.create", ""), kinds)
        self.assertIn(("m.room.member", self.a.user_id), kinds)
        self.assertIn(("m.room.member", self.b.user_id), kinds)
        names = [e["content"].get("name") for e in state if e["type"] == "m.room.name"]
        self.assertEqual(names, ["Shared between departments"])
        # B's client learns of the room from /sync like any other.
        st, sync = self.b.client("GET", "/sync")
        self.assertEqual(st, 200, sync)
        self.assertIn(room, sync["rooms"]["join"])
        # Joining again through the same path changes nothing and still succeeds.
        st, body = self.b.client("POST", "/join/%s" % q(room), {})
        self.assertEqual(st, 200, body)

    def test_chat_both_ways_after_a_join(self):
        room = self.room_on_a("public_chat", "Chat across")
        st, body = self.b.client("POST", "/join/%s" % q(room), {})
        self.assertEqual(st, 200, body)
        st, sent = self.a.client("PUT", "/rooms/%s/send/m.room.message/a1" % q(room), {"msgtype": "m.text", "body": "from A"})
        self.assertEqual(st, 200, sent)
        seen = wait_for_message(self.b, room, "from A")
        self.assertEqual(seen["event_id"], sent["event_id"])
        self.assertEqual(seen["sender"], self.a.user_id)
        st, sent = self.b.client("PUT", "/rooms/%s/send/m.room.message/b1" % q(room), {"msgtype": "m.text", "body": "from B"})
        self.assertEqual(st, 200, sent)
        seen = wait_for_message(self.a, room, "from B")
        self.assertEqual(seen["event_id"], sent["event_id"])
        self.assertEqual(seen["sender"], self.b.user_id)

    def page_back(self, peer, room, limit):
        """Every event of room that peer's /messages gives, paging backwards, newest first."""
        events, token = [], None
        for _ in range(50):
            path = "/rooms/%s/messages?dir=b&limit=%d" % (q(room), limit) + ("&from=" + q(token) if token else "")
            st, page = peer.client("GET", path)
            self.assertEqual(st, 200, page)
            events += page["chunk"]
            token = page.get("end")
            if not token:
                return events
        self.fail("paging never ended")

    def test_history_from_before_the_join_is_fetched_when_paging_back(self):
        room = self.room_on_a("public_chat", "History before the join")
        sent = []
        # More than the join fetches at once: paging back asks A for the rest.
        for i in range(80):
            st, body = self.a.client("PUT", "/rooms/%s/send/m.room.message/h%d" % (q(room), i),
                                     {"msgtype": "m.text", "body": "earlier %d" % i})
            self.assertEqual(st, 200, body)
            sent.append(body["event_id"])
        st, body = self.b.client("POST", "/join/%s" % q(room), {})
        self.assertEqual(st, 200, body)
        events = self.page_back(self.b, room, 7)
        ids = [e["event_id"] for e in events]
        self.assertEqual(len(ids), len(set(ids)), "no event twice")
        messages = [e["event_id"] for e in events if e["type"] == "m.room.message"]
        self.assertEqual(messages, list(reversed(sent)), "every message before the join, newest first")
        # The room's story reads in order: B's join first, the create event last.
        self.assertEqual((events[0]["type"], events[0]["state_key"]), ("m.room.member", self.b.user_id))
        self.assertEqual(events[-1]["type"], "m.room.create")
        # A's view of the same history, for comparison: the same events in the same order.
        on_a = [e["event_id"] for e in self.page_back(self.a, room, 50)]
        self.assertEqual(ids, on_a)
        # /sync never hands the history out as new.
        st, sync = self.b.client("GET", "/sync")
        self.assertEqual(st, 200, sync)
        st, again = self.b.client("GET", "/sync?since=%s&timeout=0" % q(sync["next_batch"]))
        self.assertEqual(st, 200, again)
        self.assertNotIn(room, again.get("rooms", {}).get("join", {}))

    def test_acknowledged_event_reaches_a_stopped_server_after_kill_9(self):
        room = self.room_on_a("public_chat", "Durable delivery")
        st, body = self.b.client("POST", "/join/%s" % q(room), {})
        self.assertEqual(st, 200, body)
        self.b.fx.stop()
        try:
            st, sent = self.a.client("PUT", "/rooms/%s/send/m.room.message/k9" % q(room),
                                     {"msgtype": "m.text", "body": "sent while B was down"})
            self.assertEqual(st, 200, sent)
            # The event's queue row is committed with it: it is there as soon as the send is
            # acknowledged, and a kill -9 of A right then loses nothing.
            db = sqlite3.connect(os.path.join(self.a.fx.data_dir, "despatch.db"))
            try:
                rows = db.execute("SELECT count(*) FROM federation_queue WHERE destination=? AND json LIKE ?",
                                  (self.b.name, "%sent while B was down%")).fetchone()[0]
            finally:
                db.close()
            self.assertEqual(rows, 1)
            self.a.fx.restart(kill=True)
        finally:
            self.b.fx.start()
        seen = wait_for_message(self.b, room, "sent while B was down", timeout=40)
        self.assertEqual(seen["event_id"], sent["event_id"])

    def test_invite_only_room_refuses_the_join(self):
        room = self.room_on_a("private_chat", "Invite only")
        st, body = self.b.client("POST", "/join/%s?via=%s" % (q(room), q(self.a.name)), {})
        self.assertEqual(st, 403, body)
        self.assertEqual(body["errcode"], "M_FORBIDDEN")
        st, members = self.a.client("GET", "/rooms/%s/joined_members" % q(room))
        self.assertEqual(st, 200, members)
        self.assertNotIn(self.b.user_id, members["joined"])
        st, joined = self.b.client("GET", "/joined_rooms")
        self.assertNotIn(room, joined["joined_rooms"])

    def test_unknown_room_is_not_found(self):
        room = "!nosuchroom:" + self.a.name
        st, body = self.b.client("POST", "/join/%s" % q(room), {})
        self.assertEqual(st, 404, body)
        self.assertEqual(body["errcode"], "M_NOT_FOUND")


if __name__ == "__main__":
    unittest.main()
