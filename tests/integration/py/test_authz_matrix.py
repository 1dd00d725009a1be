"""The authorization matrix (tests/integration/authz_matrix.json) against a real server.

One server for the class. The fixture: a private room with an owner and a user in each role
(stranger, departed, invitee, banned, member), a world-readable room, a second private room
with an event of its own, an ordinary account calling the admin API and an administrator.
Every case of every entry is a subTest that checks the status and errcode, that the answer
holds none of the strings the caller's role may never see, that a refused request changed
nothing the owner can observe (their incremental /sync; the audit log for admin routes), and
the entry's named after-check. After all cases: the rooms' state and members, the owner's
messages, profile, account data, devices, aliases and the legal hold are as they were, but
for what the allowed cases did.

A second test checks the file itself: known roles and placeholders, an errcode on every
refusal, and that every route registered in src/api that takes a room, event, user or
device ID (and every admin route) has an entry.

Set AUTHZ_MATRIX_OBSERVED=FILE to write every case's observed answer there as JSON.
"""

import copy
import glob
import json
import os
import re
import unittest
import uuid

from e2ee_helpers import FakeDevice
from harness import REPO, ServerError, ServerFixture, q

HERE = os.path.dirname(os.path.abspath(__file__))
MATRIX_FILE = os.path.join(os.path.dirname(HERE), "authz_matrix.json")
V3 = "/_matrix/client/v3"
PASSWORD = "authz matrix password"
ADMIN_PASSWORD = "authz matrix admin password"
PLACEHOLDER = re.compile(r"\{([a-z0-9_]+)\}")

ID_PARAMS = ("{roomId}", "{eventId}", "{userId}", "{deviceId}", "{roomAlias}", "{roomIdOrAlias}")
DYNAMIC = {"me", "password", "own_event", "txn", "marker", "fresh_user", "fresh_member",
           "fresh_alias", "owner_device_keys_signed_by_me"}


def load_matrix():
    with open(MATRIX_FILE) as f:
        return json.load(f)


class Actor:
    def __init__(self, server, prefix, password=PASSWORD, login=None):
        self.server = server
        self.password = password
        if login is None:
            self.localpart = "%s%s" % (prefix, uuid.uuid4().hex[:8])
            self.user_id, self.token, self.device_id = server.register(self.localpart, password)
        else:
            self.localpart = prefix
            self.user_id, self.token, self.device_id = login

    def http(self, method, path, body=None):
        return self.server.http(method, path, body=body, token=self.token)

    def ok(self, method, path, body=None):
        st, resp = self.http(method, V3 + path if path.startswith("/") and not path.startswith("/_") else path, body)
        if st != 200:
            raise ServerError("%s %s as %s: %s %r" % (method, path, self.user_id, st, resp))
        return resp

    def send(self, room, content, type_="m.room.message"):
        return self.ok("PUT", "/rooms/%s/send/%s/%s" % (q(room), type_, uuid.uuid4().hex), content)["event_id"]

    def say(self, room, text):
        return self.send(room, {"msgtype": "m.text", "body": text})

    def state(self, room, type_, content, key=""):
        return self.ok("PUT", "/rooms/%s/state/%s/%s" % (q(room), type_, q(key)), content)["event_id"]


