"""SCIM 2.0 provisioning at /scim/v2 against a real server, following RFC 7644's examples.

Tokens come from `despatch scim token create` (run beside the running server); users map to
Matrix accounts (userName = localpart); active:false and DELETE cut the leaver off through
the same path as every deactivation (their parked /sync ends with M_UNKNOWN_TOKEN); groups
map to department rooms (members invited and joined server-side, removed members leave).
"""

import json
import threading
import time
import unittest
import uuid

from harness import ServerFixture, q, run_cli

V3 = "/_matrix/client/v3"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ADMIN_PASSWORD = "scim test admin password"


class ScimTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ServerFixture()
        cls.server.start()
        s = cls.server
        res = run_cli("scim", "token", "create", "--name", "entra-test", "--data", s.data_dir)
        assert res.returncode == 0, res.stderr
        cls.token = res.stdout.strip()
        assert cls.token.startswith("scim_"), res.stdout
        res = s.user_add("scimadmin", password=ADMIN_PASSWORD, admin=True)
        assert res.returncode == 0, res.stderr
        st, body = s.login("scimadmin", ADMIN_PASSWORD)
        assert st == 200, body
        cls.admin = body["access_token"]

    @classmethod
    def tearDownClass(cls):
        cls.server.teardown()

    def scim(self, method, path, body=None, token=None, expect=None):
        st, resp, raw, headers = self.server.http(method, "/scim/v2" + path, body=body,
                                                  token=token if token is not None else self.token,
                                                  raw_response=True)
        if expect is not None:
            self.assertEqual(st, expect, "%s %s: %s %r" % (method, path, st, resp))
        if raw:
            self.assertIn("application/scim+json", headers.get("Content-Type", ""))
        return st, resp

    def assert_scim_error(self, resp, status, scim_type=None):
        self.assertEqual(resp["schemas"], [ERROR])
        self.assertEqual(resp["status"], str(status))
        self.assertIsInstance(resp["detail"], str)
        if scim_type:
            self.assertEqual(resp.get("scimType"), scim_type)

    def create_user(self, name, **extra):
        body = {"schemas": [USER], "userName": name, "externalId": "ext-" + name,
                "name": {"formatted": "Ms. %s Jensen III" % name.title(), "familyName": "Jensen",
                         "givenName": name.title()}}
        body.update(extra)
        st, resp, raw, headers = self.server.http("POST", "/scim/v2/Users", body=body, token=self.token,
                                                  raw_response=True)
        self.assertEqual(st, 201, resp)
        self.assertEqual(headers.get("Location"), resp["meta"]["location"], "RFC 7644 §3.3: Location of the new resource")
        return resp

    def login(self, name):
        """A password session for a SCIM user (an admin resets the password first)."""
        pw = "pw-" + uuid.uuid4().hex
        res = run_cli("user", "reset-password", name, "--password", pw, "--data", self.server.data_dir)
        self.assertEqual(res.returncode, 0, res.stderr)
        st, body = self.server.login(name, pw)
        self.assertEqual(st, 200, body)
        return body["access_token"]

    # ---- discovery and auth --------------------------------------------------------------

    def test_discovery_documents(self):
        _, spc = self.scim("GET", "/ServiceProviderConfig", expect=200)
        self.assertTrue(spc["patch"]["supported"])
        self.assertTrue(spc["filter"]["supported"])
        self.assertEqual(spc["authenticationSchemes"][0]["type"], "oauthbearertoken")
        _, types = self.scim("GET", "/ResourceTypes", expect=200)
        self.assertEqual(types["schemas"], [LIST])
        self.assertEqual({r["endpoint"] for r in types["Resources"]}, {"/Users", "/Groups"})
        _, schemas = self.scim("GET", "/Schemas", expect=200)
        self.assertEqual({r["id"] for r in schemas["Resources"]}, {USER, GROUP})
        _, user_schema = self.scim("GET", "/Schemas/" + USER, expect=200)
        self.assertIn("userName", [a["name"] for a in user_schema["attributes"]])

    def test_tokens_are_required_and_revocable(self):
        st, resp = self.scim("GET", "/Users", token="")
        self.assertEqual(st, 401)
        self.assert_scim_error(resp, 401)
        st, resp = self.scim("GET", "/Users", token="scim_wrong")
        self.assertEqual(st, 401)
        # A Matrix access token, even an administrator's, is not a SCIM token.
        st, resp = self.scim("GET", "/Users", token=self.admin)
        self.assertEqual(st, 401)
        res = run_cli("scim", "token", "create", "--name", "short-lived", "--data", self.server.data_dir)
        token = res.stdout.strip()
        self.scim("GET", "/Users", token=token, expect=200)
        listing = run_cli("scim", "token", "list", "--data", self.server.data_dir).stdout
        line = [l for l in listing.splitlines() if "short-lived" in l][0]
        self.assertNotIn(token, listing, "the token itself is never shown again")
        res = run_cli("scim", "token", "revoke", line.split("\t")[0], "--data", self.server.data_dir)
        self.assertEqual(res.returncode, 0, res.stderr)
        st, resp = self.scim("GET", "/Users", token=token)
        self.assertEqual(st, 401, "a revoked token is refused at once")
        self.assert_scim_error(resp, 401)

    # ---- users ---------------------------------------------------------------------------

    def test_create_get_and_filter_users(self):
        name = "bjensen" + uuid.uuid4().hex[:6]
        created = self.create_user(name, emails=[{"value": name + "@example.com", "type": "work", "primary": True}])
        self.assertEqual(created["schemas"], [USER])
        self.assertEqual(created["userName"], name)
        self.assertEqual(created["externalId"], "ext-" + name)
        self.assertTrue(created["active"])
        self.assertEqual(created["meta"]["resourceType"], "User")
        self.assertEqual(created["meta"]["location"],
                         "http://127.0.0.1:%d/scim/v2/Users/%s" % (self.server.port, created["id"]))
        # The Matrix account exists, with the display name from name.formatted.
        st, profile = self.server.http("GET", V3 + "/profile/" + q("@%s:localhost" % name))
        self.assertEqual(st, 200, profile)
        self.assertEqual(profile["displayname"], "Ms. %s Jensen III" % name.title())
        _, got = self.scim("GET", "/Users/" + created["id"], expect=200)
        self.assertEqual(got["emails"][0]["value"], name + "@example.com")
        # Filters: userName eq (case-insensitive), displayName eq, active eq, and paging.
        _, found = self.scim("GET", "/Users?filter=" + q('userName eq "%s"' % name.upper()), expect=200)
        self.assertEqual(found["schemas"], [LIST])
        self.assertEqual(found["totalResults"], 1)
        self.assertEqual(found["Resources"][0]["id"], created["id"])
        _, found = self.scim("GET", "/Users?filter=" + q('displayName eq "Ms. %s Jensen III"' % name.title()), expect=200)
        self.assertEqual([r["id"] for r in found["Resources"]], [created["id"]])
        _, found = self.scim("GET", "/Users?filter=" + q('userName eq "%s" and active eq true' % name), expect=200)
        self.assertEqual(found["totalResults"], 1)
        _, found = self.scim("GET", "/Users?filter=" + q('userName eq "nobody-%s"' % name), expect=200)
        self.assertEqual((found["totalResults"], found["Resources"]), (0, []))
        for i in range(3):
            self.create_user("page%s%d" % (name, i))
        _, page = self.scim("GET", "/Users?startIndex=2&count=2", expect=200)
        self.assertEqual((page["startIndex"], page["itemsPerPage"]), (2, 2))
        self.assertGreaterEqual(page["totalResults"], 4)
        self.assertEqual(len(page["Resources"]), 2)

    def test_bad_input_gets_scim_errors(self):
        name = "dup" + uuid.uuid4().hex[:6]
        self.create_user(name)
        st, resp = self.scim("POST", "/Users", {"schemas": [USER], "userName": name})
        self.assertEqual(st, 409)
        self.assert_scim_error(resp, 409, "uniqueness")
        st, resp = self.scim("POST", "/Users", {"schemas": [USER], "userName": "bjensen@example.com"})
        self.assertEqual(st, 400)
        self.assert_scim_error(resp, 400, "invalidValue")
        st, resp = self.scim("POST", "/Users", {"userName": "noschemas"})
        self.assert_scim_error(resp, 400, "invalidSyntax")
        st, resp = self.scim("POST", "/Users", "{not json")
        self.assert_scim_error(resp, 400, "invalidSyntax")
        st, resp = self.scim("GET", "/Users?filter=" + q('userName xx "a"'))
        self.assert_scim_error(resp, 400, "invalidFilter")
        st, resp = self.scim("GET", "/Users/2819c223-7f76-453a-919d-413861904646")
        self.assertEqual(st, 404)
        self.assert_scim_error(resp, 404)
        created = self.create_user("mut" + uuid.uuid4().hex[:6])
        body = {"schemas": [USER], "userName": "renamed" + uuid.uuid4().hex[:6]}
        st, resp = self.scim("PUT", "/Users/" + created["id"], body)
        self.assert_scim_error(resp, 400, "mutability")
        st, resp = self.scim("PATCH", "/Users/" + created["id"], {"schemas": [PATCH], "Operations": [{"op": "jump"}]})
        self.assert_scim_error(resp, 400, "invalidSyntax")

    def test_put_and_patch_with_and_without_path(self):
        name = "patch" + uuid.uuid4().hex[:6]
        created = self.create_user(name)
        uid = created["id"]
        # RFC 7644 §3.5.2.1: add without a path (value is an object of attributes).
        _, r = self.scim("PATCH", "/Users/" + uid, {"schemas": [PATCH], "Operations": [
            {"op": "add", "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}], "nickName": "Babs"}}]},
            expect=200)
        self.assertEqual([e["value"] for e in r["emails"]], ["babs@jensen.org"])
        # A value path: emails[type eq "work"].value (made when absent), then replaced.
        _, r = self.scim("PATCH", "/Users/" + uid, {"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": 'emails[type eq "work"].value', "value": "bjensen@dept.example"}]}, expect=200)
        self.assertEqual(sorted(e["value"] for e in r["emails"]), ["babs@jensen.org", "bjensen@dept.example"])
        _, r = self.scim("PATCH", "/Users/" + uid, {"schemas": [PATCH], "Operations": [
            {"op": "remove", "path": 'emails[type eq "home"]'}]}, expect=200)
        self.assertEqual([e["value"] for e in r["emails"]], ["bjensen@dept.example"])
        # Replace with a path: displayName, as identity providers send it (op capitalised).
        _, r = self.scim("PATCH", "/Users/" + uid, {"schemas": [PATCH], "Operations": [
            {"op": "Replace", "path": "displayName", "value": "Barbara Jensen"}]}, expect=200)
        self.assertEqual(r["displayName"], "Barbara Jensen")
        st, profile = self.server.http("GET", V3 + "/profile/" + q("@%s:localhost" % name))
        self.assertEqual(profile["displayname"], "Barbara Jensen")
        # PUT replaces: attributes left out are cleared; userName must stay.
        _, r = self.scim("PUT", "/Users/" + uid, {"schemas": [USER], "userName": name, "displayName": "B. Jensen"},
                         expect=200)
        self.assertEqual(r["displayName"], "B. Jensen")
        self.assertNotIn("emails", r)
        self.assertNotIn("externalId", r)
        self.assertEqual(r["meta"]["version"], 'W/"6"')

    def parked_sync(self, token, since, out):
        st, body = self.server.http("GET", V3 + "/sync?timeout=30000&since=" + q(since), token=token, timeout=40)
        out.append((time.monotonic(), st, body))

    def test_active_false_cuts_the_leaver_off(self):
        name = "leaver" + uuid.uuid4().hex[:6]
        created = self.create_user(name)
        token = self.login(name)
        st, body = self.server.http("GET", V3 + "/sync?timeout=0", token=token)
        since = body["next_batch"]
        out = []
        threads = [threading.Thread(target=self.parked_sync, args=(token, since, out)) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        # Entra ID's form: active as the string "False".
        _, r = self.scim("PATCH", "/Users/" + created["id"], {"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": "active", "value": "False"}]}, expect=200)
        self.assertFalse(r["active"])
        for t in threads:
            t.join(10)
        self.assertEqual(len(out), 3)
        for at, st, body in out:
            self.assertEqual((st, body["errcode"]), (401, "M_UNKNOWN_TOKEN"))
            self.assertLess(at - t0, 1.0, "a parked /sync took %.3f s to end" % (at - t0))
        st, body = self.server.http("GET", V3 + "/account/whoami", token=token)
        self.assertEqual((st, body["errcode"]), (401, "M_UNKNOWN_TOKEN"))
        st, body = self.server.login(name, "anything at all")
        self.assertEqual(st, 403)
        _, found = self.scim("GET", "/Users?filter=" + q("active eq false"), expect=200)
        self.assertIn(created["id"], [u["id"] for u in found["Resources"]])
        # The deactivation is audited with the SCIM token as the actor.
        st, audit = self.server.http("GET", "/_despatch/admin/v1/audit?limit=100", token=self.admin)
        entry = [e for e in audit["entries"] if e["action"] == "user.deactivate"
                 and e["details"].get("user_id") == "@%s:localhost" % name]
        self.assertEqual(len(entry), 1)
        self.assertEqual(entry[0]["actor"], "scim:entra-test")

    def test_delete_deactivates_and_forgets_the_resource(self):
        name = "gone" + uuid.uuid4().hex[:6]
        created = self.create_user(name)
        token = self.login(name)
        st, resp = self.scim("DELETE", "/Users/" + created["id"])
        self.assertEqual(st, 204, resp)
        st, resp = self.scim("GET", "/Users/" + created["id"])
        self.assertEqual(st, 404)
        st, body = self.server.http("GET", V3 + "/account/whoami", token=token)
        self.assertEqual((st, body["errcode"]), (401, "M_UNKNOWN_TOKEN"))
        # The name is not handed to someone else.
        st, resp = self.scim("POST", "/Users", {"schemas": [USER], "userName": name})
        self.assertEqual(st, 409)
        self.assert_scim_error(resp, 409, "uniqueness")

    # ---- groups --------------------------------------------------------------------------

    def test_groups_map_to_department_rooms(self):
        s = self.server
        st, body = s.http("POST", V3 + "/createRoom", {"name": "Finance", "preset": "private_chat"}, token=self.admin)
        self.assertEqual(st, 200, body)
        room = body["room_id"]
        group_name = "Finance " + uuid.uuid4().hex[:6]
        st, body = s.http("PUT", "/_despatch/admin/v1/scim/group_rooms/" + q(group_name), {"rooms": [room]},
                          token=self.admin)
        self.assertEqual(st, 200, body)
        a = self.create_user("fina" + uuid.uuid4().hex[:6])
        b = self.create_user("finb" + uuid.uuid4().hex[:6])
        _, g = self.scim("POST", "/Groups", {"schemas": [GROUP], "displayName": group_name,
                                              "members": [{"value": a["id"], "display": a["displayName"]}]},
                         expect=201)
        self.assertEqual([m["value"] for m in g["members"]], [a["id"]])

        def membership(scim_user):
            st, body = s.http("GET", V3 + "/rooms/%s/state/m.room.member/%s" % (q(room), q("@%s:localhost" % scim_user["userName"])),
                              token=self.admin)
            return body.get("membership") if st == 200 else None

        self.assertEqual(membership(a), "join")
        self.assertIsNone(membership(b))
        # RFC 7644 §3.5.2.1: add members with a path.
        _, g = self.scim("PATCH", "/Groups/" + g["id"], {"schemas": [PATCH], "Operations": [
            {"op": "add", "path": "members", "value": [{"display": b["displayName"], "value": b["id"]}]}]}, expect=200)
        self.assertEqual(sorted(m["value"] for m in g["members"]), sorted([a["id"], b["id"]]))
        self.assertEqual(membership(b), "join")
        _, u = self.scim("GET", "/Users/" + b["id"], expect=200)
        self.assertEqual([x["display"] for x in u["groups"]], [group_name])
        # RFC 7644 §3.5.2.2: remove one member by a value filter.
        _, g = self.scim("PATCH", "/Groups/" + g["id"], {"schemas": [PATCH], "Operations": [
            {"op": "remove", "path": 'members[value eq "%s"]' % a["id"]}]}, expect=200)
        self.assertEqual([m["value"] for m in g["members"]], [b["id"]])
        self.assertEqual(membership(a), "leave")
        _, found = self.scim("GET", "/Groups?filter=" + q('displayName eq "%s"' % group_name), expect=200)
        self.assertEqual([x["id"] for x in found["Resources"]], [g["id"]])
        st, body = s.http("GET", "/_despatch/admin/v1/scim/group_rooms", token=self.admin)
        self.assertEqual(body["groups"][group_name], [room])
        # Deleting the group takes its members out of its rooms.
        st, _ = self.scim("DELETE", "/Groups/" + g["id"])
        self.assertEqual(st, 204)
        self.assertEqual(membership(b), "leave")
        st, resp = self.scim("POST", "/Groups", {"schemas": [GROUP], "displayName": "x", "members": [{"value": "nope"}]})
        self.assert_scim_error(resp, 400, "invalidValue")


if __name__ == "__main__":
    unittest.main()
