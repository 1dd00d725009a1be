"""Critical rules that only unit tests covered, or nothing did, now checked against a real
server: legal holds by person and by time range (a hold that missed the person under
investigation would have passed), the same transaction ID from two devices of one user,
kicks and their power levels, and the per-user rate limit on sending.
"""

import time
import unittest
import uuid

from harness import ApiUser, ServerFixture, q
from records_helpers import RecordsServer, bundle_by_event_id, cli_export, read_bundle

PASSWORD = "critical rules password"
RETENTION_SECONDS = 3
RETENTION_DAYS = "%.10f" % (RETENTION_SECONDS / 86400)


def now_ms():
    return int(time.time() * 1000)


class LegalHoldScopeTests(unittest.TestCase):
    def setUp(self):
        self.srv = RecordsServer(config_toml="[records]\nretention_days = %s\nretention_check_seconds = 3600\n"
                                 % RETENTION_DAYS)
        self.addCleanup(self.srv.teardown)
        self.srv.start()

    def archived_ids(self):
        out = self.srv.new_out_path()
        res = cli_export(self.srv.data_dir, self.srv.secret_key_file, out, "FOI-%s" % uuid.uuid4().hex[:6])
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        return set(bundle_by_event_id(read_bundle(out)))

    def run_retention(self):
        time.sleep(RETENTION_SECONDS + 0.5)
        st, body = self.srv.admin("POST", "/retention/run", {"case_ref": "RET-TEST"})
        self.assertEqual(st, 200, body)
        self.assertGreater(body.get("deleted", 0), 0, "retention deleted nothing: %r" % (body,))

    def test_a_hold_on_a_person_keeps_what_they_sent_everywhere_and_nothing_else(self):
        suspect, other = self.srv.register("suspect"), self.srv.register("other")
        room_a = suspect.create_room(invite=[other.user_id])
        other.join(room_a)
        room_b = other.create_room(invite=[suspect.user_id])
        suspect.join(room_b)
        theirs = [suspect.say(room_a, "a1"), suspect.say(room_b, "b1"), suspect.say(room_a, "a2")]
        others = [other.say(room_a, "reply a"), other.say(room_b, "reply b")]
        st, body = self.srv.admin("POST", "/legal_holds", {"case_ref": "HOLD-PERSON", "user_id": suspect.user_id})
        self.assertEqual(st, 200, body)
        self.run_retention()
        kept = self.archived_ids()
        for eid in theirs:
            self.assertIn(eid, kept, "the person under investigation lost a record in a room they were in")
        for eid in others:
            self.assertNotIn(eid, kept, "a hold on one person kept another person's message")

    def test_a_hold_on_a_time_range_keeps_that_range_only(self):
        alice = self.srv.register("alice")
        room = alice.create_room()
        before = [alice.say(room, "before %d" % i) for i in range(2)]
        time.sleep(0.3)
        start = now_ms()
        during = [alice.say(room, "during %d" % i) for i in range(3)]
        end = now_ms()
        time.sleep(0.3)
        after = [alice.say(room, "after %d" % i) for i in range(2)]
        st, body = self.srv.admin("POST", "/legal_holds", {"case_ref": "HOLD-RANGE", "from_ts": start, "to_ts": end})
        self.assertEqual(st, 200, body)
        st, body = self.srv.admin("POST", "/legal_holds", {"case_ref": "BAD", "from_ts": end, "to_ts": start})
        self.assertEqual((st, body.get("errcode")), (400, "M_INVALID_PARAM"), body)
        self.run_retention()
        kept = self.archived_ids()
        for eid in during:
            self.assertIn(eid, kept, "a record inside the held range was deleted")
        for eid in before + after:
            self.assertNotIn(eid, kept, "a record outside the held range was kept")


class SendingRulesTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ServerFixture()
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.teardown()

    def test_one_transaction_id_from_two_devices_makes_two_messages(self):
        alice = ApiUser(self.server, "alice", PASSWORD)
        st, second = self.server.login(alice.localpart, PASSWORD)
        self.assertEqual(st, 200, second)
        self.assertNotEqual(second["device_id"], alice.device_id)
        room = alice.ok("POST", "/createRoom", {"preset": "private_chat"})["room_id"]
        path = "/_matrix/client/v3/rooms/%s/send/m.room.message/m1" % q(room)
        st1, e1 = self.server.http("PUT", path, {"msgtype": "m.text", "body": "from the phone"}, token=alice.token)
        st2, e2 = self.server.http("PUT", path, {"msgtype": "m.text", "body": "from the laptop"},
                                   token=second["access_token"])
        self.assertEqual((st1, st2), (200, 200), (e1, e2))
        self.assertNotEqual(e1["event_id"], e2["event_id"], "the second device's message was dropped")
        # The same device retrying is the same message.
        st3, e3 = self.server.http("PUT", path, {"msgtype": "m.text", "body": "from the laptop"},
                                   token=second["access_token"])
        self.assertEqual(e3["event_id"], e2["event_id"])
        msgs = alice.ok("GET", "/rooms/%s/messages?dir=b&limit=20" % q(room))
        bodies = [e["content"].get("body") for e in msgs["chunk"] if e["type"] == "m.room.message"]
        self.assertEqual(sorted(bodies), ["from the laptop", "from the phone"])

    def test_kicks_follow_power_levels(self):
        owner, member, target, mod, mod2 = (ApiUser(self.server, p, PASSWORD)
                                            for p in ("owner", "member", "target", "mod", "mod2"))
        room = owner.ok("POST", "/createRoom", {"preset": "public_chat"})["room_id"]
        for u in (member, target, mod, mod2):
            u.ok("POST", "/join/%s" % q(room), {})
        pl = owner.ok("GET", "/rooms/%s/state/m.room.power_levels/" % q(room))
        # The member outranks the target but is below the kick level (50); the two
        # moderators are at the kick level, equal to each other.
        pl["users"].update({member.user_id: 25, mod.user_id: 50, mod2.user_id: 50})
        owner.state(room, "m.room.power_levels", pl)
        st, body = member.http("POST", "/rooms/%s/kick" % q(room), {"user_id": target.user_id, "reason": "no"})
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), "a member below the kick level kicked someone")
        st, body = mod.http("POST", "/rooms/%s/kick" % q(room), {"user_id": mod2.user_id})
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), "a moderator kicked an equal")
        mod.ok("POST", "/rooms/%s/kick" % q(room), {"user_id": member.user_id})  # above them: allowed
        owner.ok("POST", "/rooms/%s/kick" % q(room), {"user_id": target.user_id, "reason": "off topic"})
        ev = owner.ok("GET", "/rooms/%s/state/m.room.member/%s" % (q(room), q(target.user_id)))
        self.assertEqual((ev["membership"], ev.get("reason")), ("leave", "off topic"))
        st, body = target.http("PUT", "/rooms/%s/send/m.room.message/k1" % q(room), {"msgtype": "m.text", "body": "x"})
        self.assertEqual(st, 403, "a kicked user still sends: %r" % body)
        # Kicked, not banned: they may come back.
        target.ok("POST", "/join/%s" % q(room), {})
        # Nobody may kick someone as powerful as themselves, nor someone not in the room.
        owner.ok("POST", "/rooms/%s/invite" % q(room), {"user_id": ApiUser(self.server, "x", PASSWORD).user_id})
        st, body = member.http("POST", "/rooms/%s/kick" % q(room), {"user_id": owner.user_id})
        self.assertEqual(st, 403, body)
        outsider = ApiUser(self.server, "outsider", PASSWORD)
        st, body = owner.http("POST", "/rooms/%s/kick" % q(room), {"user_id": outsider.user_id})
        self.assertEqual(st, 403, body)


class SendRateLimitTests(unittest.TestCase):
    def test_sending_is_rate_limited_per_user(self):
        server = ServerFixture(rate_limit=True, config_toml="[rate_limit]\nper_second = 2.0\nburst = 10.0\n")
        server.start()
        try:
            alice, bob = ApiUser(server, "alice", PASSWORD), ApiUser(server, "bob", PASSWORD)
            room = alice.ok("POST", "/createRoom", {"preset": "public_chat"})["room_id"]
            bob.ok("POST", "/join/%s" % q(room), {})
            answers = [alice.http("PUT", "/rooms/%s/send/m.room.message/r%d" % (q(room), i),
                                  {"msgtype": "m.text", "body": str(i)}) for i in range(25)]
            limited = [b for st, b in answers if st == 429]
            self.assertTrue(limited, "25 sends in a row with a burst of 10 were never limited")
            self.assertLess(len(limited), 25 - 5, "the burst was not honoured")
            for b in limited:
                self.assertEqual(b.get("errcode"), "M_LIMIT_EXCEEDED")
                self.assertGreater(b.get("retry_after_ms", 0), 0)
            # The limit is alice's: bob still sends.
            st, body = bob.http("PUT", "/rooms/%s/send/m.room.message/b1" % q(room), {"msgtype": "m.text", "body": "hi"})
            self.assertEqual(st, 200, body)
            time.sleep(limited[-1]["retry_after_ms"] / 1000.0 + 0.3)
            st, body = alice.http("PUT", "/rooms/%s/send/m.room.message/late" % q(room), {"msgtype": "m.text", "body": "ok"})
            self.assertEqual(st, 200, body)
        finally:
            server.teardown()


if __name__ == "__main__":
    unittest.main()
