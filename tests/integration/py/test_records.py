"""The records archive, end to end against a real server: exports keep everything users sent
(edits, redactions, disappearing messages, erased accounts), retention with legal holds,
tamper evidence, crash safety, and the admin API's refusals.

Each test starts its own server (one starts in a fraction of a second), so retention and
kill -9 cannot disturb the others; the tamper tests share one stopped server's archive and
each tampers with its own copy.
"""

import base64
import http.client
import json
import os
import re
import signal
import threading
import time
import unittest
import uuid

from harness import http_request, q, run_cli
from records_helpers import (ADMIN, V3, RecordsServer, archive_event_ids, archive_hashes, archive_rows, audit_cli,
                             body_of, bundle_by_event_id, cli_export, copy_data_dir, db_connect,
                             dir_is_absent_or_empty, event_ids, flip_base64_char, flip_byte,
                             forge_archive,
                             read_bundle, records_cli, resign_bundle, swap_archive_rows,
                             sync_timeline, verify_export)

DAY_MS = 86_400_000
# Retention periods are configured in days; fractions give tests periods of seconds.
RETENTION_SECONDS = 3
RETENTION_DAYS = "%.10f" % (RETENTION_SECONDS / 86400)


def listing(path):
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def now_ms():
    return int(time.time() * 1000)


class RecordsTestCase(unittest.TestCase):
    config_toml = None

    def setUp(self):
        self.srv = RecordsServer(config_toml=self.config_toml)
        self.addCleanup(self.srv.teardown)
        self.srv.start()

    def export_cli(self, case_ref, **filters):
        """Exports with the server's own records key; returns the bundle's records."""
        out = self.srv.new_out_path()
        res = cli_export(self.srv.data_dir, self.srv.secret_key_file, out, case_ref, **filters)
        self.assertEqual(res.returncode, 0, "records export failed: %s %s" % (res.stdout, res.stderr))
        return out, read_bundle(out)

    def export_admin(self, case_ref, filt=None):
        """Exports through the admin API: the server's sealed export, opened on the records
        office's side (open-export); body["bundle"] is the bag's folder."""
        filt = dict(filt or {})
        text = filt.pop("text", None)
        body, records, bag = self.srv.export_sealed(case_ref, filt, text=text)
        self.assertFalse(os.path.exists(os.path.join(self.srv.data_dir, "exports")),
                         "the admin export left files on the server")
        body["bundle"] = bag
        body["records"] = len(records)
        return body, records

    def assertVerifyOK(self, what=""):
        res = records_cli(self.srv.data_dir, "verify")
        self.assertEqual(res.returncode, 0, "%s: records verify: %s %s" % (what, res.stdout, res.stderr))
        self.assertIn("archive OK", res.stdout, what)
        return res


# ---- 1. edits and redactions stay in the export ------------------------------------------

