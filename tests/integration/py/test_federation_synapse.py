"""Interop with the reference homeserver: a Despatch server and a Synapse (1.98, from
../shared/peers/synapse) federate on loopback over TLS, each trusting the tests' CA. A
Despatch user joins a Synapse room and a Synapse user joins a Despatch room, in room
versions 11, 10, 6 and 3 (standard-base64 event IDs), and messages go both ways with the same event IDs,
and a Despatch user who joins a Synapse room pages back into the history from before the join.
Invites go both ways (v11 and v10), each side rejects the other's invite, kicks and bans work
both ways, and pictures download both ways.
"""

import os
import shutil
import tempfile
import time
import unittest
import uuid

from harness import http_request, q
from media_helpers import make_png
from synapse_peer import SynapsePeer, ensure_built, synapse_dir
from test_federation_keys import Peer, make_ca, make_cert

V3 = "/_matrix/client/v3"


def wait_for(fn, timeout=30.0, interval=0.3):
    """Polls fn until it returns a true value; returns the last value."""
    deadline = time.time() + timeout
    value = fn()
    while not value and time.time() < deadline:
        time.sleep(interval)
        value = fn()
    return value


class SynapsePairCase(unittest.TestCase):
    """A Despatch server allowing one Synapse of version SYNAPSE, certificates from one CA,
    and a user on the Synapse side (the Despatch side's user comes with its Peer)."""

    SYNAPSE = "1.98.0"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="despatch-synapse-")
        build = ensure_built(cls.SYNAPSE)
        make_ca(cls.tmp, "ca")
        make_cert(cls.tmp, "ca", "server")
        ca = os.path.join(cls.tmp, "ca.pem")
        cert, key = os.path.join(cls.tmp, "server.pem"), os.path.join(cls.tmp, "server.key")
        cls.s = SynapsePeer(cls.tmp, "S", cls.tmp, "ca", build)
        cls.d = Peer(cls.tmp, "D", [cls.s.name], ca, cert, key)
        try:
            cls.d.start()
            cls.s.start()
        except Exception:
            cls.tearDownClass()
            raise
        cls.s_user, cls.s_token = cls.s.register("s" + uuid.uuid4().hex[:8])

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("DESPATCH_TEST_LOGS"):
            print("---- despatch\n%s" % cls.d.fx.stderr_text()[-6000:])
            print("---- synapse\n%s" % cls.s.log_tail(12000))
        cls.d.fx.teardown()
        cls.s.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)


