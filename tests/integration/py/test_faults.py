"""Fault tests against a real server: kill -9 under concurrent load, a full disk, a read-only
data folder, a corrupted database page, thousands of slow idle connections, and floods of
failed logins and registrations.

The disk tests mount a small tmpfs over the data folder, which needs root (CI runs as root);
without it they are skipped and say why.
"""

import concurrent.futures
import os
import random
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

from harness import ApiUser, ServerFixture, http_request, q, run_cli

PASSWORD = "fault tests password"


def can_mount():
    if os.geteuid() != 0:
        return False
    d = tempfile.mkdtemp(prefix="despatch-mount-probe-")
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", d],
                            capture_output=True).returncode == 0
        if ok:
            subprocess.run(["umount", d], capture_output=True)
        return ok
    finally:
        os.rmdir(d)


MOUNT_OK = can_mount()


class TmpfsDataServer(ServerFixture):
    """A server whose data folder is a tmpfs of `size_mb`, keeping the records key made by
    the fixture (written before the mount)."""

    def __init__(self, size_mb, **kw):
        super().__init__(**kw)
        saved = {}
        for name in os.listdir(self.data_dir):
            with open(os.path.join(self.data_dir, name), "rb") as f:
                saved[name] = f.read()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % size_mb, "tmpfs", self.data_dir], check=True)
        for name, data in saved.items():
            with open(os.path.join(self.data_dir, name), "wb") as f:
                f.write(data)

    def remount(self, mode):
        subprocess.run(["mount", "-o", "remount,%s" % mode, self.data_dir], check=True)

    def teardown(self):
        try:
            super().stop() if self.alive() else None
        except Exception:
            pass
        subprocess.run(["umount", "-l", self.data_dir], capture_output=True)
        super().teardown()


class KillUnderLoadTests(unittest.TestCase):
    CYCLES = 20
    WRITERS = 8

    def test_every_acknowledged_event_survives_kill_9_under_load(self):
        server = ServerFixture()
        server.start()
        try:
            users = [ApiUser(server, "w%d" % i, PASSWORD) for i in range(self.WRITERS)]
            room = users[0].ok("POST", "/createRoom", {"preset": "public_chat"})["room_id"]
            for u in users[1:]:
                u.ok("POST", "/join/%s" % q(room), {})
            acked = []  # (event_id, body)
            lock = threading.Lock()

            def writer(u, stop):
                while not stop.is_set():
                    body = "m-" + uuid.uuid4().hex
                    try:
                        st, resp = server.http("PUT", "/_matrix/client/v3/rooms/%s/send/m.room.message/%s"
                                               % (q(room), uuid.uuid4().hex),
                                               {"msgtype": "m.text", "body": body}, token=u.token, timeout=5)
                    except OSError:
                        return  # the server is gone: whatever was not answered was not acknowledged
                    if st == 200:
                        with lock:
                            acked.append((resp["event_id"], body))

            for cycle in range(self.CYCLES):
                stop = threading.Event()
                threads = [threading.Thread(target=writer, args=(u, stop)) for u in users]
                for t in threads:
                    t.start()
                time.sleep(random.uniform(0.15, 0.5))
                server.proc.send_signal(signal.SIGKILL)
                server.proc.wait(10)
                stop.set()
                for t in threads:
                    t.join(10)
                server.proc = None
                server.start()
            self.assertGreater(len(acked), self.CYCLES * 5, "the load was too light to prove anything")
            reader = users[0]
            for event_id, body in acked:
                st, ev = server.http("GET", "/_matrix/client/v3/rooms/%s/event/%s" % (q(room), q(event_id)),
                                     token=reader.token)
                self.assertEqual(st, 200, "acknowledged %s lost after kill -9: %r" % (event_id, ev))
                self.assertEqual(ev["content"]["body"], body)
            # Still a working server, and an intact archive.
            users[1].send(room, "after the last restart")
            server.stop()
            res = run_cli("records", "verify", "--data", server.data_dir, timeout=120)
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        finally:
            server.teardown()


@unittest.skipUnless(MOUNT_OK, "needs root to mount a tmpfs over the data folder")
class DiskTests(unittest.TestCase):
    def test_a_full_disk_refuses_writes_clearly_and_service_resumes(self):
        server = TmpfsDataServer(24)
        try:
            server.start()
            alice = ApiUser(server, "alice", PASSWORD)
            room = alice.ok("POST", "/createRoom", {"preset": "private_chat"})["room_id"]
            alice.send(room, "before the disk filled")
            filler = os.path.join(server.data_dir, "filler")
            with open(filler, "wb") as f:
                try:
                    while True:
                        f.write(b"\0" * (1 << 20))
                        f.flush()
                except OSError:
                    pass
            refused = accepted = 0
            for i in range(20):
                st, body = alice.http("PUT", "/rooms/%s/send/m.room.message/full%d" % (q(room), i),
                                      {"msgtype": "m.text", "body": "x" * 4000})
                if st == 200:
                    accepted += 1
                else:
                    refused += 1
                    self.assertEqual(st, 503, body)
                    self.assertEqual(body.get("errcode"), "M_UNKNOWN")
                    self.assertIn("storage is full", body.get("error", ""))
            self.assertGreater(refused, 0, "no write was refused on a full disk")
            self.assertTrue(server.alive(), server.stderr_text()[-2000:])
            # Reads still work, and what was refused left nothing behind.
            msgs = alice.ok("GET", "/rooms/%s/messages?dir=b&limit=100" % q(room))
            bodies = [e["content"].get("body") for e in msgs["chunk"] if e["type"] == "m.room.message"]
            self.assertIn("before the disk filled", bodies)
            os.unlink(filler)
            alice.send(room, "after space returned")
            msgs = alice.ok("GET", "/rooms/%s/messages?dir=b&limit=100" % q(room))
            bodies = [e["content"].get("body") for e in msgs["chunk"] if e["type"] == "m.room.message"]
            self.assertIn("after space returned", bodies)
            self.assertEqual(bodies.count("x" * 4000), accepted, "a refused write was stored after all")
            server.stop()
            res = run_cli("records", "verify", "--data", server.data_dir, timeout=60)
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        finally:
            server.teardown()

    def test_a_read_only_data_folder_is_refused_at_start_with_its_reason(self):
        server = TmpfsDataServer(16)
        try:
            server.start()
            server.stop()
            server.remount("ro")
            with self.assertRaises(Exception) as ctx:
                server.start()
            self.assertIn("not writable", str(ctx.exception))
            self.assertIn("Read-only file system", str(ctx.exception))
            server.remount("rw")
            server.start()
            self.assertTrue(server.versions_ok())
        finally:
            server.teardown()


