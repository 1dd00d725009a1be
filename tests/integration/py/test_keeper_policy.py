"""The records keeper's policy over raw HTTP: which rooms it joins ([records] keeper and
keeper_exclude), joining rooms made before it was switched on, and what nobody may do to it or
its account.

Run: cd tests/integration/py && /usr/bin/python3 -m unittest test_keeper_policy -v
"""

import unittest

from harness import ServerError, ServerFixture, q
from records_helpers import RecordsServer, db_connect

KEEPER = "@records:localhost"


def joined(client, room_id):
    return set(client.ok("GET", "/rooms/%s/joined_members" % q(room_id))["joined"])


class KeeperPolicyTests(unittest.TestCase):
    def server(self, config_toml=None, keeper=True):
        srv = RecordsServer(config_toml=config_toml)
        if not keeper:
            srv.fx.extra_args.append("--no-records-keeper")
        self.addCleanup(srv.teardown)
        return srv.start()

    def test_excluded_room_kinds_have_no_keeper_until_invited(self):
        srv = self.server('[records]\nkeeper_exclude = ["direct"]\n')
        alice, bob = srv.register("alice"), srv.register("bob")
        group = alice.create_room(invite=[bob.user_id])
        direct = alice.create_room(invite=[bob.user_id], is_direct=True, preset="trusted_private_chat")
        self.assertIn(KEEPER, joined(alice, group))
        self.assertNotIn(KEEPER, joined(alice, direct))
        st, _ = alice.call("GET", "/rooms/%s/state/m.despatch.records/" % q(direct))
        self.assertEqual(st, 404)
        # The users may still ask for their chat to be recorded: the keeper accepts at once.
        alice.ok("POST", "/rooms/%s/invite" % q(direct), {"user_id": KEEPER})
        self.assertIn(KEEPER, joined(alice, direct))
        notice = alice.ok("GET", "/rooms/%s/state/m.despatch.records/" % q(direct))
        self.assertEqual(notice["keeper"], KEEPER)
        # Or name it when creating the chat; naming it where it goes anyway changes nothing.
        named = alice.create_room(invite=[bob.user_id, KEEPER], is_direct=True, preset="trusted_private_chat")
        self.assertEqual(joined(alice, named), {alice.user_id, KEEPER})
        self.assertTrue(alice.ok("GET", "/rooms/%s/state/m.despatch.records/" % q(named))["recorded"])
        group2 = alice.create_room(invite=[KEEPER])
        self.assertEqual(joined(alice, group2), {alice.user_id, KEEPER})

    def test_switched_off_then_on_the_keeper_joins_existing_rooms(self):
        srv = self.server(keeper=False)
        alice, bob = srv.register("alice"), srv.register("bob")
        room = alice.create_room(invite=[bob.user_id])
        bob.join(room)
        self.assertEqual(joined(alice, room), {alice.user_id, bob.user_id})
        # Without the keeper, "records" is an ordinary name nobody took; with it, the server
        # makes the account on the next start.
        srv.fx.extra_args.remove("--no-records-keeper")
        srv.fx.restart()
        self.assertEqual(joined(alice, room), {alice.user_id, bob.user_id, KEEPER})
        member = alice.ok("GET", "/rooms/%s/state/m.room.member/%s" % (q(room), q(KEEPER)))
        self.assertEqual(member["membership"], "join")
        self.assertEqual(member["displayname"], "Records keeper")
        self.assertTrue(alice.ok("GET", "/rooms/%s/state/m.despatch.records/" % q(room))["recorded"])
        st, audit = srv.admin("GET", "/audit?limit=50")
        self.assertEqual(st, 200, audit)
        actions = [(e["action"], e["details"]) for e in audit["entries"]]
        self.assertTrue(any(a == "records.keeper_joined" and room in str(d) for a, d in actions), actions)
        self.assertTrue(any(a == "records.keeper_created" for a, _ in actions), actions)
        # A second restart changes nothing.
        srv.fx.restart()
        self.assertEqual(joined(alice, room), {alice.user_id, bob.user_id, KEEPER})

    def test_a_human_records_account_stops_the_keeper_from_starting(self):
        srv = self.server(keeper=False)
        srv.register("x")  # the admin exists; now someone takes the keeper's name
        st, body = srv.http("POST", "/_matrix/client/v3/register",
                            {"username": "records", "password": "records password 1",
                             "auth": {"type": "m.login.dummy"}})
        self.assertEqual(st, 200, body)
        srv.fx.stop()
        srv.fx.extra_args.remove("--no-records-keeper")
        with self.assertRaises(ServerError) as cm:
            srv.fx.start()
        self.assertIn("keeper_localpart", str(cm.exception))

    def test_nobody_takes_over_or_silences_the_keeper(self):
        srv = self.server()
        alice, bob = srv.register("alice"), srv.register("bob")
        room = alice.create_room(invite=[bob.user_id])
        bob.join(room)
        # Its name is taken, it has no password, and it cannot be deactivated.
        st, body = srv.http("POST", "/_matrix/client/v3/register",
                            {"username": "records", "password": "a long password", "auth": {"type": "m.login.dummy"}})
        self.assertEqual((st, body.get("errcode")), (400, "M_USER_IN_USE"), body)
        st, body = srv.http("POST", "/_matrix/client/v3/login",
                            {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "records"},
                             "password": ""})
        self.assertEqual(st, 403, body)
        st, body = srv.admin("POST", "/users/%s/deactivate" % q(KEEPER), {"case_ref": "T-1"})
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)
        # Its membership and the records notice cannot be redacted, nor the notice replaced.
        notice_id = None
        for ev in alice.ok("GET", "/rooms/%s/state" % q(room)):
            if ev["type"] == "m.despatch.records":
                notice_id = ev["event_id"]
            if ev["type"] == "m.room.member" and ev["state_key"] == KEEPER:
                member_id = ev["event_id"]
        for target in (notice_id, member_id):
            st, body = alice.call("PUT", "/rooms/%s/redact/%s/t%s" % (q(room), q(target), target[1:9]), {})
            self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)
        st, body = bob.call("PUT", "/rooms/%s/state/m.despatch.records/" % q(room), {"recorded": False})
        self.assertEqual(st, 403, body)
        # Raising someone else to the keeper's level does not let them remove it either.
        pl = alice.ok("GET", "/rooms/%s/state/m.room.power_levels/" % q(room))
        pl["users"][bob.user_id] = 100
        alice.ok("PUT", "/rooms/%s/state/m.room.power_levels/" % q(room), pl)
        st, body = bob.call("POST", "/rooms/%s/kick" % q(room), {"user_id": KEEPER})
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)
        self.assertIn(KEEPER, joined(alice, room))
        # Nobody reads the keeper's notifications, so none are stored for it.
        alice.say(room, "hello %s" % KEEPER)
        with db_connect(srv.data_dir) as db:
            self.assertEqual(db.execute("SELECT COUNT(*) FROM notifications WHERE user_id=?", (KEEPER,)).fetchone()[0], 0)
            self.assertGreater(db.execute("SELECT COUNT(*) FROM notifications").fetchone()[0], 0)
        st, metrics = srv.admin("GET", "/metrics")
        self.assertEqual(st, 200, metrics)
        self.assertEqual(metrics["records_undecryptable"], 0)
        self.assertGreater(metrics["keeper_one_time_keys"], 0)

    def test_invalid_keeper_options_are_refused(self):
        for bad in ('[records]\nkeeper_exclude = ["dm"]\n', '[records]\nkeeper_exclude = "direct"\n',
                    '[records]\nkeeper = "yes"\n', '[records]\nkeeper_localpart = "Records Office"\n'):
            srv = ServerFixture(config_toml=bad, ready_timeout=5)
            try:
                with self.assertRaises(ServerError, msg="server started with config %r" % bad):
                    srv.start()
            finally:
                srv.teardown()


if __name__ == "__main__":
    unittest.main()
