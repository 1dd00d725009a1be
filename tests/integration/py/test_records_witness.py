"""Records that hold against the people who run the server (issue: witnessed checkpoints).

One server writes an archive (messages, a retention run that tombstones the oldest, a run
that deletes nothing) while the records office pulls a witness file twice; then it stops and
each test tampers with its own copy of the data folder the way someone with root would, and
checks that `despatch records verify` (with and without --witness) and `despatch audit
verify` catch it and name what was changed. One test states the limit: a rewrite re-chained
and re-signed with the server's own key passes without a witness.
"""

import base64
import json
import os
import re
import shutil
import time
import unittest

from harness import run_cli
from records_forgery import (append_audit, rechain_archive, rechain_audit, rechain_keys,
                             resign_everything)
from records_helpers import (ADMIN, RecordsServer, archive_rows, audit_cli, copy_data_dir,
                             db_connect, records_cli)


def pull(server_url, token_file, out):
    return run_cli("records", "witness", "pull", "--server", server_url, "--token-file", token_file,
                   "--out", out, timeout=60)


class WitnessedArchiveTests(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        # Records older than about 2.6 s reach the end of their period.
        cls.srv = RecordsServer(config_toml="[records]\nretention_days = 0.00003\n")
        cls.srv.start()
        try:
            alice = cls.srv.register("alice")
            room = alice.create_room()
            cls.old = [alice.say(room, "old %d" % i) for i in range(4)]
            time.sleep(3.0)
            st, body = cls.srv.admin("POST", "/retention/run", {"case_ref": "RET-1"})
            assert st == 200 and body["deleted"] >= 4, body
            st, body = cls.srv.admin("POST", "/retention/run", {"case_ref": "RET-2"})
            assert st == 200, body
            cls.msgs = [alice.say(room, "record %d" % i) for i in range(8)]
            cls.token_file = os.path.join(cls.srv.fx.tmp, "admin.token")
            with open(cls.token_file, "w") as f:
                f.write(cls.srv.admin_token + "\n")
            cls.witness = os.path.join(cls.srv.fx.tmp, "witness.jsonl")
            cls.first_pull = pull(cls.srv.fx.base_url, cls.token_file, cls.witness)
            cls.first_size = os.path.getsize(cls.witness) if os.path.exists(cls.witness) else 0
            cls.msgs += [alice.say(room, "later %d" % i) for i in range(3)]
            # The heads are signed every second while records arrive.
            time.sleep(1.5)
            st, cls.page = cls.srv.http("GET", ADMIN + "/records/witness?limit=5", token=cls.srv.admin_token)
            assert st == 200, cls.page
            cls.second_pull = pull(cls.srv.fx.base_url, cls.token_file, cls.witness)
            code = cls.srv.stop()
            assert code == 0, "server exit code %s" % code
        except Exception:
            cls.srv.teardown()
            raise
        rows = archive_rows(cls.srv.data_dir)
        cls.seq_of = {r["event_id"]: r["seq"] for r in rows if r["kind"] != "room_key"}
        cls.last_seq = rows[-1]["seq"]
        cls.target = cls.seq_of[cls.msgs[3]]
        cls.tombstone = next(r["seq"] for r in rows if r["kind"] == "tombstone")

    @classmethod
    def tearDownClass(cls):
        cls.srv.teardown()

    def copy(self):
        return copy_data_dir(self.srv.data_dir, self.srv.fx.tmp)

    def copy_witness(self):
        path = os.path.join(self.srv.fx.tmp, "witness-%d.jsonl" % time.monotonic_ns())
        shutil.copy(self.witness, path)
        return path

    def verify(self, d, *extra):
        return records_cli(d, "verify", *extra)

    def assertFails(self, res, *words):
        out = res.stdout + res.stderr
        self.assertEqual(res.returncode, 1, "verify passed a tampered archive: %s" % out)
        self.assertIn("FAILED", out)
        for w in words:
            self.assertRegex(out, w)
        return out

    # ---- the running server ----------------------------------------------------------

    def test_pulls_append_and_the_heads_are_signed_every_second(self):
        self.assertEqual(self.first_pull.returncode, 0, self.first_pull.stdout + self.first_pull.stderr)
        self.assertEqual(self.second_pull.returncode, 0, self.second_pull.stdout + self.second_pull.stderr)
        head = self.page["head"]
        later = max(self.seq_of[e] for e in self.msgs[-3:])
        self.assertGreaterEqual(head["archive_seq"], later, "the last messages were not signed within 1.5 s")
        self.assertLessEqual(len(self.page["archive"]), 5, "limit bounds the page")
        with open(self.witness, "rb") as f:
            data = f.read()
        self.assertGreater(len(data), self.first_size, "the second pull appended")
        lines = [json.loads(line) for line in data.decode().splitlines()]
        self.assertEqual(lines[0]["type"], "server")
        heads = [line for line in lines if line["type"] == "head"]
        self.assertEqual(len(heads), 2, "one signed head per pull")
        self.assertGreater(heads[1]["archive_seq"], heads[0]["archive_seq"])
        m = re.search(r"witnessed \S+: record (\d+)", self.second_pull.stdout)
        self.assertIsNotNone(m, self.second_pull.stdout)

    def test_retention_runs_are_audited_with_their_case_even_when_nothing_goes(self):
        with db_connect(self.srv.data_dir) as conn:
            runs = [dict(r) for r in conn.execute(
                "SELECT case_ref, details FROM audit_log WHERE action='records.retention' ORDER BY seq")]
        self.assertEqual([r["case_ref"] for r in runs], ["RET-1", "RET-2"])
        self.assertGreaterEqual(json.loads(runs[0]["details"])["deleted"], 4)
        self.assertEqual(json.loads(runs[1]["details"])["deleted"], 0)

    def test_retention_run_needs_a_case_reference(self):
        # The class's server is stopped: ask a fresh one.
        srv = RecordsServer()
        srv.start()
        try:
            st, body = srv.admin("POST", "/retention/run", {})
            self.assertEqual(st, 400, body)
            self.assertEqual(body.get("errcode"), "M_MISSING_PARAM", body)
        finally:
            srv.teardown()

    # ---- what verify catches on its own ---------------------------------------------

    def test_untouched_archive_passes_with_its_witness(self):
        d = self.copy()
        res = self.verify(d, "--witness", self.witness)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertIn("archive OK", res.stdout)
        self.assertRegex(res.stdout, r"witness .* agrees: \d+ records")
        res = audit_cli(d, "verify")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertRegex(res.stdout, r"audit log OK: \d+ entries, [1-9]\d* signed checkpoints")

    def test_deleting_the_last_records_with_the_last_checkpoint(self):
        d = self.copy()
        cut = self.last_seq - 2
        with db_connect(d) as conn:
            conn.execute("DELETE FROM archive WHERE seq>=?", (cut,))
            conn.execute("DELETE FROM records_checkpoints WHERE archive_seq>=?", (cut,))
        out = self.assertFails(self.verify(d), r"has no record", r"ends at record %d\b" % (cut - 1))

    def test_forged_records_appended_after_the_last_checkpoint(self):
        d = self.copy()
        with db_connect(d) as conn:
            row = dict(conn.execute("SELECT * FROM archive WHERE seq=?", (self.last_seq,)).fetchone())
            row["seq"] = self.last_seq + 1
            row["event_id"] = "$forged-event"
            cols = list(row.keys())
            conn.execute("INSERT INTO archive(%s) VALUES(%s)" % (", ".join(cols), ", ".join("?" * len(cols))),
                         tuple(row[c] for c in cols))
            rechain_archive(conn, self.last_seq + 1)
            conn.commit()
        self.assertFails(self.verify(d), r"record %d was added after the newest signed checkpoint" % (self.last_seq + 1),
                         "forged")

    def test_emptying_the_archive_its_checkpoints_and_data_keys(self):
        d = self.copy()
        with db_connect(d) as conn:
            for table in ("archive", "records_checkpoints", "archive_keys"):
                conn.execute("DELETE FROM %s" % table)
        self.assertFails(self.verify(d), r"has no record", r"ends at record 0\b")

    def test_deleting_a_data_key(self):
        d = self.copy()
        with db_connect(d) as conn:
            conn.execute("DELETE FROM archive_keys WHERE id=(SELECT MAX(id) FROM archive_keys)")
        self.assertFails(self.verify(d), r"data key \d+\b.*removed")

    def test_swapping_a_sealed_data_key(self):
        d = self.copy()
        fake = base64.b64encode(os.urandom(80)).decode()
        with db_connect(d) as conn:
            conn.execute("UPDATE archive_keys SET sealed_key=? WHERE id=1", (fake,))
        self.assertFails(self.verify(d), r"data key 1 was changed or swapped")
        # Recomputing the keys' chain does not help: the checkpoints signed its head.
        with db_connect(d) as conn:
            rechain_keys(conn)
            conn.commit()
        self.assertFails(self.verify(d), r"data keys 1 to \d+ differ from the signed checkpoint")

    def test_tombstone_covered_by_a_forged_rechained_audit_entry(self):
        d = self.copy()
        with db_connect(d) as conn:
            conn.execute("UPDATE archive SET kind='tombstone', sealed=NULL WHERE seq=?", (self.target,))
            # Slip a retention entry naming it in before the real runs, and recompute the
            # chain from there: the log holds together but no longer matches what was signed.
            at = conn.execute("SELECT seq, ts FROM audit_log WHERE case_ref='RET-1'").fetchone()
            for (s,) in conn.execute("SELECT seq FROM audit_log WHERE seq>=? ORDER BY seq DESC", (at[0],)).fetchall():
                conn.execute("UPDATE audit_log SET seq=? WHERE seq=?", (s + 1, s))
            details = json.dumps({"deleted": 1, "ranges": [[self.target, self.target]]}, separators=(",", ":"))
            conn.execute("INSERT INTO audit_log(seq, ts, actor, action, case_ref, details, prev_hash, hash) "
                         "VALUES(?, ?, 'server', 'records.retention', 'RET-X', ?, '', '')", (at[0], at[1], details))
            rechain_audit(conn, at[0])
            conn.commit()
        res = audit_cli(d, "verify")
        self.assertEqual(res.returncode, 1, res.stdout)
        self.assertRegex(res.stdout, r"differs from the signed checkpoint")
        # Every tombstone now rests on an entry no matching signature covers.
        out = self.assertFails(self.verify(d), r"was deleted outside retention: audit entry \d+ that names it "
                                               r"is not covered by a signed checkpoint that still matches")
        self.assertIn("audit log:", out)

    def test_tombstone_covered_by_an_appended_audit_entry(self):
        d = self.copy()
        with db_connect(d) as conn:
            conn.execute("UPDATE archive SET kind='tombstone', sealed=NULL WHERE seq=?", (self.target,))
            append_audit(conn, "server", "records.retention", "RET-X",
                         {"deleted": 1, "ranges": [[self.target, self.target]]}, int(time.time() * 1000))
            conn.commit()
        self.assertFails(self.verify(d), r"record %d was deleted outside retention: audit entry \d+ that names it "
                                         r"is not covered by a signed checkpoint" % self.target)

    def test_changing_a_tombstones_clear_columns(self):
        d = self.copy()
        with db_connect(d) as conn:
            conn.execute("UPDATE archive SET sender='@someone-else:localhost' WHERE seq=?", (self.tombstone,))
        self.assertFails(self.verify(d), r"record %d was changed" % self.tombstone)

    def test_downgrading_a_record_to_the_old_format(self):
        d = self.copy()
        with db_connect(d) as conn:
            conn.execute("UPDATE archive SET format=1 WHERE seq=?", (self.tombstone,))
        self.assertFails(self.verify(d), r"record %d claims format 1" % self.tombstone)

    def test_audit_log_rechained_edit_and_removed_last_entry(self):
        d = self.copy()
        with db_connect(d) as conn:
            conn.execute("UPDATE audit_log SET case_ref='RET-CHANGED' WHERE case_ref='RET-1'")
            rechain_audit(conn)
            conn.commit()
        res = audit_cli(d, "verify")
        self.assertEqual(res.returncode, 1, res.stdout)
        self.assertRegex(res.stdout, r"audit log FAILED verification at entry \d+: .*differs from the signed checkpoint")
        d = self.copy()
        with db_connect(d) as conn:
            last = conn.execute("SELECT MAX(seq) FROM audit_log").fetchone()[0]
            conn.execute("DELETE FROM audit_log WHERE seq=?", (last,))
        res = audit_cli(d, "verify")
        self.assertEqual(res.returncode, 1, res.stdout)
        self.assertRegex(res.stdout, r"audit entry %d was removed: a signed checkpoint covers entry %d" % (last, last))

    # ---- what only a witness catches --------------------------------------------------

    def rewrite_and_resign(self):
        d = self.copy()
        with db_connect(d) as conn:
            conn.execute("UPDATE archive SET sender='@someone-else:localhost' WHERE seq=?", (self.target,))
            rechain_archive(conn, self.target)
            conn.commit()
        resign_everything(d)
        return d

    def test_rewrite_resigned_with_the_servers_key_needs_a_witness(self):
        d = self.rewrite_and_resign()
        # The limit, stated: the archive's own checks cannot tell, the key signs anything.
        res = self.verify(d)
        self.assertEqual(res.returncode, 0, "expected the re-signed rewrite to pass without a witness: %s"
                         % (res.stdout + res.stderr))
        self.assertIn("no witness checked", res.stdout)
        res = self.verify(d, "--witness", self.witness)
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
        self.assertRegex(res.stdout, r"FAILED verification against witness %s at record %d: record %d differs "
                                     r"from what witness" % (re.escape(self.witness), self.target, self.target))

    def test_pull_from_a_rewritten_server_is_refused_and_keeps_the_file(self):
        d = self.rewrite_and_resign()
        witness = self.copy_witness()
        with open(witness, "rb") as f:
            before = f.read()
        original = self.srv.fx.data_dir
        self.srv.fx.data_dir = d
        try:
            self.srv.fx.start()
            res = pull(self.srv.fx.base_url, self.token_file, witness)
        finally:
            self.srv.fx.stop()
            self.srv.fx.data_dir = original
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
        self.assertIn("REFUSED", res.stdout)
        self.assertRegex(res.stdout, r"no longer extends what this witness saw")
        with open(witness, "rb") as f:
            self.assertEqual(f.read(), before, "a refused pull must not touch the witness file")


if __name__ == "__main__":
    unittest.main()