class ExportKeepsEverythingTests(RecordsTestCase):
    def test_sent_edited_and_redacted_messages_are_exported(self):
        alice = self.srv.register("alice")
        bob = self.srv.register("bob")
        room = alice.create_room(invite=[bob.user_id])
        bob.join(room)
        tag = uuid.uuid4().hex[:8]
        original = alice.say(room, "original wording %s" % tag)
        edit = alice.edit(room, original, "corrected wording %s" % tag)
        reply = bob.say(room, "bob replies %s" % tag)
        doomed_body = "regrettable remark %s" % tag
        doomed = alice.say(room, doomed_body)
        redaction = alice.redact(room, doomed, reason="withdrawn")

        # Users no longer see the redacted text.
        st, ev = bob.get_event(room, doomed)
        self.assertEqual(st, 200, ev)
        self.assertNotIn("body", ev.get("content", {}), "redacted event still served with its body")

        out, records = self.export_cli("FOI-%s" % tag)
        by_id = bundle_by_event_id(records)
        for eid, what in ((original, "original"), (edit, "edit"), (reply, "reply"),
                          (doomed, "redacted message"), (redaction, "redaction")):
            self.assertIn(eid, by_id, "%s %s missing from the export" % (what, eid))
            self.assertIsInstance(by_id[eid].get("event"), dict, "%s has no decrypted event" % what)
            self.assertEqual(by_id[eid]["event"].get("event_id", eid), eid)
            self.assertEqual(by_id[eid].get("room_id"), room)

        self.assertEqual(body_of(by_id[original]), "original wording %s" % tag)
        edit_content = by_id[edit]["event"]["content"]
        self.assertEqual(edit_content.get("m.new_content", {}).get("body"), "corrected wording %s" % tag)
        self.assertEqual(edit_content.get("m.relates_to"), {"rel_type": "m.replace", "event_id": original})
        self.assertEqual(body_of(by_id[reply]), "bob replies %s" % tag)
        self.assertEqual(by_id[reply].get("sender"), bob.user_id)
        # The redacted message's original body is kept in the archive.
        self.assertEqual(body_of(by_id[doomed]), doomed_body)
        red = by_id[redaction]["event"]
        self.assertEqual(red.get("type"), "m.room.redaction")
        self.assertEqual(red.get("redacts") or red.get("content", {}).get("redacts"), doomed)

        # The bag's other parts.
        for name in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt",
                     "sealed-export.json"):
            self.assertTrue(os.path.isfile(os.path.join(out, name)), "%s missing" % name)
        with open(os.path.join(out, "sealed-export.json")) as f:
            manifest = json.loads(json.load(f)["manifest"])
        self.assertEqual(manifest.get("case_ref"), "FOI-%s" % tag)
        tdir = os.path.join(out, "data", "transcripts")
        pages = [p for p in os.listdir(tdir) if p.endswith(".html")] if os.path.isdir(tdir) else []
        self.assertTrue(pages, "no HTML transcript in the bundle")
        html = ""
        for p in pages:
            with open(os.path.join(tdir, p), encoding="utf-8") as f:
                html += f.read()
        self.assertIn(doomed_body, html, "the transcript lacks the redacted message")
        self.assertIn("corrected wording %s" % tag, html, "the transcript lacks the edit")

        res = verify_export(out, self.srv.data_dir)
        self.assertEqual(res.returncode, 0, "verify-export of a fresh bundle: %s %s" % (res.stdout, res.stderr))

        # Re-signed by someone else: the signature checks out, but not as the server's.
        forged = self.srv.new_out_path("forged")
        res = cli_export(self.srv.data_dir, self.srv.secret_key_file, forged, "FORGED-%s" % tag)
        self.assertEqual(res.returncode, 0, res.stderr)
        resign_bundle(forged, change=lambda row: row.update(ts=row["ts"] + 1))
        res = verify_export(forged)
        self.assertEqual(res.returncode, 0, "the forged bundle is self-consistent: %s" % res.stdout)
        self.assertIn("signer was not checked", res.stdout)
        res = verify_export(forged, self.srv.data_dir)
        self.assertNotEqual(res.returncode, 0, "a bundle re-signed with another key passed: %s" % res.stdout)
        self.assertIn("not with this server's key", res.stdout)

        flip_byte(os.path.join(out, "data", "records.jsonl"))
        res = verify_export(out, self.srv.data_dir)
        self.assertNotEqual(res.returncode, 0, "verify-export passed a bundle with a flipped byte: %s"
                            % res.stdout)
        self.assertTrue((res.stdout + res.stderr).strip(), "verify-export failed silently")


class ExportFilterTests(RecordsTestCase):
    def test_filters_select_records(self):
        alice = self.srv.register("alice")
        bob = self.srv.register("bob")
        room1 = alice.create_room(invite=[bob.user_id])
        bob.join(room1)
        room2 = alice.create_room()
        tag = uuid.uuid4().hex[:8]
        a1 = alice.say(room1, "alice budget %s" % tag)
        b1 = bob.say(room1, "bob minutes %s" % tag)
        time.sleep(0.02)
        mid = now_ms()
        time.sleep(0.02)
        a2 = alice.say(room2, "alice budget again %s" % tag)
        b2 = bob.say(room1, "bob budget %s" % tag)

        _, recs = self.export_cli("F-USER", user=bob.user_id)
        msgs = {r["event_id"] for r in recs if r.get("type") == "m.room.message"}
        self.assertEqual(msgs, {b1, b2}, "--user selects the wrong messages")

        _, recs = self.export_cli("F-ROOM", room=room2)
        self.assertTrue(recs)
        self.assertEqual({r.get("room_id") for r in recs}, {room2}, "--room lets other rooms through")
        self.assertIn(a2, {r["event_id"] for r in recs})

        _, recs = self.export_cli("F-TEXT", text="budget")
        msgs = {r["event_id"] for r in recs if r.get("type") == "m.room.message"}
        self.assertEqual(msgs, {a1, a2, b2}, "--text selects the wrong messages")

        _, recs = self.export_cli("F-TIME", from_=mid)
        ids = {r["event_id"] for r in recs}
        self.assertTrue({a2, b2} <= ids and not ({a1, b1} & ids), "--from selects the wrong records")
        _, recs = self.export_cli("F-TIME2", to=mid)
        ids = {r["event_id"] for r in recs}
        self.assertTrue({a1, b1} <= ids and not ({a2, b2} & ids), "--to selects the wrong records")

        body, recs = self.export_admin("F-ADMIN", {"room": room1, "user": bob.user_id, "text": "budget"})
        msgs = {r["event_id"] for r in recs if r.get("type") == "m.room.message"}
        self.assertEqual(msgs, {b2}, "admin export filter selects the wrong messages")
        self.assertEqual(body.get("records"), len(recs), body)
        self.assertEqual(verify_export(body["bundle"], self.srv.data_dir).returncode, 0)


