"""Records and federation, between two real Despatch servers on loopback (A and B, each with
its records keeper and its records office key):

- a message B's user sends into a room of A, and B's join, are archived on A with their origin
  (B) and the server that delivered them; A's own events carry no such mark; `records verify`
  still passes;
- on B, the state taken in at the join and the history fetched from before it (backfill) are
  archived too, the history as kind "history" with the server it came from;
- B's admin kicks A's keeper from B's room: A takes the kick (valid by the auth rules: both
  servers keep the same state), audits it as suspicious and brings the keeper back through a
  local member who may invite it; a ban that no local member may lift is taken and audited,
  and both servers agree the keeper is banned.

Run: cd tests/integration/py && /usr/bin/python3 -m unittest test_federation_records -v
"""

import time
import unittest
import uuid

from federation_helpers import PeerPair, User
from harness import q
from records_helpers import cli_export, read_bundle, records_cli

RECEIVED = "despatch.received"


def keeper_of(peer):
    return "@records:%s" % peer.name


class FederationRecordsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pair = PeerPair("despatch-fed-records-")
        cls.pair.start()
        cls.a, cls.b = cls.pair.a, cls.pair.b

    @classmethod
    def tearDownClass(cls):
        cls.pair.stop()

    # ---- helpers ------------------------------------------------------------------------

    def ok(self, user, method, path, body=None):
        st, resp = user.client(method, path, body)
        self.assertEqual(st, 200, "%s %s as %s: %r" % (method, path, user.user_id, resp))
        return resp

    def export(self, peer):
        """Every record of peer's archive, opened with its records office key."""
        out = peer.fx.tmp + "/export-" + uuid.uuid4().hex[:8]
        res = cli_export(peer.fx.data_dir, peer.fx.records_key_file, out, "FED-" + uuid.uuid4().hex[:6])
        self.assertEqual(res.returncode, 0, res.stderr)
        return read_bundle(out)

    def wait_record(self, peer, predicate, what, timeout=20):
        end = time.time() + timeout
        while True:
            found = [r for r in self.export(peer) if predicate(r)]
            if found:
                return found
            if time.time() > end:
                raise AssertionError("%s's archive never held %s" % (peer.label, what))
            time.sleep(0.5)

    def joined(self, user, room):
        return set(self.ok(user, "GET", "/rooms/%s/joined_members" % q(room))["joined"])

    def membership(self, user, room, target):
        st, body = user.client("GET", "/rooms/%s/state/m.room.member/%s" % (q(room), q(target)))
        return body.get("membership") if st == 200 else None

    def wait_for(self, predicate, what, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            got = predicate()
            if got:
                return got
            time.sleep(0.2)
        raise AssertionError("timed out waiting for " + what)

    def audit(self, peer, action):
        return [e for e in peer.audit()["entries"] if e["action"] == action]

    def say(self, user, room, body):
        return self.ok(user, "PUT", "/rooms/%s/send/m.room.message/%s" % (q(room), uuid.uuid4().hex),
                       {"msgtype": "m.text", "body": body})["event_id"]

    # ---- tests --------------------------------------------------------------------------

    def test_remote_message_and_join_archived_with_origin(self):
        au, bu = User(self.a), User(self.b)
        room = self.ok(au, "POST", "/createRoom", {"preset": "public_chat", "name": "records across"})["room_id"]
        self.assertIn(keeper_of(self.a), self.joined(au, room), "A's keeper records A's rooms")
        before = [self.say(au, room, "before the join %d" % i) for i in range(3)]
        self.ok(bu, "POST", "/join/%s?via=%s" % (q(room), q(self.a.name)), {})
        local = self.say(au, room, "from A " + uuid.uuid4().hex)
        text = "from B " + uuid.uuid4().hex
        remote = self.say(bu, room, text)

        # A: B's message, with its origin and the server that delivered it.
        rec = self.wait_record(self.a, lambda r: r["event_id"] == remote, "B's message")[0]
        self.assertEqual(rec["kind"], "event")
        self.assertEqual(rec["sender"], bu.user_id)
        self.assertEqual(rec["event"]["content"]["body"], text)
        meta = rec["event"][RECEIVED]
        self.assertEqual(meta["origin"], self.b.name)
        self.assertEqual(meta["from"], self.b.name)
        self.assertEqual(meta["how"], "federation")
        self.assertIsInstance(meta["received_ts"], int)
        records = {r["event_id"]: r for r in self.export(self.a)}
        # B's join came through send_join from B.
        join_ids = [e for e, r in records.items()
                    if r["type"] == "m.room.member" and r["event"].get("state_key") == bu.user_id]
        self.assertEqual(len(join_ids), 1, join_ids)
        self.assertEqual(records[join_ids[0]]["event"][RECEIVED]["origin"], self.b.name)
        # A's own events are unmarked.
        self.assertNotIn(RECEIVED, records[local]["event"])
        res = records_cli(self.a.fx.data_dir, "verify")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)

        # B: the state taken in at the join (origin A) and the history fetched after it.
        b_records = self.wait_record(self.b, lambda r: r["event_id"] == before[0] and r["kind"] == "history",
                                     "A's history from before the join")
        meta = b_records[0]["event"][RECEIVED]
        self.assertEqual((meta["origin"], meta["how"], meta["from"]), (self.a.name, "backfill", self.a.name))
        b_all = {r["event_id"]: r for r in self.export(self.b)}
        for e in before:
            self.assertEqual(b_all[e]["kind"], "history", e)
        self.assertLess(b_all[before[0]]["seq"], b_all[remote]["seq"] if remote in b_all else 1 << 62)
        creates = [r for r in b_all.values() if r["type"] == "m.room.create" and r["room_id"] == room]
        self.assertEqual(len(creates), 1)
        self.assertEqual(creates[0]["event"][RECEIVED]["how"], "join")
        self.assertEqual(creates[0]["event"][RECEIVED]["origin"], self.a.name)
        # B's own message is B's: unmarked on B.
        self.assertNotIn(RECEIVED, b_all[remote]["event"])
        res = records_cli(self.b.fx.data_dir, "verify")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)

    def keeper_in_room_of_b(self):
        """A room of B that A's user joined and brought A's keeper into (invited by A's user,
        at level 0: B's room lets anyone invite, but only level 50 ban)."""
        au, bu = User(self.a), User(self.b)
        room = self.ok(bu, "POST", "/createRoom", {"preset": "public_chat", "name": "B's room"})["room_id"]
        pl = self.ok(bu, "GET", "/rooms/%s/state/m.room.power_levels/" % q(room))
        pl["invite"] = 0
        self.ok(bu, "PUT", "/rooms/%s/state/m.room.power_levels/" % q(room), pl)
        self.ok(au, "POST", "/join/%s?via=%s" % (q(room), q(self.b.name)), {})
        keeper = keeper_of(self.a)
        self.ok(au, "POST", "/rooms/%s/invite" % q(room), {"user_id": keeper})
        self.wait_for(lambda: keeper in self.joined(bu, room), "B to see A's keeper join")
        return au, bu, room, keeper

    def test_remote_kick_of_the_keeper_is_taken_audited_and_undone(self):
        au, bu, room, keeper = self.keeper_in_room_of_b()
        self.ok(bu, "POST", "/rooms/%s/kick" % q(room), {"user_id": keeper, "reason": "no records here"})
        # A took the kick (it is in A's room, not rejected) and audited it as suspicious.
        entries = self.wait_for(lambda: [e for e in self.audit(self.a, "suspicious.keeper_removal_remote")
                                         if e["details"]["room_id"] == room],
                                "the suspicious-activity entry on A")
        self.assertEqual(len(entries), 1, entries)
        d = entries[0]["details"]
        self.assertEqual((d["attempt"], d["sender"], d["origin"], d["room_id"], d["keeper"]),
                         ("kick", bu.user_id, self.b.name, room, keeper))
        self.assertTrue(d["taken"])
        st, ev = au.client("GET", "/rooms/%s/event/%s" % (q(room), q(d["event_id"])))
        self.assertEqual(st, 200, ev)
        self.assertEqual(ev["content"]["membership"], "leave")
        # The keeper is back, invited by A's user, and both servers agree.
        self.wait_for(lambda: keeper in self.joined(bu, room), "B to see A's keeper rejoin")
        self.assertIn(keeper, self.joined(au, room))
        rejoined = [e for e in self.audit(self.a, "records.keeper_rejoined") if e["details"]["room_id"] == room]
        self.assertEqual(len(rejoined), 1, rejoined)
        self.assertEqual(rejoined[0]["details"]["invited_by"], au.user_id)
        self.assertEqual(self.joined(au, room), self.joined(bu, room))

    def test_remote_ban_no_local_member_may_lift_is_taken_and_audited(self):
        au, bu, room, keeper = self.keeper_in_room_of_b()
        self.ok(bu, "POST", "/rooms/%s/ban" % q(room), {"user_id": keeper})
        self.wait_for(lambda: self.membership(au, room, keeper) == "ban", "A to take the ban")
        self.assertEqual(self.membership(bu, room, keeper), "ban")
        self.wait_for(lambda: [e for e in self.audit(self.a, "suspicious.keeper_removal_remote")
                               if e["details"]["room_id"] == room and e["details"]["attempt"] == "ban"],
                      "the suspicious-activity entry on A")
        # A's user has no power to unban: the keeper stays out, and A says so.
        not_restored = self.wait_for(lambda: [e for e in self.audit(self.a, "records.keeper_not_restored")
                                              if e["details"]["room_id"] == room], "the not-restored entry")
        self.assertIn("ban", not_restored[0]["details"]["reason"])
        time.sleep(1)
        self.assertEqual(self.membership(au, room, keeper), "ban")
        self.assertEqual(self.joined(au, room), self.joined(bu, room))
        self.assertNotIn(keeper, self.joined(au, room))


if __name__ == "__main__":
    unittest.main()
