"""The Synapse-compatible admin API through its real paths, and handing a room over.

Shared-secret registration with a correct and a wrong HMAC (and a reused nonce), v2/users
(list, get, create or modify), deactivate, reset_password, whois, rooms (list, details,
members, state, messages; delete refused while records must be kept), registration tokens,
event reports, server version; every action in the audit log with who did it.
"""

import hashlib
import hmac
import os
import tempfile
import unittest
import uuid

from harness import ServerFixture, q
from media_helpers import make_png

V3 = "/_matrix/client/v3"
SYN = "/_synapse/admin"
SECRET = "shared secret for the synapse admin test " + uuid.uuid4().hex
PASSWORD = "synapse admin test password"


def mac_of(nonce, user, password, admin):
    msg = b"\x00".join([nonce.encode(), user.encode(), password.encode(), b"admin" if admin else b"notadmin"])
    return hmac.new(SECRET.encode(), msg, hashlib.sha1).hexdigest()


class SynapseAdminTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.secret_dir = tempfile.mkdtemp(prefix="despatch-secret-")
        secret_file = os.path.join(cls.secret_dir, "registration_secret")
        with open(secret_file, "w") as f:
            f.write(SECRET + "\n")
        os.chmod(secret_file, 0o600)
        cls.server = ServerFixture(config_toml='[admin]\nregistration_shared_secret_file = "%s"\n' % secret_file)
        cls.server.start()
        cls.admin_id, cls.admin = cls.register_shared("synadmin" + uuid.uuid4().hex[:6], admin=True)

    @classmethod
    def tearDownClass(cls):
        cls.server.teardown()

    @classmethod
    def register_shared(cls, name, admin=False, password=PASSWORD):
        st, body = cls.server.http("GET", SYN + "/v1/register")
        assert st == 200, body
        nonce = body["nonce"]
        st, body = cls.server.http("POST", SYN + "/v1/register", {
            "nonce": nonce, "username": name, "password": password, "admin": admin,
            "mac": mac_of(nonce, name, password, admin)})
        assert st == 200, body
        return body["user_id"], body["access_token"]

    def api(self, method, path, body=None, token=None, expect=200):
        st, resp = self.server.http(method, path, body, token=token or self.admin)
        self.assertEqual(st, expect, "%s %s: %s %r" % (method, path, st, resp))
        return resp

    def audit_actions(self):
        entries = self.api("GET", "/_despatch/admin/v1/audit?limit=1000")["entries"]
        return [(e["actor"], e["action"], e["details"]) for e in entries]

    # ---- shared-secret registration ----------------------------------------------------

    def test_shared_secret_registration(self):
        name = "shared" + uuid.uuid4().hex[:6]
        user_id, token = self.register_shared(name)
        self.assertEqual(user_id, "@%s:localhost" % name)
        self.assertEqual(self.api("GET", V3 + "/account/whoami", token=token)["user_id"], user_id)
        self.api("GET", SYN + "/v2/users", token=token, expect=403)  # not an administrator
        self.assertEqual(self.api("GET", SYN + "/v2/users", token=self.admin)["total"] >= 2, True)
        # A wrong HMAC is refused, and the nonce cannot be used again.
        st, body = self.server.http("GET", SYN + "/v1/register")
        nonce = body["nonce"]
        other = "wrong" + uuid.uuid4().hex[:6]
        st, body = self.server.http("POST", SYN + "/v1/register", {
            "nonce": nonce, "username": other, "password": PASSWORD, "admin": True,
            "mac": mac_of(nonce, other, PASSWORD, False)})
        self.assertEqual((st, body["errcode"]), (403, "M_FORBIDDEN"))
        st, body = self.server.http("POST", SYN + "/v1/register", {
            "nonce": nonce, "username": other, "password": PASSWORD, "admin": True,
            "mac": mac_of(nonce, other, PASSWORD, True)})
        self.assertEqual((st, body["errcode"]), (400, "M_UNKNOWN"), "a nonce is used once")
        st, body = self.server.http("GET", V3 + "/profile/" + q("@%s:localhost" % other))
        self.assertEqual(st, 404, "no account was made with the wrong HMAC")
        self.assertIn(("shared_secret", "synapse.register", {"user_id": user_id, "admin": False}),
                      self.audit_actions())

    # ---- users ---------------------------------------------------------------------------

    def test_users(self):
        name = "syn" + uuid.uuid4().hex[:6]
        user_id = "@%s:localhost" % name
        created = self.server.http("PUT", SYN + "/v2/users/" + q(user_id),
                                   {"password": PASSWORD, "displayname": "Sam Synapse"}, token=self.admin)
        self.assertEqual(created[0], 201, created)
        self.assertEqual(created[1]["displayname"], "Sam Synapse")
        st, login = self.server.login(name, PASSWORD)
        self.assertEqual(st, 200, login)
        token = login["access_token"]
        got = self.api("GET", SYN + "/v2/users/" + q(user_id))
        self.assertEqual((got["name"], got["admin"], got["deactivated"]), (user_id, False, False))
        modified = self.api("PUT", SYN + "/v2/users/" + q(user_id), {"displayname": "Samantha", "admin": True})
        self.assertEqual((modified["displayname"], modified["admin"]), ("Samantha", True))
        listed = self.api("GET", SYN + "/v2/users?name=%s&limit=10" % name)
        self.assertEqual([u["name"] for u in listed["users"]], [user_id])
        page = self.api("GET", SYN + "/v2/users?from=0&limit=1")
        self.assertEqual(len(page["users"]), 1)
        self.assertIn("next_token", page)
        devices = self.api("GET", SYN + "/v2/users/%s/devices" % q(user_id))
        self.assertEqual([d["device_id"] for d in devices["devices"]], [login["device_id"]])
        st, room = self.server.http("POST", V3 + "/createRoom", {"name": "x"}, token=token)
        self.assertEqual(self.api("GET", SYN + "/v1/users/%s/joined_rooms" % q(user_id))["joined_rooms"], [room["room_id"]])
        st, body = self.server.http("POST", SYN + "/v1/users/%s/login" % q(user_id), {}, token=self.admin)
        self.assertEqual((st, body["errcode"]), (403, "M_FORBIDDEN"), "no logging in as another user")
        st, second = self.server.login(name, PASSWORD)
        self.api("DELETE", SYN + "/v2/users/%s/devices/%s" % (q(user_id), q(second["device_id"])))
        st, body = self.server.http("GET", V3 + "/account/whoami", token=second["access_token"])
        self.assertEqual((st, body["errcode"]), (401, "M_UNKNOWN_TOKEN"), "the deleted device's session ends")
        whois = self.api("GET", SYN + "/v1/whois/" + q(user_id))
        self.assertEqual(whois["user_id"], user_id)
        self.assertEqual(len(whois["devices"]), 1)
        self.api("POST", SYN + "/v1/reset_password/" + q(user_id), {"new_password": "a brand new password"})
        st, body = self.server.http("GET", V3 + "/account/whoami", token=token)
        self.assertEqual((st, body["errcode"]), (401, "M_UNKNOWN_TOKEN"), "logout_devices defaults to true")
        st, login = self.server.login(name, "a brand new password")
        self.assertEqual(st, 200)
        token = login["access_token"]
        out = self.api("POST", SYN + "/v1/deactivate/" + q(user_id), {"erase": False})
        self.assertEqual(out, {"id_server_unbind_result": "success"})
        st, body = self.server.http("GET", V3 + "/account/whoami", token=token)
        self.assertEqual(body["errcode"], "M_UNKNOWN_TOKEN")
        self.assertTrue(self.api("GET", SYN + "/v2/users/" + q(user_id))["deactivated"])
        self.assertNotIn(user_id, [u["name"] for u in self.api("GET", SYN + "/v2/users?limit=1000")["users"]])
        self.assertIn(user_id, [u["name"] for u in self.api("GET", SYN + "/v2/users?limit=1000&deactivated=true")["users"]])
        actions = self.audit_actions()
        self.assertIn((self.admin_id, "synapse.user.create", {"user_id": user_id}), actions)
        self.assertTrue(any(x[0] == self.admin_id and x[1] == "user.deactivate" and x[2]["user_id"] == user_id
                            and x[2].get("via") == "synapse_admin" for x in actions))
        self.assertTrue(any(x[0] == self.admin_id and x[1] == "user.password" and x[2]["user_id"] == user_id for x in actions))
        # Bad input: clear errors.
        st, body = self.server.http("GET", SYN + "/v2/users/" + q("@x:elsewhere.example"), token=self.admin)
        self.assertEqual((st, body["errcode"]), (400, "M_INVALID_PARAM"))
        st, body = self.server.http("GET", SYN + "/v2/users/" + q("@nobody%s:localhost" % uuid.uuid4().hex[:6]), token=self.admin)
        self.assertEqual((st, body["errcode"]), (404, "M_NOT_FOUND"))
        st, body = self.server.http("PUT", SYN + "/v2/users/" + q("@new%s:localhost" % uuid.uuid4().hex[:6]), {}, token=self.admin)
        self.assertEqual((st, body["errcode"]), (400, "M_MISSING_PARAM"))

    # ---- rooms, reports, tokens ----------------------------------------------------------

    def test_rooms_reports_and_tokens(self):
        uid, token = self.register_shared("roomer" + uuid.uuid4().hex[:6])
        st, room = self.server.http("POST", V3 + "/createRoom", {"name": "Synapse-listed room"}, token=token)
        room = room["room_id"]
        st, sent = self.server.http("PUT", V3 + "/rooms/%s/send/m.room.message/t1" % q(room),
                                    {"msgtype": "m.text", "body": "minutes of the meeting"}, token=token)
        self.assertEqual(st, 200, sent)
        listed = self.api("GET", SYN + "/v1/rooms?search_term=Synapse-listed")
        self.assertEqual([r["room_id"] for r in listed["rooms"]], [room])
        details = self.api("GET", SYN + "/v1/rooms/" + q(room))
        self.assertEqual((details["name"], details["creator"], details["joined_local_members"]),
                         ("Synapse-listed room", uid, 2))  # the creator and the records keeper
        members = self.api("GET", SYN + "/v1/rooms/%s/members" % q(room))
        self.assertIn(uid, members["members"])
        state = self.api("GET", SYN + "/v1/rooms/%s/state" % q(room))
        self.assertIn("m.room.create", [e["type"] for e in state["state"]])
        messages = self.api("GET", SYN + "/v1/rooms/%s/messages?dir=b&limit=5" % q(room))
        self.assertIn("minutes of the meeting", [e["content"].get("body") for e in messages["chunk"]])
        for version in ("v1", "v2"):
            st, body = self.server.http("DELETE", SYN + "/%s/rooms/%s" % (version, q(room)), {"purge": True}, token=self.admin)
            self.assertEqual((st, body["errcode"]), (403, "M_FORBIDDEN"))
            self.assertIn("records", body["error"])
        self.assertEqual(self.api("GET", SYN + "/v1/rooms/" + q(room))["room_id"], room, "the room is still there")
        st, body = self.server.http("GET", SYN + "/v1/rooms/" + q("!nosuch:localhost"), token=self.admin)
        self.assertEqual((st, body["errcode"]), (404, "M_NOT_FOUND"))
        # Event reports come from the reports service.
        st, body = self.server.http("POST", V3 + "/rooms/%s/report/%s" % (q(room), q(sent["event_id"])),
                                    {"reason": "spam"}, token=token)
        self.assertEqual(st, 200, body)
        reports = self.api("GET", SYN + "/v1/event_reports")
        self.assertIn(sent["event_id"], [r["event_id"] for r in reports["event_reports"]])
        report = [r for r in reports["event_reports"] if r["event_id"] == sent["event_id"]][0]
        one = self.api("GET", SYN + "/v1/event_reports/%d" % report["id"])
        self.assertEqual((one["reason"], one["user_id"], one["sender"]), ("spam", uid, uid))
        self.api("GET", SYN + "/v1/event_reports/999999999", expect=404)
        # Registration tokens.
        made = self.api("POST", SYN + "/v1/registration_tokens/new", {"token": "abcd-1234", "uses_allowed": 3})
        self.assertEqual((made["token"], made["uses_allowed"], made["completed"]), ("abcd-1234", 3, 0))
        self.assertIn("abcd-1234", [t["token"] for t in self.api("GET", SYN + "/v1/registration_tokens")["registration_tokens"]])
        self.assertEqual(self.api("PUT", SYN + "/v1/registration_tokens/abcd-1234", {"uses_allowed": None})["uses_allowed"], None)
        self.api("POST", SYN + "/v1/registration_tokens/new", {"token": "abcd-1234"}, expect=400)
        self.api("POST", SYN + "/v1/registration_tokens/new", {"token": "bad token!"}, expect=400)
        self.assertEqual(len(self.api("POST", SYN + "/v1/registration_tokens/new", {"length": 20})["token"]), 20)
        self.api("DELETE", SYN + "/v1/registration_tokens/abcd-1234")
        self.api("GET", SYN + "/v1/registration_tokens/abcd-1234", expect=404)
        self.assertEqual(self.api("GET", SYN + "/v1/server_version")["server_version"].split()[0], "despatch")
        actions = self.audit_actions()
        self.assertIn((self.admin_id, "synapse.room.messages", {"room_id": room}), actions)
        self.assertIn((self.admin_id, "registration_token.delete", {"token": "abcd-1234"}), actions)

    def test_media_list_and_quarantine(self):
        uid, token = self.register_shared("uploader" + uuid.uuid4().hex[:6])
        png = make_png(32, 32, seed=7)
        st, body = self.server.http("POST", "/_matrix/media/v3/upload?filename=chart.png", png, token=token,
                                    headers={"Content-Type": "image/png"})
        self.assertEqual(st, 200, body)
        media_id = body["content_uri"].split("/")[-1]
        listed = self.api("GET", SYN + "/v1/users/%s/media" % q(uid))
        self.assertEqual(listed["total"], 1)
        self.assertEqual((listed["media"][0]["media_id"], listed["media"][0]["media_length"]), (media_id, len(png)))
        path = "/_matrix/client/v1/media/download/localhost/" + media_id
        st, _ = self.server.http("GET", path, token=token)
        self.assertEqual(st, 200)
        self.api("POST", SYN + "/v1/media/quarantine/localhost/" + media_id, {})
        st, body = self.server.http("GET", path, token=token)
        self.assertEqual((st, body["errcode"]), (403, "M_FORBIDDEN"), "a quarantined file is withheld")
        self.assertIsNotNone(self.api("GET", SYN + "/v1/users/%s/media" % q(uid))["media"][0]["quarantined_by"])
        self.api("POST", SYN + "/v1/media/unquarantine/localhost/" + media_id, {})
        st, _ = self.server.http("GET", path, token=token)
        self.assertEqual(st, 200, "released again")
        self.api("POST", SYN + "/v1/media/quarantine/localhost/nosuchmedia", {}, expect=404)
        actions = self.audit_actions()
        self.assertIn((self.admin_id, "media.quarantine", {"server_name": "localhost", "media_id": media_id}), actions)

    def test_hand_a_room_over(self):
        owner, owner_token = self.register_shared("owner" + uuid.uuid4().hex[:6])
        heir, heir_token = self.register_shared("heir" + uuid.uuid4().hex[:6])
        st, room = self.server.http("POST", V3 + "/createRoom", {"name": "Team", "invite": [heir]}, token=owner_token)
        room = room["room_id"]
        self.api("POST", V3 + "/rooms/%s/join" % q(room), {}, token=heir_token)
        mod, mod_token = self.register_shared("mod" + uuid.uuid4().hex[:6])
        self.api("POST", V3 + "/rooms/%s/invite" % q(room), {"user_id": mod}, token=owner_token)
        self.api("POST", V3 + "/rooms/%s/join" % q(room), {}, token=mod_token)
        pl = self.api("GET", V3 + "/rooms/%s/state/m.room.power_levels" % q(room), token=owner_token)
        pl["users"][mod] = 50
        self.api("PUT", V3 + "/rooms/%s/state/m.room.power_levels" % q(room), pl, token=owner_token)
        # The room's only admin leaves the department.
        self.api("POST", "/_despatch/admin/v1/users/%s/deactivate" % q(owner), {"case_ref": "HR-9"})
        # The departed admin's own level cannot be lowered by anyone (auth rules): a clear refusal.
        st, body = self.server.http("POST", "/_despatch/admin/v1/rooms/%s/hand_over" % q(room),
                                    {"user_id": heir, "demote": owner}, token=self.admin)
        self.assertEqual((st, body["errcode"]), (403, "M_FORBIDDEN"))
        out = self.api("POST", "/_despatch/admin/v1/rooms/%s/hand_over" % q(room),
                       {"user_id": heir, "demote": mod, "case_ref": "HR-9"})
        pl = self.api("GET", V3 + "/rooms/%s/state/m.room.power_levels?format=event" % q(room), token=heir_token)
        self.assertEqual(pl["event_id"], out["event_id"])
        self.assertEqual(pl["sender"], "@records:localhost", "the keeper makes the change, visibly")
        self.assertEqual(pl["content"]["users"][heir], 100)
        self.assertNotIn(mod, pl["content"]["users"], "demoted to the default")
        # The heir can now run the room.
        self.api("PUT", V3 + "/rooms/%s/state/m.room.name" % q(room), {"name": "Team (new lead)"}, token=heir_token)
        st, body = self.server.http("POST", "/_despatch/admin/v1/rooms/%s/hand_over" % q(room),
                                    {"user_id": "@stranger:localhost"}, token=self.admin)
        self.assertEqual((st, body["errcode"]), (400, "M_INVALID_PARAM"))
        self.assertTrue(any(x[1] == "room.hand_over" and x[2]["to"] == heir for x in self.audit_actions()))