# ---- 2. disappearing messages -------------------------------------------------------------

class DisappearingMessagesTests(RecordsTestCase):
    def test_expired_message_hidden_from_users_but_archived(self):
        """A room whose messages disappear after one minute (the test waits it out)."""
        alice = self.srv.register("alice")
        bob = self.srv.register("bob")
        room = alice.create_room(invite=[bob.user_id], initial_state=[
            {"type": "m.room.retention", "state_key": "", "content": {"max_lifetime": 60_000}}])
        bob.join(room)
        control_room = alice.create_room()  # no retention: stays visible
        tag = uuid.uuid4().hex[:8]
        body = "this disappears %s" % tag
        sent_at = time.monotonic()
        eid = alice.say(room, body)
        keep = alice.say(control_room, "this stays %s" % tag)
        self.assertLess(time.monotonic() - sent_at, 30)
        st, ev = bob.get_event(room, eid)
        self.assertEqual((st, ev.get("content", {}).get("body")), (200, body),
                         "a fresh message should be visible before max_lifetime")
        self.assertIn(eid, event_ids(bob.messages(room).get("chunk", [])))
        time.sleep(max(0.0, sent_at + 61 - time.monotonic()))

        later = alice.say(room, "later message %s" % tag)
        for who in (alice, bob):
            with self.subTest(user=who.user_id):
                msgs = who.messages(room)
                self.assertIn(later, event_ids(msgs.get("chunk", [])), "/messages lost a fresh message")
                fwd = who.ok("GET", "/rooms/%s/messages?dir=f&limit=100" % q(room))
                self.assertNotIn(eid, event_ids(fwd.get("chunk", [])), "/messages?dir=f still has it")
                self.assertNotIn(eid, event_ids(msgs.get("chunk", [])), "/messages still has it")
                self.assertNotIn(body, json.dumps(msgs), "/messages still has the body")
                sync = who.initial_sync()
                self.assertIn(room, sync.get("rooms", {}).get("join", {}), "room missing from sync")
                self.assertNotIn(eid, event_ids(sync_timeline(sync, room)), "/sync still has it")
                self.assertNotIn(body, json.dumps(sync), "/sync still has the body")
                st, ctx = who.context(room, eid)
                self.assertEqual(st, 404, "/context of an expired message: %s %r" % (st, ctx))
                st, ctx = who.context(room, later)
                self.assertEqual(st, 200, ctx)
                around = ctx.get("events_before", []) + ctx.get("events_after", [])
                self.assertNotIn(eid, event_ids(around), "/context of a later message shows it")
                self.assertNotIn(body, json.dumps(ctx), "/context of a later message has its body")
                st, ev = who.get_event(room, eid)
                self.assertEqual(st, 404, "/event of an expired message: %s %r" % (st, ev))
                if isinstance(ev, dict):
                    self.assertEqual(ev.get("errcode"), "M_NOT_FOUND", ev)

        # The control room's message has not expired.
        st, ev = alice.get_event(control_room, keep)
        self.assertEqual(st, 200, ev)
        self.assertIn(keep, event_ids(alice.messages(control_room).get("chunk", [])))

        _, records = self.export_cli("FOI-%s" % tag)
        by_id = bundle_by_event_id(records)
        self.assertIn(eid, by_id, "the expired message is missing from the export")
        self.assertEqual(body_of(by_id[eid]), body)


# ---- 3. retention and legal holds ---------------------------------------------------------