class Fixture:
    """The rooms, users and values the matrix's placeholders name."""

    def __init__(self, server):
        self.server = server
        self.tag = uuid.uuid4().hex[:8]
        self.fresh_ids = set()        # users made for one case (fresh actors and targets)

    def text(self, name):
        return "authz-%s-%s" % (name, self.tag)

    def user(self, prefix):
        return Actor(self.server, prefix)

    def invite_join(self, room, actor):
        self.owner.ok("POST", "/rooms/%s/invite" % q(room), {"user_id": actor.user_id})
        actor.ok("POST", "/rooms/%s/join" % q(room), {})

    def build(self):
        srv = self.server
        self.owner = self.user("owner")
        self.owner_displayname = self.text("owner-name")
        self.owner_avatar = "mxc://localhost/authzavatar" + self.tag
        self.owner.ok("PUT", "/profile/%s/displayname" % q(self.owner.user_id), {"displayname": self.owner_displayname})
        self.owner.ok("PUT", "/profile/%s/avatar_url" % q(self.owner.user_id), {"avatar_url": self.owner_avatar})
        self.actors = {role: self.user(role) for role in ("member", "departed", "invitee", "banned", "stranger", "non_admin")}
        self.actors["owner"] = self.owner
        self.victim = self.user("victim")
        self.late_joiner = self.user("late")
        name = "authzadmin" + self.tag
        res = srv.user_add(name, password=ADMIN_PASSWORD, admin=True)
        if res.returncode != 0:
            raise ServerError("user add --admin: %s %s" % (res.stdout, res.stderr))
        st, body = srv.login(name, ADMIN_PASSWORD)
        if st != 200:
            raise ServerError("admin login: %s %r" % (st, body))
        self.actors["admin"] = Actor(srv, name, ADMIN_PASSWORD, (body["user_id"], body["access_token"], body["device_id"]))
        a = self.actors

        # The room: moderators who leave, are banned or are only invited keep power level 50.
        events = {"m.room.name": 50, "m.room.power_levels": 100, "m.room.history_visibility": 100,
                  "m.room.canonical_alias": 50, "m.room.avatar": 50, "m.room.tombstone": 100,
                  "m.room.server_acl": 100, "m.room.encryption": 100, "org.example.open": 0}
        users = {self.owner.user_id: 100, a["departed"].user_id: 50, a["banned"].user_id: 50,
                 a["invitee"].user_id: 50}
        self.topic_before = self.text("topic-before")
        self.room = self.owner.ok("POST", "/createRoom", {
            "preset": "private_chat", "room_alias_name": "authz" + self.tag, "topic": self.topic_before,
            "power_level_content_override": {"users": users, "events": events}})["room_id"]
        self.alias = "#authz%s:%s" % (self.tag, srv.server_name)
        self.state_text = self.text("state-before")
        self.owner.state(self.room, "org.example.authz", {"v": self.state_text}, "k")
        self.before_text = self.text("msg-before")
        self.event = self.owner.say(self.room, self.before_text)
        self.rel_text = self.text("reaction-before")
        self.owner.send(self.room, {"m.relates_to": {"rel_type": "m.annotation", "event_id": self.event,
                                                     "key": self.rel_text}}, "m.reaction")
        for u in (a["member"], self.victim, a["departed"], a["banned"]):
            self.invite_join(self.room, u)
        self.own_events = {role: a[role].say(self.room, self.text("own-" + role))
                           for role in ("member", "departed", "banned")}
        a["departed"].ok("POST", "/rooms/%s/leave" % q(self.room), {})
        self.owner.ok("POST", "/rooms/%s/ban" % q(self.room), {"user_id": a["banned"].user_id})
        self.owner.ok("POST", "/rooms/%s/invite" % q(self.room), {"user_id": a["invitee"].user_id})

        # What happens after the departures.
        self.late_text = self.text("secret-after-departure")
        self.late_event = self.owner.say(self.room, self.late_text)
        self.late_rel_text = self.text("secret-reaction-after")
        self.owner.send(self.room, {"m.relates_to": {"rel_type": "m.annotation", "event_id": self.event,
                                                     "key": self.late_rel_text}}, "m.reaction")
        self.late_topic = self.text("secret-topic-after")
        self.owner.state(self.room, "m.room.topic", {"topic": self.late_topic})
        self.late_alias = "#authzlate%s:%s" % (self.tag, srv.server_name)
        self.owner.ok("PUT", "/directory/room/%s" % q(self.late_alias), {"room_id": self.room})
        self.invite_join(self.room, self.late_joiner)

        # The owner's own data.
        self.owner_global_data = {"v": self.text("owner-global")}
        self.owner_room_data = {"v": self.text("owner-room")}
        self.owner.ok("PUT", "/user/%s/account_data/org.example.authz" % q(self.owner.user_id), self.owner_global_data)
        self.owner.ok("PUT", "/user/%s/rooms/%s/account_data/org.example.authz" % (q(self.owner.user_id), q(self.room)),
                      self.owner_room_data)
        self.owner.ok("PUT", "/user/%s/rooms/%s/tags/u.work" % (q(self.owner.user_id), q(self.room)), {"order": 0.1})
        self.filter_body = {"room": {"timeline": {"limit": 7}}}
        self.filter_id = self.owner.ok("POST", "/user/%s/filter" % q(self.owner.user_id), self.filter_body)["filter_id"]
        self.device = FakeDevice(self.owner.user_id, self.owner.device_id)
        self.owner_device_keys = self.device.device_keys()
        self.owner.ok("POST", "/keys/upload", {"device_keys": self.owner_device_keys,
                                               "one_time_keys": self.device.one_time_keys(40)})
        self.owner.ok("PUT", "/devices/%s" % q(self.owner.device_id), {"display_name": self.text("owner-device")})

        # The world-readable room and the second private room.
        self.wr_room = self.owner.ok("POST", "/createRoom", {"preset": "private_chat",
                                                             "room_alias_name": "authzwr" + self.tag})["room_id"]
        self.wr_alias = "#authzwr%s:%s" % (self.tag, srv.server_name)
        self.owner.state(self.wr_room, "m.room.history_visibility", {"history_visibility": "world_readable"})
        self.wr_text = self.text("world-readable")
        self.wr_event = self.owner.say(self.wr_room, self.wr_text)
        self.invite_join(self.wr_room, a["member"])
        self.foreign_room = self.owner.ok("POST", "/createRoom", {"preset": "private_chat"})["room_id"]
        self.foreign_text = self.text("secret-foreign-room")
        self.foreign_event = self.owner.say(self.foreign_room, self.foreign_text)

        # A legal hold, and the records office's key.
        self.hold_case = self.text("hold")
        self.hold_id = a["admin"].ok("POST", "/_despatch/admin/v1/legal_holds",
                                     {"case_ref": self.hold_case, "room_id": self.room})["hold_id"]
        with open(srv.records_key_file) as f:
            self.records_key = f.read().strip()

        self.static = {
            "room": self.room, "wr_room": self.wr_room, "foreign_room": self.foreign_room,
            "alias": self.alias, "late_alias": self.late_alias, "wr_alias": self.wr_alias,
            "event": self.event, "late_event": self.late_event, "foreign_event": self.foreign_event,
            "wr_event": self.wr_event,
            "owner": self.owner.user_id, "owner_localpart": self.owner.localpart,
            "owner_displayname": self.owner_displayname, "owner_avatar": self.owner_avatar,
            "owner_device": self.owner.device_id, "owner_ed25519": self.device.ed25519,
            "victim": self.victim.user_id, "banned_user": a["banned"].user_id,
            "late_joiner": self.late_joiner.user_id, "filter_id": self.filter_id,
            "hold_id": str(self.hold_id), "hold_case": self.hold_case, "records_key": self.records_key,
            "before_text": self.before_text, "rel_text": self.rel_text, "state_text": self.state_text,
            "topic_before": self.topic_before, "late_text": self.late_text,
            "late_rel_text": self.late_rel_text, "late_topic": self.late_topic,
            "foreign_text": self.foreign_text, "wr_text": self.wr_text,
        }

    # ---- fresh actors and targets --------------------------------------------------------

    def fresh_actor(self, role):
        """A new user in role, for a case whose success changes the actor's membership."""
        u = self.user("fresh" + role.replace("_", ""))
        self.fresh_ids.add(u.user_id)
        if role in ("member", "departed", "banned"):
            self.invite_join(self.room, u)
            u.say(self.room, self.text("own-fresh-" + role))
            if role == "departed":
                u.ok("POST", "/rooms/%s/leave" % q(self.room), {})
            elif role == "banned":
                self.owner.ok("POST", "/rooms/%s/ban" % q(self.room), {"user_id": u.user_id})
        elif role == "invitee":
            self.owner.ok("POST", "/rooms/%s/invite" % q(self.room), {"user_id": u.user_id})
        elif role != "stranger":
            raise ValueError("no fresh actor for role " + role)
        return u

    def value(self, name, actor, role, cache):
        if name in cache:
            return cache[name]
        if name in self.static:
            v = self.static[name]
        elif name == "me":
            v = actor.user_id
        elif name == "password":
            v = actor.password
        elif name == "own_event":
            v = self.own_events.get(role, self.event)
        elif name == "txn":
            v = uuid.uuid4().hex
        elif name == "marker":
            v = "authz-marker-" + uuid.uuid4().hex
        elif name == "fresh_user":
            u = self.user("target")
            self.fresh_ids.add(u.user_id)
            v = u.user_id
        elif name == "fresh_member":
            u = self.user("target")
            self.fresh_ids.add(u.user_id)
            self.invite_join(self.room, u)
            v = u.user_id
        elif name == "fresh_alias":
            v = "#authzfresh%s:%s" % (uuid.uuid4().hex[:10], self.server.server_name)
        elif name == "owner_device_keys_signed_by_me":
            v = copy.deepcopy(self.owner_device_keys)
            v["signatures"][actor.user_id] = {"ed25519:" + actor.device_id: "A" * 86}
        else:
            raise KeyError("unknown placeholder {%s}" % name)
        cache[name] = v
        return v


