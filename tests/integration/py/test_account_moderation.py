"""Account moderation and the `despatch user` commands against a running server.

Spec 1.18 locking (401 M_USER_LOCKED, soft_logout true, logout still allowed) and suspension
(403 M_USER_SUSPENDED on new activity, reads allowed) through /_matrix/client/v1/admin; the
CLI's list, show, lock, unlock, reset-password and deactivate while the server runs, each
noticed by the server within a second (parked syncs end at once).
"""

import json
import threading
import time
import unittest
import uuid

from harness import ServerFixture, q, run_cli

V3 = "/_matrix/client/v3"
V1_ADMIN = "/_matrix/client/v1/admin"
PASSWORD = "moderation test password"


class ModerationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ServerFixture()
        cls.server.start()
        res = cls.server.user_add("modadmin", password=PASSWORD, admin=True)
        assert res.returncode == 0, res.stderr
        st, body = cls.server.login("modadmin", PASSWORD)
        assert st == 200, body
        cls.admin = body["access_token"]
        cls.admin_id = body["user_id"]

    @classmethod
    def tearDownClass(cls):
        cls.server.teardown()

    def user(self, prefix="u"):
        name = prefix + uuid.uuid4().hex[:8]
        user_id, token, _ = self.server.register(name, PASSWORD)
        return name, user_id, token

    def cli(self, *args):
        res = run_cli("user", *args, "--data", self.server.data_dir)
        self.assertEqual(res.returncode, 0, "despatch user %s: %s %s" % (" ".join(args), res.stdout, res.stderr))
        return res.stdout

    def whoami(self, token):
        return self.server.http("GET", V3 + "/account/whoami", token=token)

    def park(self, token, out):
        st, body = self.server.http("GET", V3 + "/sync?timeout=0", token=token)
        self.assertEqual(st, 200, body)
        since = body["next_batch"]

        def run():
            st, body = self.server.http("GET", V3 + "/sync?timeout=30000&since=" + q(since), token=token, timeout=40)
            out.append((time.monotonic(), st, body))
        t = threading.Thread(target=run)
        t.start()
        time.sleep(0.4)
        self.assertEqual(out, [], "the sync was not parked")
        return t

    # ---- spec 1.18 through the client-server admin endpoints ----------------------------

    def test_lock_refuses_everything_but_logout(self):
        name, user_id, token = self.user("lock")
        out = []
        t = self.park(token, out)
        t0 = time.monotonic()
        st, body = self.server.http("PUT", V1_ADMIN + "/lock/" + q(user_id), {"locked": True}, token=self.admin)
        self.assertEqual((st, body), (200, {"locked": True}))
        t.join(5)
        self.assertEqual(len(out), 1)
        at, st, body = out[0]
        self.assertEqual((st, body["errcode"], body["soft_logout"]), (401, "M_USER_LOCKED", True))
        self.assertLess(at - t0, 1.0)
        st, body = self.whoami(token)
        self.assertEqual((st, body["errcode"], body["soft_logout"]), (401, "M_USER_LOCKED", True))
        st, body = self.server.http("GET", V1_ADMIN + "/lock/" + q(user_id), token=self.admin)
        self.assertEqual((st, body), (200, {"locked": True}))
        # Unlocked, the same session works again (tokens are kept while locked).
        st, body = self.server.http("PUT", V1_ADMIN + "/lock/" + q(user_id), {"locked": False}, token=self.admin)
        self.assertEqual(st, 200, body)
        st, body = self.whoami(token)
        self.assertEqual((st, body.get("user_id")), (200, user_id))
        # Locked again, logout is still allowed.
        self.server.http("PUT", V1_ADMIN + "/lock/" + q(user_id), {"locked": True}, token=self.admin)
        st, body = self.server.http("POST", V3 + "/logout", {}, token=token)
        self.assertEqual(st, 200, body)
        st, body = self.whoami(token)
        self.assertEqual(body["errcode"], "M_UNKNOWN_TOKEN")

    def test_suspension_refuses_new_activity_and_allows_reading(self):
        name, user_id, token = self.user("susp")
        st, room = self.server.http("POST", V3 + "/createRoom", {"name": "before suspension"}, token=token)
        self.assertEqual(st, 200, room)
        room = room["room_id"]
        # An admin joins and writes; the user writes too, before the suspension.
        self.server.http("POST", V3 + "/rooms/%s/invite" % q(room), {"user_id": self.admin_id}, token=token)
        st, body = self.server.http("POST", V3 + "/rooms/%s/join" % q(room), {}, token=self.admin)
        self.assertEqual(st, 200, body)
        st, theirs = self.server.http("PUT", V3 + "/rooms/%s/send/m.room.message/a1" % q(room),
                                      {"msgtype": "m.text", "body": "admin's"}, token=self.admin)
        st, own = self.server.http("PUT", V3 + "/rooms/%s/send/m.room.message/o1" % q(room),
                                   {"msgtype": "m.text", "body": "own"}, token=token)
        st, body = self.server.http("PUT", V1_ADMIN + "/suspend/" + q(user_id), {"suspended": True}, token=self.admin)
        self.assertEqual((st, body), (200, {"suspended": True}))
        refused = [
            ("PUT", V3 + "/rooms/%s/send/m.room.message/t1" % q(room), {"msgtype": "m.text", "body": "x"}),
            ("POST", V3 + "/createRoom", {}),
            ("PUT", V3 + "/profile/%s/displayname" % q(user_id), {"displayname": "x"}),
            ("PUT", V3 + "/rooms/%s/state/m.room.topic" % q(room), {"topic": "x"}),
            ("POST", V3 + "/rooms/%s/invite" % q(room), {"user_id": self.admin_id}),
        ]
        for method, path, body in refused:
            st, resp = self.server.http(method, path, body, token=token)
            self.assertEqual((st, resp.get("errcode")), (403, "M_USER_SUSPENDED"), "%s %s" % (method, path))
        st, resp = self.server.http("PUT", V3 + "/rooms/%s/redact/%s/r1" % (q(room), q(theirs["event_id"])), {},
                                    token=token)
        self.assertEqual((st, resp.get("errcode")), (403, "M_USER_SUSPENDED"), "redacting someone else's event")
        st, resp = self.server.http("PUT", V3 + "/rooms/%s/redact/%s/r2" % (q(room), q(own["event_id"])), {},
                                    token=token)
        self.assertEqual(st, 200, "a suspended user may redact their own events: %r" % resp)
        # Reading and leaving stay open.
        st, resp = self.server.http("GET", V3 + "/sync?timeout=0", token=token)
        self.assertEqual(st, 200, resp)
        st, resp = self.server.http("GET", V3 + "/rooms/%s/messages?dir=b" % q(room), token=token)
        self.assertEqual(st, 200, resp)
        st, resp = self.server.http("POST", V3 + "/rooms/%s/leave" % q(room), {}, token=token)
        self.assertEqual(st, 200, resp)
        st, body = self.server.http("GET", V1_ADMIN + "/suspend/" + q(user_id), token=self.admin)
        self.assertEqual((st, body), (200, {"suspended": True}))
        self.server.http("PUT", V1_ADMIN + "/suspend/" + q(user_id), {"suspended": False}, token=self.admin)
        st, resp = self.server.http("POST", V3 + "/createRoom", {}, token=token)
        self.assertEqual(st, 200, resp)

    def test_moderation_endpoint_errors(self):
        _, user_id, token = self.user("err")
        cases = [
            ("PUT", "/lock/" + q("@someone:elsewhere.example"), {"locked": True}, self.admin, 400, "M_INVALID_PARAM"),
            ("PUT", "/lock/" + q("@nobody%s:localhost" % uuid.uuid4().hex[:6]), {"locked": True}, self.admin, 404, "M_NOT_FOUND"),
            ("PUT", "/lock/" + q(self.admin_id), {"locked": True}, self.admin, 403, "M_FORBIDDEN"),
            ("PUT", "/suspend/" + q(user_id), {"suspended": "yes"}, self.admin, 400, "M_BAD_JSON"),
            ("GET", "/suspend/" + q(user_id), None, token, 403, "M_FORBIDDEN"),
        ]
        for method, path, body, tok, status, errcode in cases:
            st, resp = self.server.http(method, V1_ADMIN + path, body, token=tok)
            self.assertEqual((st, resp.get("errcode")), (status, errcode), "%s %s: %r" % (method, path, resp))
        st, caps = self.server.http("GET", V3 + "/capabilities", token=self.admin)
        self.assertEqual(caps["capabilities"]["m.account_moderation"], {"suspend": True, "lock": True})
        st, caps = self.server.http("GET", V3 + "/capabilities", token=token)
        self.assertNotIn("m.account_moderation", caps["capabilities"])

    def test_logout_ends_the_sessions_parked_sync(self):
        name, user_id, token = self.user("logout")
        st, other = self.server.login(name, PASSWORD)
        out = []
        t = self.park(token, out)
        t0 = time.monotonic()
        st, body = self.server.http("POST", V3 + "/logout", {}, token=token)
        self.assertEqual(st, 200, body)
        t.join(5)
        self.assertEqual(len(out), 1, "the parked sync did not end")
        at, st, body = out[0]
        self.assertEqual((st, body["errcode"]), (401, "M_UNKNOWN_TOKEN"))
        self.assertLess(at - t0, 1.0)
        # The user's other session goes on.
        st, body = self.whoami(other["access_token"])
        self.assertEqual((st, body.get("user_id")), (200, user_id))

    def test_invites_of_a_leaver_without_kick_power_are_withdrawn_by_the_keeper(self):
        name, user_id, token = self.user("weak")
        _, guest_id, _ = self.user("guest")
        st, room = self.server.http("POST", V3 + "/createRoom", {"preset": "private_chat", "invite": [user_id]},
                                    token=self.admin)
        room = room["room_id"]
        st, body = self.server.http("POST", V3 + "/rooms/%s/join" % q(room), {}, token=token)
        self.assertEqual(st, 200, body)
        # Power level 0 may invite (invite: 0) but not kick (kick: 50).
        st, body = self.server.http("POST", V3 + "/rooms/%s/invite" % q(room), {"user_id": guest_id}, token=token)
        self.assertEqual(st, 200, body)
        st, body = self.server.http("POST", "/_despatch/admin/v1/users/%s/deactivate" % q(user_id), {},
                                    token=self.admin)
        self.assertEqual(st, 200, body)
        st, ev = self.server.http("GET", V3 + "/rooms/%s/state/m.room.member/%s?format=event" % (q(room), q(guest_id)),
                                  token=self.admin)
        self.assertEqual(st, 200, ev)
        self.assertEqual((ev["content"]["membership"], ev["sender"]), ("leave", "@records:localhost"))
        st, ev = self.server.http("GET", V3 + "/rooms/%s/state/m.room.member/%s" % (q(room), q(user_id)),
                                  token=self.admin)
        self.assertEqual(ev["membership"], "leave")

    # ---- the CLI beside the running server ------------------------------------------------

    def test_cli_list_and_show(self):
        name, user_id, token = self.user("show")
        listing = self.cli("list", "--name", name)
        self.assertIn(user_id, listing)
        self.assertIn("1 of 1 accounts", listing)
        data = json.loads(self.cli("show", name, "--json"))
        self.assertEqual(data["user_id"], user_id)
        self.assertFalse(data["deactivated"])
        self.assertEqual(len(data["devices"]), 1)
        text = self.cli("show", user_id)
        self.assertIn("status:      active", text)
        res = run_cli("user", "show", "nosuch" + uuid.uuid4().hex[:6], "--data", self.server.data_dir)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("no such user", res.stderr)

    def test_cli_lock_and_unlock_take_effect_at_once(self):
        name, user_id, token = self.user("clilock")
        out = []
        t = self.park(token, out)
        t0 = time.monotonic()
        self.cli("lock", name)
        t.join(5)
        self.assertEqual(len(out), 1, "the parked sync did not end")
        at, st, body = out[0]
        self.assertEqual((st, body["errcode"]), (401, "M_USER_LOCKED"))
        self.assertLess(at - t0, 1.5, "took %.3f s (the CLI itself included)" % (at - t0))
        self.assertIn("locked", self.cli("show", name))
        self.cli("unlock", name)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and self.whoami(token)[0] != 200:
            time.sleep(0.05)
        self.assertEqual(self.whoami(token)[0], 200)

    def test_cli_reset_password_ends_sessions(self):
        name, user_id, token = self.user("clipw")
        out = self.cli("reset-password", name)
        self.assertIn("password:", out)
        new_pw = out.split("password:")[1].strip()
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and self.whoami(token)[0] == 200:
            time.sleep(0.05)
        self.assertEqual(self.whoami(token)[1]["errcode"], "M_UNKNOWN_TOKEN")
        st, body = self.server.login(name, PASSWORD)
        self.assertEqual(st, 403, body)
        st, body = self.server.login(name, new_pw)
        self.assertEqual(st, 200, body)

    def test_cli_deactivate_beside_the_server(self):
        name, user_id, token = self.user("clideact")
        st, room = self.server.http("POST", V3 + "/createRoom", {"name": "leaver's room"}, token=self.admin)
        room = room["room_id"]
        self.server.http("POST", V3 + "/rooms/%s/invite" % q(room), {"user_id": user_id}, token=self.admin)
        st, body = self.server.http("POST", V3 + "/rooms/%s/join" % q(room), {}, token=token)
        self.assertEqual(st, 200, body)
        out = []
        t = self.park(token, out)
        t0 = time.monotonic()
        self.cli("deactivate", name, "--case", "HR-CLI-1")
        t.join(5)
        self.assertEqual(len(out), 1)
        at, st, body = out[0]
        self.assertEqual((st, body["errcode"]), (401, "M_UNKNOWN_TOKEN"))
        self.assertLess(at - t0, 1.5, "took %.3f s (the CLI itself included)" % (at - t0))
        # The server takes them out of the room.
        deadline = time.monotonic() + 5
        membership = None
        while time.monotonic() < deadline:
            st, ev = self.server.http("GET", V3 + "/rooms/%s/state/m.room.member/%s" % (q(room), q(user_id)),
                                      token=self.admin)
            membership = ev.get("membership")
            if membership == "leave":
                break
            time.sleep(0.05)
        self.assertEqual(membership, "leave")
        data = json.loads(self.cli("show", name, "--json"))
        self.assertTrue(data["deactivated"])
        self.assertEqual(data["devices"], [])
        res = run_cli("user", "deactivate", "@records:localhost", "--data", self.server.data_dir)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("records keeper", res.stderr)

    def test_cli_deactivate_while_the_server_is_stopped(self):
        """The cut-off is made at once; the next start takes the leaver out of their rooms."""
        name, user_id, token = self.user("stopped")
        st, room = self.server.http("POST", V3 + "/createRoom", {"name": "while stopped", "invite": [user_id]},
                                    token=self.admin)
        room = room["room_id"]
        st, body = self.server.http("POST", V3 + "/rooms/%s/join" % q(room), {}, token=token)
        self.assertEqual(st, 200, body)
        self.server.stop()
        try:
            self.cli("deactivate", name)
        finally:
            self.server.start()
        st, body = self.whoami(token)
        self.assertEqual((st, body["errcode"]), (401, "M_UNKNOWN_TOKEN"))
        deadline = time.monotonic() + 5
        membership = None
        while time.monotonic() < deadline:
            st, ev = self.server.http("GET", V3 + "/rooms/%s/state/m.room.member/%s" % (q(room), q(user_id)),
                                      token=self.admin)
            membership = ev.get("membership")
            if membership == "leave":
                break
            time.sleep(0.05)
        self.assertEqual(membership, "leave", "the restarted server finished the deactivation")


if __name__ == "__main__":
    unittest.main()