class RetentionTests(RecordsTestCase):
    config_toml = "[records]\nretention_days = %s\nretention_check_seconds = 3600\n" % RETENTION_DAYS

    def audit_entries(self):
        st, body = self.srv.admin("GET", "/audit?limit=1000")
        self.assertEqual(st, 200, body)
        self.assertIsInstance(body.get("entries"), list, body)
        return body["entries"]

    def test_retention_respects_legal_holds_and_is_audited(self):
        alice = self.srv.register("alice")
        held_room = alice.create_room()
        free_room = alice.create_room()
        tag = uuid.uuid4().hex[:8]
        held_msgs = [alice.say(held_room, "held %d %s" % (i, tag)) for i in range(3)]
        free_msgs = [alice.say(free_room, "free %d %s" % (i, tag)) for i in range(3)]
        hold_case = "HOLD-%s" % tag

        st, body = self.srv.admin("POST", "/legal_holds", {"case_ref": hold_case, "room_id": held_room})
        self.assertEqual(st, 200, body)
        hold_id = body.get("hold_id")
        self.assertIsNotNone(hold_id, body)
        st, body = self.srv.admin("GET", "/legal_holds")
        self.assertEqual(st, 200, body)
        self.assertIn(hold_id, [h.get("hold_id") for h in body.get("holds", [])], body)

        # Not yet expired: a run now deletes nothing, and no one may run it ahead of time.
        st, body = self.srv.admin("POST", "/retention/run", {"case_ref": "RET-TEST"})
        self.assertEqual((st, body.get("deleted")), (200, 0), body)
        st, body = self.srv.admin("POST", "/retention/run", {"now_ts": now_ms() + 2 * DAY_MS})
        self.assertEqual((st, body.get("errcode")), (400, "M_INVALID_PARAM"), body)
        _, early = self.export_cli("FOI-EARLY2-%s" % tag)
        self.assertTrue(set(free_msgs) <= set(bundle_by_event_id(early)), "a record was deleted ahead of time")

        time.sleep(RETENTION_SECONDS + 0.5)
        st, body = self.srv.admin("POST", "/retention/run", {"case_ref": "RET-TEST"})
        self.assertEqual(st, 200, body)
        self.assertGreater(body.get("deleted", 0), 0, "retention deleted nothing: %r" % (body,))

        export_a = "FOI-A-%s" % tag
        _, records = self.export_admin(export_a)
        ids = set(bundle_by_event_id(records))
        for eid in held_msgs:
            self.assertIn(eid, ids, "a held record was deleted by retention")
        for eid in free_msgs:
            self.assertNotIn(eid, ids, "an expired, unheld record is still exported")
        self.assertFalse([r for r in records if r.get("room_id") == free_room],
                         "the unheld room still has records")

        # Tombstones keep the chain verifiable, also with new records after them.
        alice.say(held_room, "after retention %s" % tag)
        self.assertVerifyOK("after the first retention run")
        st, body = self.srv.admin("POST", "/records/verify", {})
        self.assertEqual((st, body.get("ok")), (200, True), body)

        st, body = self.srv.http("DELETE", ADMIN + "/legal_holds/%s" % hold_id, token=self.srv.admin_token)
        self.assertEqual(st, 200, body)
        st, body = self.srv.admin("GET", "/legal_holds")
        self.assertNotIn(hold_id, [h.get("hold_id") for h in body.get("holds", [])], body)

        st, body = self.srv.admin("POST", "/retention/run", {"case_ref": "RET-TEST"})
        self.assertEqual(st, 200, body)
        self.assertGreater(body.get("deleted", 0), 0, "nothing deleted after the hold was lifted")
        export_b = "FOI-B-%s" % tag
        _, records = self.export_cli(export_b)
        ids = set(bundle_by_event_id(records))
        for eid in held_msgs + free_msgs:
            self.assertNotIn(eid, ids, "record %s survived retention after the hold was lifted" % eid)
        self.assertVerifyOK("after the second retention run")

        # The audit log tells the story, with case references.
        entries = self.audit_entries()
        def find(pred):
            return [e for e in entries if pred(e)]
        placed = find(lambda e: "hold" in e.get("action", "") and
                      re.search(r"place|create|add", e.get("action", "")) and e.get("case_ref") == hold_case)
        lifted = find(lambda e: "hold" in e.get("action", "") and
                      re.search(r"lift|release|remove|delete", e.get("action", "")) and
                      e.get("case_ref") == hold_case)
        runs = find(lambda e: "retention" in e.get("action", ""))
        exports_a = find(lambda e: "export" in e.get("action", "") and e.get("case_ref") == export_a)
        exports_b = find(lambda e: "export" in e.get("action", "") and e.get("case_ref") == export_b)
        actions = [(e.get("action"), e.get("case_ref")) for e in entries]
        self.assertTrue(placed, "no audit entry for placing hold %s: %r" % (hold_case, actions))
        self.assertTrue(lifted, "no audit entry for lifting hold %s: %r" % (hold_case, actions))
        self.assertGreaterEqual(len(runs), 2, "retention runs not audited: %r" % (actions,))
        self.assertTrue(exports_a, "admin export %s not audited: %r" % (export_a, actions))
        self.assertTrue(exports_b, "CLI export %s not audited: %r" % (export_b, actions))
        self.assertEqual(placed[0].get("actor"), self.srv.admin_id, placed[0])

        res = audit_cli(self.srv.data_dir, "verify")
        self.assertEqual(res.returncode, 0, "audit verify: %s %s" % (res.stdout, res.stderr))


