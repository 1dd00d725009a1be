"""Client-Server endpoints of the homeserver core, each checked over raw HTTP against a real
server for what a client relies on: discovery, capabilities, room creation options, the
directory, tags and private receipts through /sync, push rule changes applied to unread
counts, the user directory, profiles, devices, and password change and deactivation with
user-interactive auth.
"""

import json
import unittest
import uuid

from harness import ApiUser, SharedServer, q

V3 = "/_matrix/client/v3"
PASSWORD = "client api password"


class ClientApiTests(SharedServer, unittest.TestCase):
    def user(self, prefix, display_name=None):
        return ApiUser(self.server, prefix, PASSWORD, display_name)

    # ---- discovery ----------------------------------------------------------------------

    def test_well_known_versions_and_capabilities(self):
        st, wk = self.server.http("GET", "/.well-known/matrix/client")
        self.assertEqual(st, 200, wk)
        self.assertTrue(wk["m.homeserver"]["base_url"].startswith("http"), wk)
        st, versions = self.server.http("GET", "/_matrix/client/versions")
        self.assertEqual(st, 200)
        self.assertIn("v1.11", versions["versions"])
        alice = self.user("alice")
        caps = alice.ok("GET", "/capabilities")["capabilities"]
        self.assertEqual(caps["m.room_versions"]["default"], "11")
        self.assertEqual(caps["m.room_versions"]["available"].get("10"), "stable")
        self.assertIn("m.change_password", caps)

    # ---- room creation ------------------------------------------------------------------

    def test_room_version_10_and_power_level_override(self):
        alice, bob = self.user("alice"), self.user("bob")
        room = alice.ok("POST", "/createRoom", {
            "room_version": "10", "preset": "private_chat", "invite": [bob.user_id],
            "power_level_content_override": {"events_default": 50, "users": {alice.user_id: 100}}})["room_id"]
        create = alice.ok("GET", "/rooms/%s/state/m.room.create/" % q(room))
        self.assertEqual(create["room_version"], "10")
        self.assertEqual(create.get("creator"), alice.user_id, "v10 create events name their creator")
        pl = alice.ok("GET", "/rooms/%s/state/m.room.power_levels/" % q(room))
        self.assertEqual(pl["events_default"], 50)
        bob.ok("POST", "/join/%s" % q(room), {})
        st, body = bob.http("PUT", "/rooms/%s/send/m.room.message/t1" % q(room), {"msgtype": "m.text", "body": "x"})
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), "the override did not apply")
        alice.send(room, "v10 works")
        st, body = alice.http("POST", "/createRoom", {"room_version": "1"})
        self.assertEqual((st, body.get("errcode")), (400, "M_UNSUPPORTED_ROOM_VERSION"), body)

    def test_room_versions_3_to_9(self):
        # The writer makes events for 3-11; 1-2 and 12 need formats it does not produce.
        alice, bob = self.user("alice"), self.user("bob")
        caps = alice.ok("GET", "/capabilities")["capabilities"]["m.room_versions"]["available"]
        self.assertEqual(sorted(caps, key=int), [str(n) for n in range(3, 12)])
        for version in ("3", "4", "6", "7", "9"):
            with self.subTest(room_version=version):
                room = alice.ok("POST", "/createRoom", {"room_version": version,
                                                        "preset": "public_chat"})["room_id"]
                create = alice.ok("GET", "/rooms/%s/state/m.room.create/" % q(room))
                self.assertEqual(create["room_version"], version)
                self.assertEqual(create.get("creator"), alice.user_id, "v1-10 name the creator")
                bob.ok("POST", "/join/%s" % q(room), {})
                event_id = bob.send(room, "in v" + version)
                if version == "3":
                    self.assertRegex(event_id, r"^\$[A-Za-z0-9+/]{43}$", "v3 event IDs are standard base64")
                else:
                    self.assertRegex(event_id, r"^\$[A-Za-z0-9_-]{43}$", "v4+ event IDs are URL-safe")
                alice.ok("PUT", "/rooms/%s/redact/%s/%s" % (q(room), q(event_id), uuid.uuid4().hex), {})
                ev = alice.ok("GET", "/rooms/%s/event/%s" % (q(room), q(event_id)))
                self.assertEqual(ev["content"], {}, "the redaction applied")
        for version in ("1", "2", "12"):
            st, body = alice.http("POST", "/createRoom", {"room_version": version})
            self.assertEqual((st, body.get("errcode")), (400, "M_UNSUPPORTED_ROOM_VERSION"), version)

    def test_a_redacted_power_levels_event_is_redacted_for_authorization(self):
        # v10 redaction drops "invite" from m.room.power_levels (the default, 0, applies);
        # v11 keeps it. Either way, the server must authorise with what redaction leaves.
        for version, bob_may_invite_after in (("10", True), ("11", False)):
            with self.subTest(room_version=version):
                alice, bob, carol = self.user("alice"), self.user("bob"), self.user("carol")
                room = alice.ok("POST", "/createRoom", {
                    "room_version": version, "preset": "public_chat",
                    "power_level_content_override": {"invite": 50}})["room_id"]
                bob.ok("POST", "/join/%s" % q(room), {})
                st, body = bob.http("POST", "/rooms/%s/invite" % q(room), {"user_id": carol.user_id})
                self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)
                pl = alice.ok("GET", "/rooms/%s/state/m.room.power_levels/?format=event" % q(room))
                alice.ok("PUT", "/rooms/%s/redact/%s/%s" % (q(room), q(pl["event_id"]), uuid.uuid4().hex), {})
                st, body = bob.http("POST", "/rooms/%s/invite" % q(room), {"user_id": carol.user_id})
                self.assertEqual(st == 200, bob_may_invite_after, "v%s after redaction: %s %r" % (version, st, body))

    # ---- directory ----------------------------------------------------------------------

    def test_aliases_and_public_room_directory(self):
        alice, bob = self.user("alice"), self.user("bob")
        name = "dir" + uuid.uuid4().hex[:8]
        room = alice.ok("POST", "/createRoom", {"preset": "public_chat", "room_alias_name": name,
                                                "name": "Directory test " + name,
                                                "visibility": "public"})["room_id"]
        alias = "#%s:%s" % (name, self.server.server_name)
        self.assertEqual(bob.ok("GET", "/directory/room/%s" % q(alias))["room_id"], room)
        extra = "#%sx:%s" % (name, self.server.server_name)
        alice.ok("PUT", "/directory/room/%s" % q(extra), {"room_id": room})
        self.assertEqual(sorted(alice.ok("GET", "/rooms/%s/aliases" % q(room))["aliases"]), sorted([alias, extra]))
        st, body = bob.http("DELETE", "/directory/room/%s" % q(extra))
        self.assertEqual(st, 403, "a stranger deleted someone else's alias: %r" % body)
        alice.ok("DELETE", "/directory/room/%s" % q(extra))
        st, _ = bob.http("GET", "/directory/room/%s" % q(extra))
        self.assertEqual(st, 404)
        self.assertEqual(bob.ok("GET", "/directory/list/room/%s" % q(room))["visibility"], "public")
        found = bob.ok("POST", "/publicRooms", {"filter": {"generic_search_term": name}})["chunk"]
        self.assertEqual([r["room_id"] for r in found], [room])
        self.assertEqual(found[0]["canonical_alias"], alias)
        alice.ok("PUT", "/directory/list/room/%s" % q(room), {"visibility": "private"})
        found = bob.ok("POST", "/publicRooms", {"filter": {"generic_search_term": name}})["chunk"]
        self.assertEqual(found, [])

    # ---- sync: tags and private receipts ------------------------------------------------

    def test_tags_and_private_receipts_through_sync(self):
        alice, bob = self.user("alice"), self.user("bob")
        room = alice.ok("POST", "/createRoom", {"preset": "public_chat"})["room_id"]
        bob.ok("POST", "/join/%s" % q(room), {})
        event = alice.send(room, "read me")
        a0, b0 = alice.sync()["next_batch"], bob.sync()["next_batch"]
        bob.ok("PUT", "/user/%s/rooms/%s/tags/u.work" % (q(bob.user_id), q(room)), {"order": 0.5})
        bob.ok("POST", "/rooms/%s/receipt/m.read.private/%s" % (q(room), q(event)), {})
        mine = bob.sync(since=b0)["rooms"]["join"][room]
        tags = [e for e in mine["account_data"]["events"] if e["type"] == "m.tag"]
        self.assertEqual(tags, [{"type": "m.tag", "content": {"tags": {"u.work": {"order": 0.5}}}}])
        receipts = [e for e in mine["ephemeral"]["events"] if e["type"] == "m.receipt"]
        self.assertTrue(receipts and bob.user_id in receipts[0]["content"][event]["m.read.private"], mine)
        theirs = alice.sync(since=a0)["rooms"]["join"].get(room, {})
        self.assertNotIn(bob.user_id, json.dumps(theirs.get("ephemeral", {})),
                         "a private read receipt reached another user")
        self.assertEqual(bob.ok("GET", "/user/%s/rooms/%s/tags" % (q(bob.user_id), q(room)))["tags"],
                         {"u.work": {"order": 0.5}})
        bob.ok("DELETE", "/user/%s/rooms/%s/tags/u.work" % (q(bob.user_id), q(room)))
        self.assertEqual(bob.ok("GET", "/user/%s/rooms/%s/tags" % (q(bob.user_id), q(room)))["tags"], {})

    # ---- push rules ---------------------------------------------------------------------

    def test_push_rule_changes_apply_to_unread_counts(self):
        alice, bob = self.user("alice"), self.user("bob")
        room = alice.ok("POST", "/createRoom", {"preset": "public_chat"})["room_id"]
        bob.ok("POST", "/join/%s" % q(room), {})
        alice.send(room, "counted")

        def counts():
            return bob.sync()["rooms"]["join"][room]["unread_notifications"]

        self.assertEqual(counts()["notification_count"], 1)
        # A room rule that mutes the room: later messages do not count.
        bob.ok("PUT", "/pushrules/global/room/%s" % q(room), {"actions": []})
        rule = bob.ok("GET", "/pushrules/global/room/%s" % q(room))
        self.assertEqual(rule["rule_id"], room)
        alice.send(room, "muted")
        self.assertEqual(counts()["notification_count"], 1, "a muted room still counts")
        # A keyword rule that highlights wins over nothing.
        bob.ok("DELETE", "/pushrules/global/room/%s" % q(room))
        bob.ok("PUT", "/pushrules/global/content/budget", {
            "pattern": "budget", "actions": ["notify", {"set_tweak": "highlight"}]})
        alice.send(room, "the budget is late")
        c = counts()
        self.assertEqual((c["notification_count"], c["highlight_count"]), (2, 1), c)
        # Disabling the rule stops the highlight.
        bob.ok("PUT", "/pushrules/global/content/budget/enabled", {"enabled": False})
        self.assertFalse(bob.ok("GET", "/pushrules/global/content/budget/enabled")["enabled"])
        alice.send(room, "budget again")
        c = counts()
        self.assertEqual((c["notification_count"], c["highlight_count"]), (3, 1), c)
        # The changes are in the push rules account data.
        rules = bob.ok("GET", "/pushrules/")["global"]
        self.assertIn("budget", [r["rule_id"] for r in rules["content"]])
        self.assertIn(".m.rule.master", [r["rule_id"] for r in rules["override"]])

    # ---- user directory and profile -----------------------------------------------------

    def test_user_directory_finds_users_who_share_a_room_or_public_rooms(self):
        tag = uuid.uuid4().hex[:6]
        alice = self.user("alice", "Alice Findme%s" % tag)
        bob = self.user("bob", "Bob Findme%s" % tag)
        carol = self.user("carol", "Carol Findme%s" % tag)
        room = alice.ok("POST", "/createRoom", {"preset": "private_chat", "invite": [bob.user_id]})["room_id"]
        bob.ok("POST", "/join/%s" % q(room), {})
        found = alice.ok("POST", "/user_directory/search", {"search_term": "findme" + tag, "limit": 10})
        ids = [r["user_id"] for r in found["results"]]
        self.assertIn(bob.user_id, ids)
        self.assertEqual(found["results"][ids.index(bob.user_id)]["display_name"], "Bob Findme%s" % tag)
        self.assertFalse(found["limited"])
        limited = alice.ok("POST", "/user_directory/search", {"search_term": "findme" + tag, "limit": 1})
        self.assertEqual(len(limited["results"]), 1)
        by_id = alice.ok("POST", "/user_directory/search", {"search_term": carol.localpart})
        self.assertIsInstance(by_id["results"], list)
        st, body = alice.http("POST", "/user_directory/search", {"limit": 3})
        self.assertEqual(st, 400, body)
        profile = bob.ok("GET", "/profile/%s" % q(alice.user_id))
        self.assertEqual(profile["displayname"], "Alice Findme%s" % tag)

    # ---- devices ------------------------------------------------------------------------

    def test_devices_list_rename_and_delete_with_uia(self):
        alice = self.user("alice")
        st, login = self.server.http("POST", V3 + "/login", {
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": alice.user_id},
            "password": PASSWORD, "initial_device_display_name": "laptop"})
        self.assertEqual(st, 200, login)
        second = login["device_id"]
        devices = {d["device_id"]: d for d in alice.ok("GET", "/devices")["devices"]}
        self.assertEqual(set(devices), {alice.device_id, second})
        self.assertEqual(devices[second]["display_name"], "laptop")
        alice.ok("PUT", "/devices/%s" % q(second), {"display_name": "old laptop"})
        self.assertEqual(alice.ok("GET", "/devices/%s" % q(second))["display_name"], "old laptop")
        st, challenge = alice.http("DELETE", "/devices/%s" % q(second), {})
        self.assertEqual(st, 401, challenge)
        alice.ok("DELETE", "/devices/%s" % q(second), {"auth": alice.uia_password(challenge["session"])})
        st, body = self.server.http("GET", V3 + "/account/whoami", token=login["access_token"])
        self.assertEqual((st, body.get("errcode")), (401, "M_UNKNOWN_TOKEN"), "a deleted device's token works")
        self.assertEqual([d["device_id"] for d in alice.ok("GET", "/devices")["devices"]], [alice.device_id])

    # ---- account ------------------------------------------------------------------------

    def test_password_change_logs_out_other_devices(self):
        alice = self.user("alice")
        st, login = self.server.login(alice.user_id, PASSWORD)
        self.assertEqual(st, 200, login)
        st, challenge = alice.http("POST", "/account/password", {"new_password": "a brand new password"})
        self.assertEqual(st, 401, challenge)
        alice.ok("POST", "/account/password", {"new_password": "a brand new password",
                                               "auth": alice.uia_password(challenge["session"])})
        st, body = self.server.http("GET", V3 + "/account/whoami", token=login["access_token"])
        self.assertEqual(st, 401, "other devices stay logged in after a password change: %r" % body)
        self.assertEqual(alice.ok("GET", "/account/whoami")["user_id"], alice.user_id)
        self.assertEqual(self.server.login(alice.user_id, PASSWORD)[0], 403)
        self.assertEqual(self.server.login(alice.user_id, "a brand new password")[0], 200)

    def test_self_deactivation_with_uia(self):
        alice, bob = self.user("alice"), self.user("bob")
        room = alice.ok("POST", "/createRoom", {"preset": "public_chat"})["room_id"]
        bob.ok("POST", "/join/%s" % q(room), {})
        st, challenge = bob.http("POST", "/account/deactivate", {})
        self.assertEqual(st, 401, challenge)
        bad = bob.uia_password(challenge["session"])
        bad["password"] = "wrong"
        st, body = bob.http("POST", "/account/deactivate", {"auth": bad})
        self.assertEqual(st, 401, body)
        self.assertEqual(body.get("errcode"), "M_FORBIDDEN", body)
        self.assertEqual(bob.ok("GET", "/account/whoami")["user_id"], bob.user_id, "deactivated on a wrong password")
        bob.ok("POST", "/account/deactivate", {"auth": bob.uia_password(challenge["session"])})
        st, body = bob.http("GET", "/account/whoami")
        self.assertEqual((st, body.get("errcode")), (401, "M_UNKNOWN_TOKEN"), body)
        self.assertEqual(self.server.login(bob.user_id, PASSWORD)[0], 403)
        members = alice.ok("GET", "/rooms/%s/joined_members" % q(room))["joined"]
        self.assertNotIn(bob.user_id, members, "a deactivated user stays in their rooms")
        st, body = self.server.http("GET", V3 + "/register/available?username=" + q(bob.localpart))
        self.assertEqual(st, 400, "a deactivated user's name became free again: %r" % body)


if __name__ == "__main__":
    unittest.main()
