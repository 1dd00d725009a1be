"""Reports from users over raw HTTP (spec 1.13/1.14 "Reporting content"): rooms, events and
users reported, their errors, the audit entries, and the admin API that lists them and
acknowledges them with a note.

Run: cd tests/integration/py && /usr/bin/python3 -m unittest test_reports -v
"""

import unittest

from harness import q
from records_helpers import RecordsServer


class ReportsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = RecordsServer().start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.teardown()

    def setUp(self):
        self.alice, self.bob, self.carol = (self.srv.register(n) for n in ("alice", "bob", "carol"))
        self.room = self.alice.create_room(invite=[self.bob.user_id])
        self.bob.join(self.room)
        self.rude = self.bob.say(self.room, "something rude")

    def reports(self, query=""):
        st, body = self.srv.admin("GET", "/reports" + query)
        self.assertEqual(st, 200, body)
        return body

    def mine(self, reports, reporter):
        return [r for r in reports["reports"] if r["reporter"] == reporter]

    def test_reports_are_stored_listed_audited_and_acknowledged(self):
        a = self.alice
        self.assertEqual(a.ok("POST", "/rooms/%s/report/%s" % (q(self.room), q(self.rude)),
                              {"reason": "offensive"}), {})
        self.assertEqual(a.ok("POST", "/rooms/%s/report" % q(self.room), {"reason": ""}), {})
        self.assertEqual(a.ok("POST", "/users/%s/report" % q(self.bob.user_id), {"reason": "keeps at it"}), {})
        got = self.mine(self.reports(), a.user_id)
        # Newest first.
        self.assertEqual([r["kind"] for r in got], ["user", "room", "event"])
        user, room, event = got
        self.assertEqual((event["room_id"], event["event_id"], event["user_id"], event["reason"]),
                         (self.room, self.rude, self.bob.user_id, "offensive"))
        self.assertEqual((room["room_id"], room["reason"]), (self.room, ""))
        self.assertEqual((user["user_id"], user["reason"]), (self.bob.user_id, "keeps at it"))
        self.assertFalse(any(r["acknowledged"] for r in got))
        # Each is in the audit log, with the reporter as the actor.
        st, audit = self.srv.admin("GET", "/audit?limit=1000")
        mine = [e for e in audit["entries"] if e["actor"] == a.user_id and e["action"].startswith("report.")]
        self.assertEqual(sorted(e["action"] for e in mine), ["report.event", "report.room", "report.user"])
        self.assertIn(event["report_id"], [e["details"]["report_id"] for e in mine])
        # An administrator acknowledges one with a note: it leaves the open list.
        st, body = self.srv.admin("POST", "/reports/%d/acknowledge" % event["report_id"],
                                  {"note": "spoke to bob's line manager"})
        self.assertEqual(st, 200, body)
        self.assertNotIn(event["report_id"], [r["report_id"] for r in self.reports()["reports"]])
        done = [r for r in self.reports("?include_acknowledged=true")["reports"] if r["report_id"] == event["report_id"]]
        self.assertEqual(len(done), 1)
        self.assertTrue(done[0]["acknowledged"])
        self.assertEqual(done[0]["note"], "spoke to bob's line manager")
        self.assertEqual(done[0]["acknowledged_by"], self.srv.admin_id)
        st, audit = self.srv.admin("GET", "/audit?limit=10")
        ack = sorted((e for e in audit["entries"] if e["action"] == "report.acknowledged"), key=lambda e: e["seq"])
        self.assertEqual(ack[-1]["details"]["report_id"], event["report_id"])
        self.assertEqual(ack[-1]["actor"], self.srv.admin_id)
        # Twice is refused, and so are unknown reports and empty notes.
        st, body = self.srv.admin("POST", "/reports/%d/acknowledge" % event["report_id"], {"note": "again"})
        self.assertEqual((st, body.get("errcode")), (400, "M_INVALID_PARAM"), body)
        st, body = self.srv.admin("POST", "/reports/999999/acknowledge", {"note": "x"})
        self.assertEqual((st, body.get("errcode")), (404, "M_NOT_FOUND"), body)
        st, body = self.srv.admin("POST", "/reports/%d/acknowledge" % room["report_id"], {"note": ""})
        self.assertEqual((st, body.get("errcode")), (400, "M_MISSING_PARAM"), body)
        st, body = self.srv.admin("POST", "/reports/%d/acknowledge" % room["report_id"], {})
        self.assertEqual(st, 400, body)

    def test_paging_the_admin_list(self):
        for i in range(3):
            self.carol.ok("POST", "/users/%s/report" % q(self.bob.user_id), {"reason": "page %d" % i})
        first = self.reports("?limit=2")
        self.assertEqual(len(first["reports"]), 2)
        self.assertIn("next_before", first)
        rest = self.reports("?limit=1000&before=%d" % first["next_before"])
        ids = [r["report_id"] for r in first["reports"] + rest["reports"]]
        self.assertEqual(ids, sorted(ids, reverse=True))
        self.assertEqual(len(ids), len(set(ids)))
        st, body = self.srv.admin("GET", "/reports?include_acknowledged=maybe")
        self.assertEqual((st, body.get("errcode")), (400, "M_INVALID_PARAM"), body)

    def test_errors(self):
        c = self.carol
        # Events: only a joined member may report one, and only one in that room.
        st, body = c.call("POST", "/rooms/%s/report/%s" % (q(self.room), q(self.rude)), {"reason": "x"})
        self.assertEqual((st, body.get("errcode")), (404, "M_NOT_FOUND"), body)
        st, body = self.bob.call("POST", "/rooms/%s/report/%s" % (q(self.room), q("$" + "A" * 43)), {"reason": "x"})
        self.assertEqual((st, body.get("errcode")), (404, "M_NOT_FOUND"), body)
        other = c.create_room()
        own = c.say(other, "in another room")
        st, body = self.bob.call("POST", "/rooms/%s/report/%s" % (q(self.room), q(own)), {"reason": "x"})
        self.assertEqual((st, body.get("errcode")), (404, "M_NOT_FOUND"), body)
        # The reason of an event report may be left out.
        st, body = self.bob.call("POST", "/rooms/%s/report/%s" % (q(self.room), q(self.rude)), {})
        self.assertEqual(st, 200, body)
        # Rooms: anyone may report a room, not a room that does not exist.
        self.assertEqual(c.ok("POST", "/rooms/%s/report" % q(self.room), {"reason": "not joined"}), {})
        st, body = c.call("POST", "/rooms/%s/report" % q("!nothere:localhost"), {"reason": "x"})
        self.assertEqual((st, body.get("errcode")), (404, "M_NOT_FOUND"), body)
        # Users: unknown local users are not found; the reason is required and a string.
        st, body = c.call("POST", "/users/%s/report" % q("@nobody:localhost"), {"reason": "x"})
        self.assertEqual((st, body.get("errcode")), (404, "M_NOT_FOUND"), body)
        st, body = c.call("POST", "/users/%s/report" % q(self.bob.user_id), {})
        self.assertEqual(st, 400, body)
        st, body = c.call("POST", "/users/%s/report" % q(self.bob.user_id), {"reason": 5})
        self.assertEqual(st, 400, body)
        st, body = c.call("POST", "/users/%s/report" % q("not a user"), {"reason": "x"})
        self.assertEqual((st, body.get("errcode")), (400, "M_INVALID_PARAM"), body)
        st, body = c.call("POST", "/rooms/%s/report" % q("not-a-room"), {"reason": "x"})
        self.assertEqual(st, 400, body)
        st, body = c.call("POST", "/users/%s/report" % q(self.bob.user_id), {"reason": "x" * 5000})
        self.assertEqual((st, body.get("errcode")), (400, "M_INVALID_PARAM"), body)
        # Without a token, nothing; and only administrators read the reports.
        st, body = self.srv.http("POST", "/_matrix/client/v3/rooms/%s/report" % q(self.room), {"reason": "x"})
        self.assertEqual((st, body.get("errcode")), (401, "M_MISSING_TOKEN"), body)
        st, body = self.srv.admin("GET", "/reports", token=c.token)
        self.assertEqual(st, 403, body)
        # None of the refused reports was stored.
        reasons = [r["reason"] for r in self.mine(self.reports(), c.user_id)]
        self.assertEqual(reasons, ["not joined"])


if __name__ == "__main__":
    unittest.main()