class RetentionRoomsTests(RecordsTestCase):
    config_toml = "[records]\nretention_days = 0\n"

    def test_per_room_period_overrides_keep_forever(self):
        alice = self.srv.register("alice")
        short_room = alice.create_room()
        other_room = alice.create_room()
        short_msg = alice.say(short_room, "short-lived")
        other_msg = alice.say(other_room, "kept for ever")
        time.sleep(RETENTION_SECONDS + 0.5)
        st, body = self.srv.admin("POST", "/retention/run", {"case_ref": "RET-TEST"})
        self.assertEqual((st, body.get("deleted")), (200, 0), "retention_days = 0 must keep everything")

        self.srv.stop()
        with open(self.srv.fx.config_path, "w") as f:
            f.write('[records]\nretention_days = 0\n\n[records.retention_rooms]\n"%s" = %s\n'
                    % (short_room, RETENTION_DAYS))
        self.srv.start()
        st, body = self.srv.admin("POST", "/retention/run", {"case_ref": "RET-TEST"})
        self.assertEqual(st, 200, body)
        self.assertGreater(body.get("deleted", 0), 0, body)
        with db_connect(self.srv.data_dir) as conn:
            live = {r[0] for r in conn.execute("SELECT event_id FROM archive WHERE kind<>'tombstone'")}
        self.assertNotIn(short_msg, live, "the room's own period was not applied")
        self.assertIn(other_msg, live, "another room's record was deleted")
        self.assertVerifyOK("after a per-room retention run")


# ---- 4. tamper evidence -------------------------------------------------------------------