@unittest.skipUnless(synapse_dir(), "the Synapse peer package is not on this machine")
class SynapseInteropTest(SynapsePairCase):
    def syn(self, method, path, body=None):
        return self.s.http(method, V3 + path, body=body, token=self.s_token)

    def messages(self, http, room):
        st, body = http("GET", "/rooms/%s/messages?dir=b&limit=50" % q(room))
        if st != 200:
            return {}
        return {e.get("content", {}).get("body"): e["event_id"] for e in body.get("chunk", [])
                if e.get("type") == "m.room.message"}

    def chat_both_ways(self, room, tag):
        st, sent = self.syn("PUT", "/rooms/%s/send/m.room.message/t%s" % (q(room), uuid.uuid4().hex),
                            {"msgtype": "m.text", "body": "from synapse " + tag})
        self.assertEqual(st, 200, sent)
        got = wait_for(lambda: self.messages(self.d.client, room).get("from synapse " + tag))
        self.assertEqual(got, sent["event_id"], "Synapse's message did not reach Despatch")
        st, sent = self.d.client("PUT", "/rooms/%s/send/m.room.message/t%s" % (q(room), uuid.uuid4().hex),
                                 {"msgtype": "m.text", "body": "from despatch " + tag})
        self.assertEqual(st, 200, sent)
        got = wait_for(lambda: self.messages(self.syn, room).get("from despatch " + tag))
        self.assertEqual(got, sent["event_id"], "Despatch's message did not reach Synapse")

    def check_despatch_joins_synapse_room(self, version):
        st, body = self.syn("POST", "/createRoom", {"preset": "public_chat", "room_version": version,
                                                    "name": "Synapse room v" + version})
        self.assertEqual(st, 200, body)
        room = body["room_id"]
        earlier = []
        for i in range(3):
            st, sent = self.syn("PUT", "/rooms/%s/send/m.room.message/e%d" % (q(room), i),
                                {"msgtype": "m.text", "body": "before the join %d" % i})
            self.assertEqual(st, 200, sent)
            earlier.append(sent["event_id"])
        st, body = self.d.client("POST", "/join/%s?via=%s" % (q(room), q(self.s.name)), {})
        self.assertEqual(st, 200, body)
        # History from before the join, fetched from Synapse with /backfill.
        before = self.messages(self.d.client, room)
        self.assertEqual([before.get("before the join %d" % i) for i in range(3)], earlier)
        st, state = self.d.client("GET", "/rooms/%s/state" % q(room))
        self.assertEqual(st, 200, state)
        create = [e for e in state if e["type"] == "m.room.create"]
        self.assertEqual(create[0]["content"].get("room_version"), version)
        self.assertTrue(wait_for(lambda: self.d.user_id in self.syn("GET", "/rooms/%s/joined_members" % q(room))[1]
                                 .get("joined", {})), "Synapse does not see Despatch's user joined")
        self.chat_both_ways(room, "v" + version + " in S")

    def check_synapse_joins_despatch_room(self, version):
        st, body = self.d.client("POST", "/createRoom", {"preset": "public_chat", "room_version": version,
                                                         "name": "Despatch room v" + version})
        self.assertEqual(st, 200, body)
        room = body["room_id"]
        st, body = self.syn("POST", "/join/%s?server_name=%s" % (q(room), q(self.d.name)), {})
        self.assertEqual(st, 200, body)
        st, members = self.d.client("GET", "/rooms/%s/joined_members" % q(room))
        self.assertEqual(st, 200, members)
        self.assertIn(self.s_user, members["joined"])
        st, name = self.syn("GET", "/rooms/%s/state/m.room.name/" % q(room))
        self.assertEqual((st, name.get("name")), (200, "Despatch room v" + version))
        self.chat_both_ways(room, "v" + version + " in D")

    def sync_rooms(self, http, section):
        st, sync = http("GET", "/sync?timeout=0")
        return sync.get("rooms", {}).get(section, {}) if st == 200 else {}

    def wait_in_sync(self, http, section, room, pred=lambda entry: True, timeout=30.0):
        """The room's entry under rooms.<section> once a /sync shows one that pred accepts.
        Incremental syncs from a first one: Synapse answers a repeated initial /sync from a
        cache for a while."""
        st, sync = http("GET", "/sync?timeout=0")
        self.assertEqual(st, 200, sync)
        deadline = time.time() + timeout
        while True:
            found = sync.get("rooms", {}).get(section, {}).get(room)
            if (found and pred(found)) or time.time() > deadline:
                return found if found and pred(found) else None
            st, sync = http("GET", "/sync?timeout=1000&since=" + q(sync["next_batch"]))
            self.assertEqual(st, 200, sync)

    def check_despatch_invites_synapse_user(self, version):
        st, body = self.d.client("POST", "/createRoom", {"preset": "private_chat", "room_version": version,
                                                         "name": "Invite from Despatch v" + version})
        self.assertEqual(st, 200, body)
        room = body["room_id"]
        st, body = self.d.client("POST", "/rooms/%s/invite" % q(room), {"user_id": self.s_user})
        self.assertEqual(st, 200, body)
        invite = self.wait_in_sync(self.syn, "invite", room)
        self.assertTrue(invite, "Synapse's user never saw the invite")
        names = [e["content"].get("name") for e in invite["invite_state"]["events"] if e["type"] == "m.room.name"]
        self.assertEqual(names, ["Invite from Despatch v" + version])
        st, body = self.syn("POST", "/rooms/%s/join" % q(room), {})
        self.assertEqual(st, 200, body)
        self.chat_both_ways(room, "invited v" + version + " in D")
        # And out again: a leave through the room's own server.
        st, body = self.syn("POST", "/rooms/%s/leave" % q(room), {})
        self.assertEqual(st, 200, body)
        self.assertTrue(wait_for(lambda: self.s_user not in self.d.client(
            "GET", "/rooms/%s/joined_members" % q(room))[1].get("joined", {})), "Despatch still has Synapse's user")

    def check_synapse_invites_despatch_user(self, version):
        st, body = self.syn("POST", "/createRoom", {"preset": "private_chat", "room_version": version,
                                                    "name": "Invite from Synapse v" + version})
        self.assertEqual(st, 200, body)
        room = body["room_id"]
        st, body = self.syn("POST", "/rooms/%s/invite" % q(room), {"user_id": self.d.user_id})
        self.assertEqual(st, 200, body)
        invite = self.wait_in_sync(self.d.client, "invite", room)
        self.assertTrue(invite, "Despatch's user never saw the invite")
        names = [e["content"].get("name") for e in invite["invite_state"]["events"] if e["type"] == "m.room.name"]
        self.assertEqual(names, ["Invite from Synapse v" + version])
        # No via: the invite says which server to join through.
        st, body = self.d.client("POST", "/join/%s" % q(room), {})
        self.assertEqual(st, 200, body)
        self.chat_both_ways(room, "invited v" + version + " in S")

    def test_despatch_invites_synapse_user_v11(self):
        self.check_despatch_invites_synapse_user("11")

    def test_synapse_invites_despatch_user_v11(self):
        self.check_synapse_invites_despatch_user("11")

    def test_despatch_invites_synapse_user_v10(self):
        self.check_despatch_invites_synapse_user("10")

    def test_synapse_invites_despatch_user_v10(self):
        self.check_synapse_invites_despatch_user("10")

    def test_synapse_user_rejects_an_invite(self):
        st, body = self.d.client("POST", "/createRoom", {"preset": "private_chat", "name": "To be refused"})
        self.assertEqual(st, 200, body)
        room = body["room_id"]
        st, body = self.d.client("POST", "/rooms/%s/invite" % q(room), {"user_id": self.s_user})
        self.assertEqual(st, 200, body)
        self.assertTrue(self.wait_in_sync(self.syn, "invite", room))
        st, body = self.syn("POST", "/rooms/%s/leave" % q(room), {})  # make_leave / send_leave to Despatch
        self.assertEqual(st, 200, body)
        st, member = self.d.client("GET", "/rooms/%s/state/m.room.member/%s" % (q(room), q(self.s_user)))
        self.assertEqual((st, member.get("membership")), (200, "leave"), member)

    def test_despatch_user_rejects_an_invite(self):
        st, body = self.syn("POST", "/createRoom", {"preset": "private_chat", "room_version": "11",
                                                    "name": "Refused by Despatch"})
        self.assertEqual(st, 200, body)
        room = body["room_id"]
        st, body = self.syn("POST", "/rooms/%s/invite" % q(room), {"user_id": self.d.user_id})
        self.assertEqual(st, 200, body)
        self.assertTrue(self.wait_in_sync(self.d.client, "invite", room))
        st, body = self.d.client("POST", "/rooms/%s/leave" % q(room), {})
        self.assertEqual(st, 200, body)
        st, member = self.syn("GET", "/rooms/%s/state/m.room.member/%s" % (q(room), q(self.d.user_id)))
        self.assertEqual((st, member.get("membership")), (200, "leave"), member)
        self.assertNotIn(room, self.sync_rooms(self.d.client, "invite"))

    def test_kick_and_ban_across(self):
        # Despatch's admin kicks, then bans, Synapse's user; Synapse's admin bans Despatch's user.
        st, body = self.d.client("POST", "/createRoom", {"preset": "public_chat", "name": "Moderated"})
        self.assertEqual(st, 200, body)
        room = body["room_id"]
        st, body = self.syn("POST", "/join/%s?server_name=%s" % (q(room), q(self.d.name)), {})
        self.assertEqual(st, 200, body)
        st, body = self.d.client("POST", "/rooms/%s/kick" % q(room), {"user_id": self.s_user, "reason": "off topic"})
        self.assertEqual(st, 200, body)
        left = self.wait_in_sync(self.syn, "leave", room)
        self.assertTrue(left, "Synapse's user never learnt of the kick")
        st, body = self.syn("POST", "/join/%s?server_name=%s" % (q(room), q(self.d.name)), {})
        self.assertEqual(st, 200, body)  # a kick is not a ban: the public room lets them back
        st, body = self.d.client("POST", "/rooms/%s/ban" % q(room), {"user_id": self.s_user})
        self.assertEqual(st, 200, body)
        def has_ban(entry):
            return any(e["type"] == "m.room.member" and e.get("state_key") == self.s_user
                       and e["content"].get("membership") == "ban" for e in entry["timeline"]["events"])
        self.assertTrue(self.wait_in_sync(self.syn, "leave", room, has_ban), "Synapse never saw the ban")
        st, body = self.syn("POST", "/join/%s?server_name=%s" % (q(room), q(self.d.name)), {})
        self.assertEqual(st, 403, body)
        # The other way: a Synapse room bans Despatch's user, who then cannot send.
        st, body = self.syn("POST", "/createRoom", {"preset": "public_chat", "room_version": "11"})
        self.assertEqual(st, 200, body)
        room2 = body["room_id"]
        st, body = self.d.client("POST", "/join/%s?via=%s" % (q(room2), q(self.s.name)), {})
        self.assertEqual(st, 200, body)
        st, body = self.syn("POST", "/rooms/%s/ban" % q(room2), {"user_id": self.d.user_id, "reason": "test"})
        self.assertEqual(st, 200, body)
        self.assertTrue(self.wait_in_sync(self.d.client, "leave", room2), "Despatch's user never learnt of the ban")
        st, body = self.d.client("PUT", "/rooms/%s/send/m.room.message/after-ban" % q(room2),
                                 {"msgtype": "m.text", "body": "still here?"})
        self.assertEqual(st, 403, body)

    def test_pictures_download_across_both_ways(self):
        png = make_png(64, 48, seed=11)
        # Synapse's upload, through Despatch's authenticated v1 route.
        st, up = self.s.http("POST", "/_matrix/media/v3/upload?filename=chart.png", body=png, token=self.s_token,
                             headers={"Content-Type": "image/png"})
        self.assertEqual(st, 200, up)
        server, media_id = up["content_uri"][len("mxc://"):].split("/")
        st, _, raw, headers = http_request(self.d.fx.host, self.d.fx.port, "GET",
                                           "/_matrix/client/v1/media/download/%s/%s" % (q(server), media_id),
                                           token=self.d.user_token, raw_response=True)
        self.assertEqual(st, 200, raw[:300])
        self.assertEqual(raw, png)
        self.assertEqual(headers.get("Content-Type", headers.get("content-type")), "image/png")
        # Despatch's upload, through Synapse's media route.
        png2 = make_png(40, 30, seed=12)
        st, up = http_request(self.d.fx.host, self.d.fx.port, "POST", "/_matrix/media/v3/upload?filename=map.png",
                              body=png2, token=self.d.user_token, headers={"Content-Type": "image/png"})
        self.assertEqual(st, 200, up)
        server, media_id = up["content_uri"][len("mxc://"):].split("/")
        st, _, raw, _ = self.s.http_raw("GET", "/_matrix/media/v3/download/%s/%s" % (q(server), media_id))
        self.assertEqual(st, 200, raw[:300])
        self.assertEqual(raw, png2)

    def test_despatch_joins_synapse_room_v11(self):
        self.check_despatch_joins_synapse_room("11")

    def test_synapse_joins_despatch_room_v11(self):
        self.check_synapse_joins_despatch_room("11")

    def test_despatch_joins_synapse_room_v10(self):
        self.check_despatch_joins_synapse_room("10")

    def test_synapse_joins_despatch_room_v10(self):
        self.check_synapse_joins_despatch_room("10")

    def test_despatch_joins_synapse_room_v3(self):
        self.check_despatch_joins_synapse_room("3")

    def test_synapse_joins_despatch_room_v3(self):
        self.check_synapse_joins_despatch_room("3")

    def test_despatch_joins_synapse_room_v6(self):
        self.check_despatch_joins_synapse_room("6")

    def test_synapse_joins_despatch_room_v6(self):
        self.check_synapse_joins_despatch_room("6")