class CorruptionTests(unittest.TestCase):
    def test_a_corrupted_database_page_is_detected_at_start(self):
        server = ServerFixture()
        try:
            server.start()
            alice = ApiUser(server, "alice", PASSWORD)
            room = alice.ok("POST", "/createRoom", {"preset": "private_chat"})["room_id"]
            for i in range(200):
                alice.send(room, "message %d %s" % (i, "y" * 500))
            server.stop()
            path = os.path.join(server.data_dir, "despatch.db")
            c = sqlite3.connect(path)
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            page_size = c.execute("PRAGMA page_size").fetchone()[0]
            pages = c.execute("PRAGMA page_count").fetchone()[0]
            c.close()
            self.assertGreater(pages, 20)
            with open(path, "r+b") as f:
                f.seek(page_size * (pages // 2))
                f.write(os.urandom(page_size))
            with self.assertRaises(Exception) as ctx:
                server.start()
            text = str(ctx.exception)
            self.assertTrue("is corrupt" in text or "cannot be read" in text, text[-2000:])
            self.assertIn("restore it from a backup", text)
        finally:
            server.teardown()


class ConnectionFloodTests(unittest.TestCase):
    SLOW = 2000

    def test_2000_slow_idle_connections_do_not_starve_a_normal_client(self):
        server = ServerFixture()
        socks = []
        try:
            server.start()
            alice = ApiUser(server, "alice", PASSWORD)
            for _ in range(self.SLOW):
                s = socket.create_connection((server.host, server.port), timeout=5)
                # A request that never finishes its headers.
                s.sendall(b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                socks.append(s)
            for s in socks[::10]:
                s.sendall(b"a")  # trickling, as a slowloris does
            started = time.monotonic()
            st, body = alice.http("GET", "/sync?timeout=0")
            elapsed = time.monotonic() - started
            self.assertEqual(st, 200, body)
            self.assertLess(elapsed, 1.0, "a normal client waited %.2fs behind %d idle connections"
                            % (elapsed, self.SLOW))
            self.assertTrue(server.alive())
        finally:
            for s in socks:
                s.close()
            server.teardown()


class AuthFloodTests(unittest.TestCase):
    def test_floods_of_failed_logins_and_registrations_are_rate_limited(self):
        server = ServerFixture(rate_limit=True)
        try:
            server.start()
            server.user_add("victim", password=PASSWORD)

            def flood(make):
                answers = [make(i) for i in range(40)]
                limited = [(st, b) for st, b in answers if st == 429]
                return answers, limited

            answers, limited = flood(lambda i: server.login("victim", "wrong %d" % i))
            self.assertTrue(limited, "40 failed logins in a row were never limited: %r" % answers[-1:])
            for st, body in limited:
                self.assertEqual(body.get("errcode"), "M_LIMIT_EXCEEDED")
                self.assertIsInstance(body.get("retry_after_ms"), int)
                self.assertGreater(body["retry_after_ms"], 0)
            # Before the limit the answers were the honest ones: a wrong password.
            self.assertEqual(answers[0][0], 403)
            self.assertEqual(answers[0][1].get("errcode"), "M_FORBIDDEN")

            time.sleep(limited[0][1]["retry_after_ms"] / 1000.0 + 0.2)
            st, body = server.login("victim", PASSWORD)
            self.assertEqual(st, 200, "after retry_after_ms the right password works: %r" % body)

            answers, limited = flood(lambda i: server.http("POST", "/_matrix/client/v3/register",
                                                           {"username": "flood%d%s" % (i, uuid.uuid4().hex[:6]),
                                                            "password": PASSWORD,
                                                            "auth": {"type": "m.login.dummy"}}))
            self.assertTrue(limited, "40 registrations in a row were never limited")
            self.assertTrue(all(b.get("errcode") == "M_LIMIT_EXCEEDED" for _, b in limited))
            self.assertTrue(all(isinstance(b.get("retry_after_ms"), int) for _, b in limited))
            self.assertTrue(server.versions_ok())
        finally:
            server.teardown()


if __name__ == "__main__":
    unittest.main()