class AuthzMatrixTests(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.matrix = load_matrix()
        cls.server = ServerFixture(open_registration=True, rate_limit=False)
        cls.server.start()
        try:
            cls.fx = Fixture(cls.server)
            cls.fx.build()
        except BaseException:
            cls.server.teardown()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.teardown()
        super().tearDownClass()

    # ---- placeholders ----------------------------------------------------------------------

    def fill(self, obj, resolve, in_path=False):
        """obj with its placeholders filled: a string that is exactly one placeholder becomes
        the value itself; in a path, values are percent-encoded."""
        if isinstance(obj, str):
            m = PLACEHOLDER.fullmatch(obj)
            if m and not in_path:
                return resolve(m.group(1))
            return PLACEHOLDER.sub(lambda m: q(str(resolve(m.group(1)))) if in_path else str(resolve(m.group(1))), obj)
        if isinstance(obj, list):
            return [self.fill(x, resolve) for x in obj]
        if isinstance(obj, dict):
            return {self.fill(k, resolve): self.fill(v, resolve) for k, v in obj.items()}
        return obj

    # ---- what the owner can observe --------------------------------------------------------

    def owner_sync(self, since):
        st, body = self.fx.owner.http("GET", V3 + "/sync?timeout=0&since=" + q(since))
        self.assertEqual(st, 200, body)
        return body

    def owner_changes(self, since, actor):
        """What the owner's /sync since `since` shows that a refused request could have caused."""
        fx = self.fx
        rooms = {fx.room, fx.wr_room, fx.foreign_room}
        body = self.owner_sync(since)
        found = []
        for section, entries in body.get("rooms", {}).items():
            for rid, r in entries.items():
                if rid not in rooms:
                    continue
                for key in ("timeline", "state", "account_data", "invite_state"):
                    evs = (r.get(key) or {}).get("events") or []
                    if evs:
                        found.append("%s %s %s: %r" % (section, rid, key, evs))
                for e in (r.get("ephemeral") or {}).get("events") or []:
                    text = json.dumps(e)
                    if e.get("type") == "m.typing":
                        ids = e.get("content", {}).get("user_ids", [])
                        if actor.user_id in ids or fx.owner.user_id in ids:
                            found.append("typing in %s: %r" % (rid, e))
                    elif actor.user_id in text:
                        found.append("ephemeral in %s: %r" % (rid, e))
        for key in ("account_data", "to_device"):
            evs = (body.get(key) or {}).get("events") or []
            if evs:
                found.append("%s: %r" % (key, evs))
        return found

    def audit_head(self):
        st, body = self.fx.actors["admin"].http("GET", "/_despatch/admin/v1/audit?limit=1")
        self.assertEqual(st, 200, body)
        return body["entries"]

    # ---- named after-checks ------------------------------------------------------------------

    def after_aliases_intact(self):
        for alias in (self.fx.alias, self.fx.late_alias):
            st, body = self.server.http("GET", V3 + "/directory/room/" + q(alias))
            self.assertEqual((st, body.get("room_id")), (200, self.fx.room), "alias %s: %r" % (alias, body))

    def after_owner_device_intact(self):
        st, body = self.fx.owner.http("GET", V3 + "/devices/" + q(self.fx.owner.device_id))
        self.assertEqual((st, body.get("display_name")), (200, self.fx.text("owner-device")), body)
        st, body = self.fx.owner.http("GET", V3 + "/account/whoami")
        self.assertEqual(st, 200, body)

    def after_owner_keys_unsigned(self):
        st, body = self.fx.owner.http("POST", V3 + "/keys/query", {"device_keys": {self.fx.owner.user_id: []}})
        self.assertEqual(st, 200, body)
        sigs = body["device_keys"][self.fx.owner.user_id][self.fx.owner.device_id].get("signatures", {})
        self.assertEqual(list(sigs), [self.fx.owner.user_id], "another user's signature was stored: %r" % sigs)

    def after_hold_intact(self):
        st, body = self.fx.actors["admin"].http("GET", "/_despatch/admin/v1/legal_holds")
        self.assertEqual(st, 200, body)
        self.assertIn(self.fx.hold_case, json.dumps(body["holds"]), "the legal hold was lifted: %r" % body)

    def after_owner_active(self):
        st, body = self.fx.owner.http("GET", V3 + "/account/whoami")
        self.assertEqual((st, body.get("user_id")), (200, self.fx.owner.user_id), body)
        st, body = self.server.http("GET", V3 + "/profile/" + q(self.fx.owner.user_id))
        self.assertEqual((st, body.get("displayname")), (200, self.fx.owner_displayname), body)

    # ---- one case ----------------------------------------------------------------------------

    def run_case(self, entry, role, case, observed, refused_markers, allowed_markers):
        fx = self.fx
        actor = fx.fresh_actor(role) if case.get("fresh") else fx.actors[role]
        cache = {}
        renames = case.get("vars", {})

        def resolve(name):
            return fx.value(renames.get(name, name), actor, role, cache)

        path = self.fill(entry["path"], resolve, in_path=True)
        body = self.fill(entry.get("body"), resolve) if "body" in entry else None
        includes = [self.fill(s, resolve) for s in case.get("includes", [])]
        excludes = [self.fill(s, resolve) for s in case.get("excludes", [])]
        request_text = path + json.dumps(body)
        if not case.get("fresh"):
            never = [self.fill(s, resolve) for s in self.matrix["roles"][role]["never_sees"]]
            # Whatever the caller sent is theirs to see echoed back.
            excludes += [s for s in never if s not in request_text and q(s) not in request_text]
        admin_route = path.startswith(("/_despatch/", "/_synapse/"))

        since = self.owner_sync(self.owner_sync_token)["next_batch"]
        audit_before = self.audit_head() if admin_route else None
        st, resp = actor.http(entry["method"], path, body)
        self.owner_sync_token = since
        want = (case["status"], case.get("errcode"))
        got = (st, resp.get("errcode") if isinstance(resp, dict) and st >= 400 else None)
        observed.append({"entry": entry["name"], "role": role, "status": st,
                         "errcode": got[1], "expected": list(want)})
        marker = cache.get("marker")
        if marker:
            (allowed_markers if st < 400 else refused_markers).add(marker)

        # Every answer is JSON: an object, or the list GET /state returns.
        # (Synapse's admin API wraps a room's state in {"state": [...]}.)
        returns_list = path.split("?")[0].endswith("/state") and not path.startswith("/_synapse/")
        self.assertIsInstance(resp, dict if st >= 400 or not returns_list else list,
                              "%s %s: not the JSON expected (%s): %r" % (entry["method"], path, st, resp))
        self.assertEqual(got, want, "%s %s as %s: %s %r" % (entry["method"], path, role, st, resp))
        if st >= 400:
            self.assertIsInstance(resp.get("error"), str, "no error message: %r" % resp)
        text = json.dumps(resp, ensure_ascii=False)
        for s in includes:
            self.assertIn(s, text, "%s as %s: %r missing from %s" % (entry["name"], role, s, text[:2000]))
        for s in excludes:
            self.assertNotIn(s, text, "%s as %s: leaked %r in %s" % (entry["name"], role, s, text[:2000]))
        if st >= 400:
            changes = self.owner_changes(since, actor)
            self.assertEqual(changes, [], "a refused %s as %s changed what the owner sees" % (entry["name"], role))
            if admin_route:
                self.assertEqual(self.audit_head(), audit_before, "a refused admin call was audited or acted")
        if "after" in entry:
            getattr(self, "after_" + entry["after"])()

    # ---- the whole room, before and after ---------------------------------------------------

    def room_state(self, room):
        st, body = self.fx.owner.http("GET", V3 + "/rooms/%s/state" % q(room))
        self.assertEqual(st, 200, body)
        return {(e["type"], e["state_key"]): e for e in body}

    def all_events(self, room):
        st, body = self.fx.owner.http("GET", V3 + "/rooms/%s/messages?dir=b&limit=1000" % q(room))
        self.assertEqual(st, 200, body)
        return body["chunk"]

    def check_state_kept(self, room, before, after, allowed_markers):
        fx = self.fx
        for key, ev in before.items():
            self.assertIn(key, after, "state %r vanished from %s" % (key, room))
            if key[0] == "m.room.member":
                self.assertEqual(after[key]["content"].get("membership"), ev["content"].get("membership"),
                                 "membership of %s in %s changed" % (key[1], room))
            else:
                self.assertEqual(after[key]["event_id"], ev["event_id"], "state %r of %s changed: %r"
                                 % (key, room, after[key]))
        for key in set(after) - set(before):
            allowed = ((key[0] == "m.room.member" and key[1] in fx.fresh_ids) or
                       (key[0] == "org.example.open" and key[1] in allowed_markers))
            self.assertTrue(allowed, "new state %r in %s: %r" % (key, room, after[key]))

    # ---- the tests ------------------------------------------------------------------------------

    def test_every_case_of_the_matrix(self):
        fx = self.fx
        before = {room: self.room_state(room) for room in (fx.room, fx.wr_room, fx.foreign_room)}
        self.owner_sync_token = fx.owner.ok("GET", V3 + "/sync?timeout=0&filter="
                                            + q(json.dumps({"room": {"timeline": {"limit": 1}}})))["next_batch"]
        observed, refused, allowed = [], set(), set()
        for entry in self.matrix["endpoints"]:
            for role, case in entry["cases"].items():
                with self.subTest(entry=entry["name"], role=role):
                    self.run_case(entry, role, case, observed, refused, allowed)
        out = os.environ.get("AUTHZ_MATRIX_OBSERVED")
        if out:
            with open(out, "w") as f:
                json.dump(observed, f, indent=1)

        # Nothing a refused request asked for happened.
        with self.subTest("rooms unchanged but for the allowed cases"):
            for room, state in before.items():
                self.check_state_kept(room, state, self.room_state(room), allowed)
            for room in before:
                for e in self.all_events(room):
                    text = json.dumps(e)
                    hits = [m for m in refused if m in text]
                    self.assertEqual(hits, [], "a refused request's event is in %s: %r" % (room, e))
        with self.subTest("the owner's own data unchanged"):
            o = fx.owner
            self.assertEqual(o.ok("GET", "/user/%s/account_data/org.example.authz" % q(o.user_id)), fx.owner_global_data)
            self.assertEqual(o.ok("GET", "/user/%s/rooms/%s/account_data/org.example.authz" % (q(o.user_id), q(fx.room))),
                             fx.owner_room_data)
            self.assertEqual(o.ok("GET", "/user/%s/rooms/%s/tags" % (q(o.user_id), q(fx.room))),
                             {"tags": {"u.work": {"order": 0.1}}})
            self.assertEqual(o.ok("GET", "/user/%s/filter/%s" % (q(o.user_id), q(fx.filter_id))), fx.filter_body)
            self.assertEqual(o.ok("GET", "/profile/%s" % q(o.user_id)),
                             {"displayname": fx.owner_displayname, "avatar_url": fx.owner_avatar})
            self.after_owner_device_intact()
            self.after_owner_keys_unsigned()
        with self.subTest("directory, aliases and the legal hold unchanged"):
            self.assertEqual(fx.owner.ok("GET", "/directory/list/room/%s" % q(fx.room)), {"visibility": "private"})
            self.after_aliases_intact()
            self.after_hold_intact()
            st, body = fx.actors["admin"].http("GET", "/_despatch/admin/v1/audit?limit=1000")
            self.assertEqual(st, 200, body)
            text = json.dumps(body)
            self.assertEqual([m for m in refused if m in text], [], "a refused admin request is in the audit log")
        self.assertTrue(self.server.alive(), "server died:\n" + self.server.stderr_text()[-3000:])

    def test_matrix_file_is_well_formed_and_covers_every_route(self):
        matrix = self.matrix
        roles = matrix["roles"]
        known = set(self.fx.static) | DYNAMIC
        names = set()
        for entry in matrix["endpoints"]:
            with self.subTest(entry=entry.get("name")):
                self.assertNotIn(entry["name"], names, "duplicate entry name")
                names.add(entry["name"])
                self.assertIn(entry["method"], ("GET", "PUT", "POST", "DELETE"))
                self.assertTrue(entry["path"].startswith(("/_matrix/client/", "/_despatch/admin/v1/", "/_synapse/admin/")),
                                entry["path"])
                self.assertTrue(entry["cases"], "no cases")
                texts = json.dumps([entry, [r["never_sees"] for r in roles.values()]])
                for name in PLACEHOLDER.findall(texts):
                    self.assertIn(name, known, "unknown placeholder {%s}" % name)
                for role, case in entry["cases"].items():
                    self.assertIn(role, roles)
                    self.assertIsInstance(case["status"], int)
                    if case["status"] >= 400:
                        self.assertRegex(case.get("errcode", ""), r"^M_[A-Z_]+$", "%s: refusal without errcode" % role)
                    else:
                        self.assertNotIn("errcode", case)
                    for v in case.get("vars", {}).values():
                        self.assertIn(v, known)
                if "after" in entry:
                    self.assertTrue(hasattr(self, "after_" + entry["after"]), entry["after"])

        routes = registered_routes()
        self.assertGreater(len(routes), 40, "the route registrations were not found in src/api")

        def matches(route, method, path):
            r_method, r_segs, prefix = route
            segs = path.split("?")[0].split("/")
            if r_method != method or (len(segs) != len(r_segs) and not prefix) or len(segs) < len(r_segs):
                return False
            for rs, s in zip(r_segs, segs):
                if rs.startswith("{") and rs.endswith("}"):
                    continue
                if rs != s:
                    return False
            return True

        for route in routes:
            r_method, r_segs, prefix = route
            template = "/".join(r_segs)
            if not (any(p in template for p in ID_PARAMS) or template.startswith(("/_despatch/", "/_synapse/"))):
                continue
            with self.subTest(route="%s %s" % (r_method, template)):
                self.assertTrue(any(matches(route, e["method"], e["path"]) for e in matrix["endpoints"]),
                                "no matrix entry for %s %s" % (r_method, template))
        for entry in matrix["endpoints"]:
            with self.subTest(path=entry["path"]):
                self.assertTrue(any(matches(r, entry["method"], entry["path"]) for r in routes),
                                "no route serves %s %s" % (entry["method"], entry["path"]))


def registered_routes():
    """(method, path segments, is_prefix) for every route literal registered in src/api."""
    routes = []
    client = re.compile(r'add_client\(r,\s*"([A-Z]+)",\s*"([^"]*)"(\s*\+)?')
    raw = re.compile(r'r\.add\(\{"([A-Z]+)",\s*(?:std::string\()?"([^"]*)"(\)\s*\+)?')
    admin = re.compile(r'\badd\(r,\s*"([A-Z]+)",\s*"([^"]*)"')
    # The Synapse-compatible admin API (api/admin/synapse.h) registers under /_synapse/admin.
    synapse = re.compile(r'\badd_synapse\(\s*r,\s*"([A-Z]+)",\s*"([^"]*)"')
    # add_review_queue_routes (api/admin/review_queue.h) registers a list and an acknowledge route.
    queue = re.compile(r'add_review_queue_routes\(r,\s*"([^"]*)"')
    for f in glob.glob(os.path.join(REPO, "src", "api", "client", "*.cpp")):
        with open(f) as fh:
            text = fh.read()
        for m in client.finditer(text):
            routes.append((m.group(1), ("/_matrix/client/v3" + m.group(2)).rstrip("/").split("/")
                           if m.group(3) else ("/_matrix/client/v3" + m.group(2)).split("/"), bool(m.group(3))))
        for m in raw.finditer(text):
            routes.append((m.group(1), m.group(2).split("/"), bool(m.group(3))))
    for f in glob.glob(os.path.join(REPO, "src", "api", "admin", "*.cpp")):
        with open(f) as fh:
            text = fh.read()
        for m in admin.finditer(text):
            routes.append((m.group(1), ("/_despatch/admin/v1" + m.group(2)).split("/"), False))
        for m in synapse.finditer(text):
            routes.append((m.group(1), ("/_synapse/admin" + m.group(2)).split("/"), False))
        for m in queue.finditer(text):
            base = "/_despatch/admin/v1" + m.group(1)
            routes.append(("GET", base.split("/"), False))
            routes.append(("POST", (base + "/{id}/acknowledge").split("/"), False))
    return routes


if __name__ == "__main__":
    unittest.main()
