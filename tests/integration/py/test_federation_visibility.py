"""History visibility over federation, between two real Despatch servers: what a room of A
hands B's server (single events, backfill, missing events) follows the room's
m.room.history_visibility as B's users may see it. Under "joined", messages from before B's
user joined go out redacted (the graph stays whole, the words stay on A), and B's user never
reads them; under "shared" they go out whole; a message sent while B's user was joined goes
out whole either way.
"""

import unittest

from harness import q
from federation_helpers import PairTestCase
from test_federation_keys import wait_for_message

FED = "/_matrix/federation/v1"


class FederationVisibilityTest(PairTestCase):
    PREFIX = "despatch-visibility-"

    def room_with_history(self, visibility, label):
        """A public room of A with history_visibility `visibility` and one message sent
        before B's user joins: (room, the message's ID, B's join ID)."""
        st, body = self.a.client("POST", "/createRoom", {
            "preset": "public_chat", "name": label,
            "initial_state": [{"type": "m.room.history_visibility", "state_key": "",
                               "content": {"history_visibility": visibility}}]})
        self.assertEqual(st, 200, body)
        room = body["room_id"]
        st, sent = self.a.client("PUT", "/rooms/%s/send/m.room.message/before" % q(room),
                                 {"msgtype": "m.text", "body": "before %s joined" % label})
        self.assertEqual(st, 200, sent)
        st, joined = self.b.client("POST", "/join/%s" % q(room), {})
        self.assertEqual(st, 200, joined)
        # The join went through A (send_join): it is A's latest event.
        st, page = self.a.client("GET", "/rooms/%s/messages?dir=b&limit=1" % q(room))
        self.assertEqual(st, 200, page)
        join = page["chunk"][0]
        self.assertEqual((join["type"], join["state_key"]), ("m.room.member", self.b.user_id))
        return room, sent["event_id"], join["event_id"]

    def fetched(self, event_id):
        st, body = self.pair.federation(self.b, self.a, "GET", "%s/event/%s" % (FED, q(event_id)))
        self.assertEqual(st, 200, body)
        self.assertEqual(len(body["pdus"]), 1, body)
        return body["pdus"][0]

    def backfilled(self, room, from_id):
        st, body = self.pair.federation(self.b, self.a, "GET",
                                        "%s/backfill/%s?v=%s&limit=20" % (FED, q(room), q(from_id)))
        self.assertEqual(st, 200, body)
        return body["pdus"]

    def test_joined_visibility_redacts_what_came_before_the_join(self):
        room, before, join = self.room_with_history("joined", "Joined only")
        pdu = self.fetched(before)
        self.assertEqual(pdu["type"], "m.room.message")
        self.assertEqual(pdu["content"], {}, "content from before the join stays on A")
        self.assertEqual(pdu["sender"], self.a.user_id, "the event itself is still there")
        back = self.backfilled(room, join)
        message = [p for p in back if p["type"] == "m.room.message"]
        self.assertEqual(len(message), 1, back)
        self.assertEqual(message[0]["content"], {})
        # State is redacted as the algorithm says: the keys that auth needs survive.
        hv = [p for p in back if p["type"] == "m.room.history_visibility"]
        self.assertEqual(hv[0]["content"], {"history_visibility": "joined"}, "newest first, its key kept")
        creates = [p for p in back if p["type"] == "m.room.create"]
        self.assertEqual([p["content"].get("room_version") for p in creates], ["11"])
        # B's own user never reads it either.
        st, page = self.b.client("GET", "/rooms/%s/messages?dir=b&limit=50" % q(room))
        self.assertEqual(st, 200, page)
        bodies = [e["content"].get("body") for e in page["chunk"] if e["type"] == "m.room.message"]
        self.assertNotIn("before Joined only joined", bodies)
        # What is sent while B's user is joined goes out whole.
        st, after = self.a.client("PUT", "/rooms/%s/send/m.room.message/after" % q(room),
                                  {"msgtype": "m.text", "body": "while joined"})
        self.assertEqual(st, 200, after)
        wait_for_message(self.b, room, "while joined")
        self.assertEqual(self.fetched(after["event_id"])["content"]["body"], "while joined")
        # Missing events from before the join are redacted too.
        st, body = self.pair.federation(self.b, self.a, "POST", "%s/get_missing_events/%s" % (FED, q(room)),
                                        {"earliest_events": [], "latest_events": [after["event_id"]], "limit": 10})
        self.assertEqual(st, 200, body)
        by_id_body = {p.get("content", {}).get("body") for p in body["events"] if p["type"] == "m.room.message"}
        self.assertNotIn("before Joined only joined", by_id_body)

    def test_shared_visibility_sends_earlier_history_whole(self):
        room, before, join = self.room_with_history("shared", "Shared")
        self.assertEqual(self.fetched(before)["content"]["body"], "before Shared joined")
        back = self.backfilled(room, join)
        bodies = [p["content"].get("body") for p in back if p["type"] == "m.room.message"]
        self.assertEqual(bodies, ["before Shared joined"])


if __name__ == "__main__":
    unittest.main()