class TamperTests(unittest.TestCase):
    """One server writes an archive and stops; each test tampers with its own copy."""

    @classmethod
    def setUpClass(cls):
        cls.srv = RecordsServer()
        cls.srv.start()
        try:
            alice = cls.srv.register("alice")
            room = alice.create_room()
            cls.msgs = [alice.say(room, "record %d" % i) for i in range(12)]
            st, body = cls.srv.admin("POST", "/legal_holds", {"case_ref": "TAMPER-1", "room_id": room})
            assert st == 200, body
            st, body = cls.srv.http("DELETE", ADMIN + "/legal_holds/%s" % body["hold_id"],
                                    token=cls.srv.admin_token)
            assert st == 200, body
            code = cls.srv.stop()
            assert code == 0, "server exit code %s" % code
        except Exception:
            cls.srv.teardown()
            raise
        rows = archive_rows(cls.srv.data_dir)
        cls.seq_of = {r["event_id"]: r["seq"] for r in rows}
        cls.last_seq = rows[-1]["seq"]
        # A record in the middle of the chain: one of the messages.
        cls.target = cls.seq_of[cls.msgs[5]]
        assert 1 < cls.target < cls.last_seq

    @classmethod
    def tearDownClass(cls):
        cls.srv.teardown()

    def copy(self):
        return copy_data_dir(self.srv.data_dir, self.srv.fx.tmp)

    def verify(self, data_dir):
        return records_cli(data_dir, "verify")

    def assertFailsAt(self, res, seqs, words):
        self.assertEqual(res.returncode, 1, "verify passed a tampered archive: %s %s" % (res.stdout, res.stderr))
        m = re.search(r"archive FAILED verification at record (\d+): (.*)", res.stdout)
        self.assertIsNotNone(m, "unexpected output: %r %r" % (res.stdout, res.stderr))
        self.assertIn(int(m.group(1)), seqs, "names the wrong record: %s" % res.stdout)
        problem = m.group(2)
        self.assertTrue(any(w in problem for w in words), "problem %r mentions none of %s" % (problem, words))
        self.assertTrue(any(re.search(r"record %d\b" % s, problem) for s in seqs),
                        "problem %r does not name record %s" % (problem, seqs))
        return problem

    def test_content_rehashed_without_its_chain_hash_is_detected(self):
        # Someone who edits a record and redoes its content hash, but not the chain hash that
        # also covers its predecessor: the record's own hash check must catch it.
        d = self.copy()
        with db_connect(d) as conn:
            row = dict(conn.execute("SELECT * FROM archive WHERE seq=?", (self.target,)).fetchone())
            row["sealed"] = flip_base64_char(row["sealed"])
            content, _ = archive_hashes(row, row["prev_hash"])
            conn.execute("UPDATE archive SET sealed=?, content_hash=? WHERE seq=?", (row["sealed"], content, self.target))
            conn.commit()
        self.assertFailsAt(self.verify(d), {self.target}, ("hash", "changed", "altered"))

    def test_untouched_archive_passes(self):
        d = self.copy()
        res = self.verify(d)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        m = re.search(r"archive OK\D*(\d+) records", res.stdout)
        self.assertIsNotNone(m, res.stdout)
        self.assertEqual(int(m.group(1)), self.last_seq, res.stdout)
        res = audit_cli(d, "verify")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)

    def test_flipped_byte_in_sealed_is_changed(self):
        d = self.copy()
        with db_connect(d) as conn:
            sealed = conn.execute("SELECT sealed FROM archive WHERE seq=?", (self.target,)).fetchone()[0]
            conn.execute("UPDATE archive SET sealed=? WHERE seq=?", (flip_base64_char(sealed), self.target))
        self.assertFailsAt(self.verify(d), [self.target], ["changed"])

    def test_deleted_record_is_removed(self):
        d = self.copy()
        with db_connect(d) as conn:
            conn.execute("DELETE FROM archive WHERE seq=?", (self.target,))
        self.assertFailsAt(self.verify(d), [self.target], ["removed"])

    def test_deleted_newest_record_is_removed(self):
        # Truncating the chain leaves no gap; the signed checkpoint written at shutdown
        # still names the newest record.
        d = self.copy()
        with db_connect(d) as conn:
            conn.execute("DELETE FROM archive WHERE seq=?", (self.last_seq,))
        self.assertFailsAt(self.verify(d), [self.last_seq], ["removed"])

    def test_swapped_records_are_detected(self):
        d = self.copy()
        swap_archive_rows(d, self.target, self.target + 1)
        self.assertFailsAt(self.verify(d), [self.target, self.target + 1], ["reordered", "changed"])

    def test_inserted_record_with_valid_hashes_is_named(self):
        d = self.copy()

        def forge(row):
            row["event_id"] = "$forged" + uuid.uuid4().hex
            row["sender"] = "@someone-else:localhost"
        forge_archive(d, self.target, forge, insert=True)
        self.assertFailsAt(self.verify(d), [self.target], ["inserted"])

    def test_changed_record_with_the_chain_recomputed_fails_at_the_checkpoint(self):
        d = self.copy()

        def forge(row):
            row["sender"] = "@someone-else:localhost"
        forge_archive(d, self.target, forge, rehash_rest=True)
        res = self.verify(d)
        self.assertEqual(res.returncode, 1, "a recomputed chain passed: %s" % res.stdout)
        m = re.search(r"signed checkpoint: a record from (\d+) to (\d+) was changed", res.stdout)
        self.assertIsNotNone(m, res.stdout)
        self.assertLessEqual(int(m.group(1)), self.target)
        self.assertGreaterEqual(int(m.group(2)), self.target)

    def test_hand_made_tombstone_is_detected(self):
        d = self.copy()
        with db_connect(d) as conn:
            conn.execute("UPDATE archive SET kind='tombstone', sealed=NULL WHERE seq=?", (self.target,))
        res = self.verify(d)
        self.assertEqual(res.returncode, 1, "verify accepted an unaudited tombstone: %s" % res.stdout)
        m = re.search(r"archive FAILED verification at record (\d+)", res.stdout)
        self.assertIsNotNone(m, res.stdout + res.stderr)
        self.assertEqual(int(m.group(1)), self.target, res.stdout)

    def test_changed_audit_row_is_detected(self):
        d = self.copy()
        with db_connect(d) as conn:
            seq = conn.execute("SELECT seq FROM audit_log WHERE case_ref='TAMPER-1' ORDER BY seq LIMIT 1").fetchone()
            self.assertIsNotNone(seq, "the hold placement was not audited")
            conn.execute("UPDATE audit_log SET case_ref='TAMPER-2' WHERE seq=?", (seq[0],))
        res = audit_cli(d, "verify")
        self.assertNotEqual(res.returncode, 0, "audit verify passed a changed row: %s" % res.stdout)
        self.assertIn("FAILED", res.stdout + res.stderr)
        self.assertIn(str(seq[0]), res.stdout + res.stderr, "the changed entry is not named")


# ---- 5. kill -9 under load ----------------------------------------------------------------