if __name__ == "__main__":
    unittest.main()


class RegistrationTokenTest(unittest.TestCase):
    """With open registration off, a registration token made through the Synapse admin API
    lets one person register (m.login.registration_token), as many times as it allows."""

    @classmethod
    def setUpClass(cls):
        cls.server = ServerFixture(open_registration=False)
        cls.server.start()
        res = cls.server.user_add("tokenadmin", password=PASSWORD, admin=True)
        assert res.returncode == 0, res.stderr
        st, body = cls.server.login("tokenadmin", PASSWORD)
        assert st == 200, body
        cls.admin = body["access_token"]

    @classmethod
    def tearDownClass(cls):
        cls.server.teardown()

    def register(self, name, auth=None):
        body = {"username": name, "password": PASSWORD}
        if auth:
            body["auth"] = auth
        return self.server.http("POST", V3 + "/register", body)

    def test_a_token_opens_closed_registration(self):
        st, body = self.register("early" + uuid.uuid4().hex[:6])
        self.assertEqual((st, body["errcode"]), (403, "M_FORBIDDEN"), "closed without any token")
        st, made = self.server.http("POST", SYN + "/v1/registration_tokens/new", {"uses_allowed": 1}, token=self.admin)
        self.assertEqual(st, 200, made)
        token = made["token"]
        st, v = self.server.http("GET", "/_matrix/client/v1/register/m.login.registration_token/validity?token=" + q(token))
        self.assertEqual((st, v), (200, {"valid": True}))
        name = "invited" + uuid.uuid4().hex[:6]
        st, body = self.register(name)
        self.assertEqual(st, 401, body)
        self.assertEqual(body["flows"], [{"stages": ["m.login.registration_token"]}])
        session = body["session"]
        st, bad = self.register(name, {"type": "m.login.registration_token", "token": "wrong", "session": session})
        self.assertEqual((st, bad["errcode"]), (401, "M_FORBIDDEN"))
        st, ok = self.register(name, {"type": "m.login.registration_token", "token": token, "session": session})
        self.assertEqual(st, 200, ok)
        self.assertEqual(ok["user_id"], "@%s:localhost" % name)
        st, got = self.server.http("GET", SYN + "/v1/registration_tokens/" + q(token), token=self.admin)
        self.assertEqual((got["completed"], got["uses_allowed"]), (1, 1))
        st, v = self.server.http("GET", "/_matrix/client/v1/register/m.login.registration_token/validity?token=" + q(token))
        self.assertEqual(v, {"valid": False})
        # Used up: registration is closed again.
        st, body = self.register("late" + uuid.uuid4().hex[:6])
        self.assertEqual((st, body["errcode"]), (403, "M_FORBIDDEN"))