@unittest.skipUnless(synapse_dir(), "the Synapse peer package is not on this machine")
class OlderSynapseTest(SynapsePairCase):
    """Synapse 1.80 knows room versions 1 to 10: an invite into a v11 room is refused with an
    error that says so, and a v10 room works both ways."""

    SYNAPSE = "1.80.0"

    def test_invite_into_a_v11_room_says_the_server_cannot_join_it(self):
        st, body = self.d.client("POST", "/createRoom", {"preset": "private_chat", "room_version": "11"})
        self.assertEqual(st, 200, body)
        room = body["room_id"]
        st, body = self.d.client("POST", "/rooms/%s/invite" % q(room), {"user_id": self.s_user})
        self.assertEqual(st, 400, body)
        self.assertEqual(body.get("errcode"), "M_INCOMPATIBLE_ROOM_VERSION", body)
        self.assertIn(self.s.name, body.get("error", ""))
        st, member = self.d.client("GET", "/rooms/%s/state/m.room.member/%s" % (q(room), q(self.s_user)))
        self.assertEqual(st, 404, "no invite entered the room")

    def test_v10_room_invite_join_and_chat(self):
        st, body = self.d.client("POST", "/createRoom", {"preset": "private_chat", "room_version": "10"})
        self.assertEqual(st, 200, body)
        room = body["room_id"]
        st, body = self.d.client("POST", "/rooms/%s/invite" % q(room), {"user_id": self.s_user})
        self.assertEqual(st, 200, body)
        joined = wait_for(lambda: self.s.http("POST", V3 + "/rooms/%s/join" % q(room), {}, token=self.s_token)[0] == 200)
        self.assertTrue(joined, "Synapse 1.80's user could not join the v10 room")
        st, sent = self.s.http("PUT", V3 + "/rooms/%s/send/m.room.message/old1" % q(room),
                               {"msgtype": "m.text", "body": "from synapse 1.80"}, token=self.s_token)
        self.assertEqual(st, 200, sent)
        def on_d():
            st, page = self.d.client("GET", "/rooms/%s/messages?dir=b&limit=20" % q(room))
            return st == 200 and any(e["event_id"] == sent["event_id"] for e in page["chunk"])
        self.assertTrue(wait_for(on_d), "Synapse 1.80's message did not reach Despatch")


if __name__ == "__main__":
    unittest.main()