class CrashTests(RecordsTestCase):
    SENDERS = 3
    LOAD_SECONDS = 2.0

    def test_kill_during_sends_loses_no_acknowledged_record(self):
        clients = [self.srv.register("sender") for _ in range(self.SENDERS)]
        room = clients[0].create_room(preset="public_chat")
        for c in clients[1:]:
            c.join(room)
        acked = []
        lock = threading.Lock()
        stop = threading.Event()
        host, port = self.srv.fx.host, self.srv.fx.port

        def send_loop(client, n):
            i = 0
            while not stop.is_set():
                i += 1
                path = V3 + "/rooms/%s/send/m.room.message/c%dt%d-%s" % (q(room), n, i, uuid.uuid4().hex[:6])
                try:
                    st, body = http_request(host, port, "PUT", path,
                                            {"msgtype": "m.text", "body": "load %d/%d" % (n, i)},
                                            token=client.token, timeout=5)
                except (OSError, http.client.HTTPException):
                    return  # the server is gone
                if st == 200 and isinstance(body, dict) and body.get("event_id"):
                    with lock:
                        acked.append(body["event_id"])

        threads = [threading.Thread(target=send_loop, args=(c, n), daemon=True)
                   for n, c in enumerate(clients)]
        for t in threads:
            t.start()
        time.sleep(self.LOAD_SECONDS)
        self.srv.stop(sig=signal.SIGKILL)  # while the senders are still sending
        stop.set()
        for t in threads:
            t.join(10)
        with lock:
            acked = list(acked)
        self.assertGreater(len(acked), 20, "too few sends acknowledged to test anything")

        self.srv.start()
        self.assertVerifyOK("after kill -9")
        in_archive = archive_event_ids(self.srv.data_dir)
        missing = [e for e in acked if e not in in_archive]
        self.assertEqual(missing, [], "%d of %d acknowledged events are not in the archive"
                         % (len(missing), len(acked)))
        _, records = self.export_cli("CRASH-1", room=room)
        exported = set(bundle_by_event_id(records))
        missing = [e for e in acked if e not in exported]
        self.assertEqual(missing, [], "%d of %d acknowledged events are not in the export"
                         % (len(missing), len(acked)))
        # The server keeps archiving after the crash.
        after = clients[0].say(room, "after the crash")
        self.assertIn(after, archive_event_ids(self.srv.data_dir))
        self.assertVerifyOK("after sending past the crash")


# ---- 6. bad input -------------------------------------------------------------------------

class BadInputTests(RecordsTestCase):
    def setUp(self):
        super().setUp()
        self.alice = self.srv.register("alice")
        self.room = self.alice.create_room()
        self.alice.say(self.room, "something to export")
        self.exports_dir = os.path.join(self.srv.data_dir, "exports")

    def exports_listing(self):
        if not os.path.isdir(self.exports_dir):
            return []
        return sorted(os.listdir(self.exports_dir))

    def assertErr(self, resp, status, errcode, what):
        st, body = resp
        with self.subTest(what):
            self.assertIsInstance(body, dict, "%s: not JSON (status %s): %r" % (what, st, body))
            self.assertEqual((st, body.get("errcode")), (status, errcode), "%s: %s %r" % (what, st, body))
            self.assertIsInstance(body.get("error"), str, "%s: no error message: %r" % (what, body))

    def test_cli_export_with_wrong_key_fails_and_writes_nothing(self):
        keydir = self.srv.tmpdir("otherkey-")
        res = run_cli("records", "keygen", "--out", keydir)
        self.assertEqual(res.returncode, 0, res.stderr)
        wrong = os.path.join(keydir, "records_office.key")
        self.assertTrue(os.path.isfile(wrong), os.listdir(keydir))

        out = self.srv.new_out_path("wrongkey")
        res = cli_export(self.srv.data_dir, wrong, out, "FOI-WRONG")
        self.assertNotEqual(res.returncode, 0, "export with the wrong key succeeded: %s" % res.stdout)
        self.assertRegex(res.stderr.lower(), r"key", "no clear message: %r %r" % (res.stdout, res.stderr))
        self.assertTrue(dir_is_absent_or_empty(out), "files written: %s" % (listing(out),))

        # An existing empty folder stays empty.
        out2 = self.srv.tmpdir("wrongkey-empty-")
        res = cli_export(self.srv.data_dir, wrong, out2, "FOI-WRONG")
        self.assertNotEqual(res.returncode, 0)
        self.assertTrue(dir_is_absent_or_empty(out2), "files written: %s" % (listing(out2),))

        # The right key still works, so the failure above was the key's.
        self.export_cli("FOI-RIGHT")

    def test_admin_export_refuses_the_key_and_bad_filters(self):
        before = self.exports_listing()
        # The records office's key never goes to the server: the old routes refuse it.
        for bad in (self.srv.secret_key_b64(), "not base64 at all!", ""):
            for path in ("/records/export", "/records/search"):
                self.assertErr(self.srv.admin("POST", path, {"case_ref": "FOI-BAD", "records_key": bad}),
                               403, "M_FORBIDDEN", "%s records_key %r" % (path, bad))
        for filt, what in (({"user": "alice"}, "user not a user ID"),
                           ({"from_ts": "yesterday"}, "from_ts a string"),
                           ({"colour": "red"}, "unknown filter field"),
                           ({"room": "not-a-room"}, "room not a room ID"),
                           ({"to_ts": -5}, "negative to_ts"),
                           ({"text": "budget"}, "text needs the content")):
            st, body = self.srv.admin("POST", "/records/sealed_export", {"case_ref": "FOI-BAD", "filter": filt})
            with self.subTest(what):
                self.assertEqual(st, 400, "%s: %s %r" % (what, st, body))
                self.assertIsInstance(body, dict, what)
                self.assertRegex(body.get("errcode") or "", r"^M_[A-Z_]+$", "%s: %r" % (what, body))
        self.assertEqual(self.exports_listing(), before, "a refused export wrote files")

    def test_non_admin_and_missing_token_are_refused(self):
        bob = self.srv.register("bob")
        calls = [("GET", "/audit", None),
                 ("GET", "/legal_holds", None),
                 ("POST", "/legal_holds", {"case_ref": "X-1", "room_id": self.room}),
                 ("DELETE", "/legal_holds/1", None),
                 ("POST", "/retention/run", {"case_ref": "RET-TEST"}),
                 ("POST", "/records/verify", {}),
                 ("POST", "/records/sealed_export", {"case_ref": "X-1"}),
                 ("POST", "/users/%s/deactivate" % q(self.alice.user_id), {"case_ref": "X-1", "erase": True})]
        before = self.exports_listing()
        for method, path, body in calls:
            self.assertErr(self.srv.http(method, ADMIN + path, body, token=bob.token),
                           403, "M_FORBIDDEN", "non-admin %s %s" % (method, path))
            self.assertErr(self.srv.http(method, ADMIN + path, body),
                           401, "M_MISSING_TOKEN", "no token %s %s" % (method, path))
        # Nothing happened.
        st, holds = self.srv.admin("GET", "/legal_holds")
        self.assertEqual((st, holds.get("holds")), (200, []), holds)
        self.assertEqual(self.exports_listing(), before)
        self.alice.ok("GET", "/account/whoami")  # not deactivated
        _, records = self.export_cli("FOI-CHECK")
        self.assertIn("something to export", [body_of(r) for r in records], "retention ran for a non-admin")

    def test_legal_hold_without_case_ref(self):
        self.assertErr(self.srv.admin("POST", "/legal_holds", {"room_id": self.room}),
                       400, "M_MISSING_PARAM", "hold without case_ref")
        st, holds = self.srv.admin("GET", "/legal_holds")
        self.assertEqual((st, holds.get("holds")), (200, []), holds)


# ---- 7. erasure ---------------------------------------------------------------------------

class ErasureTests(RecordsTestCase):
    def test_erased_users_messages_are_redacted_for_users_not_in_export(self):
        alice = self.srv.register("alice")
        bob = self.srv.register("bob")
        room = alice.create_room(invite=[bob.user_id])
        bob.join(room)
        tag = uuid.uuid4().hex[:8]
        bodies = ["bob says one %s" % tag, "bob says two %s" % tag]
        bob_msgs = [bob.say(room, b) for b in bodies]
        alice_msg = alice.say(room, "alice answers %s" % tag)
        seen = {e["event_id"]: e for e in alice.messages(room)["chunk"]}
        self.assertEqual(seen[bob_msgs[0]]["content"].get("body"), bodies[0])

        st, body = self.srv.admin("POST", "/users/%s/deactivate" % q(bob.user_id),
                                  {"case_ref": "SAR-%s" % tag, "erase": True})
        self.assertEqual(st, 200, body)

        chunk = alice.messages(room)["chunk"]
        seen = {e["event_id"]: e for e in chunk}
        for eid, b in zip(bob_msgs, bodies):
            self.assertIn(eid, seen, "the erased user's event vanished from /messages")
            self.assertNotIn("body", seen[eid].get("content", {}), "erased user's body still served")
        self.assertNotIn(bodies[0], json.dumps(chunk))
        self.assertNotIn(bodies[1], json.dumps(chunk))
        self.assertEqual(seen[alice_msg]["content"].get("body"), "alice answers %s" % tag)
        st, ev = alice.get_event(room, bob_msgs[0])
        self.assertEqual(st, 200, ev)
        self.assertNotIn("body", ev.get("content", {}), "/event still serves the erased body")
        sync = alice.initial_sync()
        self.assertNotIn(bodies[0], json.dumps(sync), "/sync still serves the erased body")
        self.assertNotIn(bodies[1], json.dumps(sync), "/sync still serves the erased body")

        _, records = self.export_cli("SAR-%s" % tag, user=bob.user_id)
        by_id = bundle_by_event_id(records)
        for eid, b in zip(bob_msgs, bodies):
            self.assertIn(eid, by_id, "erased user's message missing from the export")
            self.assertEqual(body_of(by_id[eid]), b)


if __name__ == "__main__":
    unittest.main()
