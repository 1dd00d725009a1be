"""Hardening found by probing a running server: malformed HTTP gets an answer, the SQLite
WAL stays bounded, and to-device messages are rate limited and paged by size.

Choices these tests pin down:
- The request line and the header fields may each be up to 64 KiB. A longer request line
  (for example a /sync with an inline ?filter= of 90 KB) gets 414 M_TOO_LARGE, longer
  header fields 431 M_TOO_LARGE; conflicting Content-Length headers, a Transfer-Encoding
  that is not chunked and broken chunked encoding get 400 M_UNKNOWN. Every one of these
  answers is a JSON Matrix error with `Connection: close`, after which the server closes the
  connection cleanly (FIN, not a reset), so the client reads the whole answer.
- The WAL file is started over when it passes 32 MiB under load, and truncated once the
  writer has been idle for a second.
- One /sync carries at most 100 to-device messages and about 1 MiB of them (always at least
  one); the next sync continues where it stopped. PUT /sendToDevice is rate limited per
  sender like sending a message (429 M_LIMIT_EXCEEDED with retry_after_ms).
"""

import concurrent.futures
import json
import os
import socket
import threading
import time
import unittest
import urllib.parse
import uuid

from harness import ApiUser, ServerFixture, http_request, json_of, q, status_of

V3 = "/_matrix/client/v3"
PASSWORD = "hardening password"
HEADER_LIMIT = 64 * 1024


def exchange(host, port, payload, timeout=10.0):
    """Writes payload on a raw socket without half-closing, as a real client would, and
    reads until the server closes. Returns (raw reply, how it ended: "eof", "reset" or
    "timeout")."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        try:
            s.sendall(payload)
        except OSError:
            pass  # the server may answer and stop reading first; its answer is still there
        chunks = []
        ended = "eof"
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
        except socket.timeout:
            ended = "timeout"
        except OSError:
            ended = "reset"
        return b"".join(chunks), ended


def headers_of(raw):
    """Lower-cased header names -> values of a raw HTTP response."""
    head = raw.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
    out = {}
    for line in head:
        name, _, value = line.partition(":")
        out[name.strip().lower()] = value.strip()
    return out


def read_response(f):
    """Reads one Content-Length-framed HTTP response from the buffered socket file f (pipelined
    responses stay in its buffer); returns (status, headers, body)."""
    status_line = f.readline()
    if not status_line:
        raise AssertionError("connection closed before a response")
    hdrs = {}
    for line in iter(f.readline, b"\r\n"):
        if not line:
            raise AssertionError("connection closed inside a response header")
        name, _, value = line.decode("latin-1").partition(":")
        hdrs[name.strip().lower()] = value.strip()
    body = f.read(int(hdrs.get("content-length", "0")))
    return status_of(status_line), hdrs, body


class MalformedHttpTests(unittest.TestCase):
    """One server for every malformed-request case; each must leave it serving."""

    @classmethod
    def setUpClass(cls):
        cls.server = ServerFixture(open_registration=True, rate_limit=False)
        cls.server.start()
        cls.user, cls.token, _ = cls.server.register("hh" + uuid.uuid4().hex[:8], PASSWORD)

    @classmethod
    def tearDownClass(cls):
        cls.server.teardown()

    def tearDown(self):
        self.assertTrue(self.server.alive(), self.server.stderr_text()[-3000:])
        self.assertTrue(self.server.versions_ok(), "server no longer answers /versions")

    def assertRefused(self, payload, status, errcode, what):
        raw, ended = exchange(self.server.host, self.server.port, payload)
        self.assertEqual(status_of(raw), status, "%s: got %r (connection %s)" % (what, raw[:300], ended))
        body = json_of(raw)
        self.assertIsInstance(body, dict, "%s: body is not JSON: %r" % (what, raw[:300]))
        self.assertEqual(body.get("errcode"), errcode, "%s: %r" % (what, body))
        self.assertIsInstance(body.get("error"), str, "%s: %r" % (what, body))
        self.assertEqual(headers_of(raw).get("connection", "").lower(), "close", "%s: %r" % (what, raw[:300]))
        self.assertEqual(ended, "eof", "%s: the connection was not closed cleanly" % what)

    # ---- limits on the header ------------------------------------------------------

    def test_oversized_header_field_gets_431(self):
        payload = (b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\nX-Big: "
                   + b"a" * 200000 + b"\r\n\r\n")
        self.assertRefused(payload, 431, "M_TOO_LARGE", "a 200 KB header field")

    def test_too_many_header_bytes_gets_431(self):
        payload = (b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n"
                   + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(1000)) + b"\r\n")
        self.assertRefused(payload, 431, "M_TOO_LARGE", "1000 headers of 100 bytes")

    def test_inline_filter_over_the_limit_gets_414(self):
        # A /sync with a 90 KB filter inline in the URL: a JSON error, not a dropped connection.
        filt = json.dumps({"room": {"timeline": {"not_types": ["org.example.t%05d" % i
                                                               for i in range(4500)]}}})
        target = V3 + "/sync?timeout=0&filter=" + urllib.parse.quote(filt, safe="")
        self.assertGreater(len(target), 90000)
        payload = ("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                   % (target, self.token)).encode()
        self.assertRefused(payload, 414, "M_TOO_LARGE", "a %d-byte request target" % len(target))

    def test_inline_filter_within_the_limit_works(self):
        filt = json.dumps({"room": {"timeline": {"limit": 3, "not_types": ["org.example.t%05d" % i
                                                                           for i in range(1500)]}}})
        target = V3 + "/sync?timeout=0&filter=" + urllib.parse.quote(filt, safe="")
        self.assertGreater(len(target), 30000)
        self.assertLess(len(target), HEADER_LIMIT - 1000)
        st, body = http_request(self.server.host, self.server.port, "GET", target, token=self.token)
        self.assertEqual(st, 200, body)
        self.assertIn("next_batch", body)

    def test_large_allowed_header_works(self):
        st, body = http_request(self.server.host, self.server.port, "GET", V3 + "/account/whoami",
                                token=self.token, headers={"X-Pad": "p" * 50000})
        self.assertEqual((st, body.get("user_id")), (200, self.user))

    # ---- framing of the body -------------------------------------------------------

    def test_conflicting_content_length_gets_400(self):
        payload = (b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\n"
                   b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}")
        self.assertRefused(payload, 400, "M_UNKNOWN", "two different Content-Length headers")

    def test_content_length_with_chunked_gets_400(self):
        payload = (b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
        self.assertRefused(payload, 400, "M_UNKNOWN", "Content-Length and chunked together")

    def test_transfer_encoding_not_ending_in_chunked_gets_400(self):
        # RFC 9112 6.3: the body's length cannot be known, so the server must answer 400.
        payload = (b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\n"
                   b"Transfer-Encoding: gzip\r\n\r\n{}")
        self.assertRefused(payload, 400, "M_UNKNOWN", "Transfer-Encoding: gzip")

    def test_bad_chunk_size_gets_400(self):
        payload = (b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n")
        self.assertRefused(payload, 400, "M_UNKNOWN", "a chunk size that is not hex")

    def test_chunk_longer_than_its_size_gets_400(self):
        payload = (b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}xx\r\n0\r\n\r\n")
        self.assertRefused(payload, 400, "M_UNKNOWN", "a chunk with more data than its size")

    def test_garbled_request_line_gets_400(self):
        self.assertRefused(b"GET / HTTP/9.9\r\n\r\n", 400, "M_UNKNOWN", "HTTP/9.9")

    def test_chunked_body_within_limit_works(self):
        body = json.dumps({"type": "m.login.password", "identifier": {"type": "m.id.user",
                           "user": self.user}, "password": PASSWORD}).encode()
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7]) for i in range(0, len(body), 7))
        payload = (b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                   + chunks + b"0\r\n\r\n")
        raw, ended = exchange(self.server.host, self.server.port, payload)
        self.assertEqual(status_of(raw), 200, raw[:300])
        self.assertEqual(json_of(raw).get("user_id"), self.user)

    # ---- the connection after normal requests --------------------------------------

    def test_keep_alive_after_normal_requests(self):
        with socket.create_connection((self.server.host, self.server.port), timeout=10) as s:
            f = s.makefile("rb")
            for i in range(3):
                s.sendall(("GET %s/account/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                           % (V3, self.token)).encode())
                st, hdrs, body = read_response(f)
                self.assertEqual(st, 200, body)
                self.assertEqual(json.loads(body)["user_id"], self.user)
                self.assertNotEqual(hdrs.get("connection", "").lower(), "close")
            # Two requests written at once are both answered, in order.
            s.sendall(b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"GET /_matrix/client/v3/nope HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(read_response(f)[0], 200)
            self.assertEqual(read_response(f)[0], 404)

    def test_refusal_after_a_good_request_on_the_same_connection(self):
        with socket.create_connection((self.server.host, self.server.port), timeout=10) as s:
            f = s.makefile("rb")
            s.sendall(b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(read_response(f)[0], 200)
            s.sendall(b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}")
            st, hdrs, body = read_response(f)
            self.assertEqual((st, json.loads(body)["errcode"]), (400, "M_UNKNOWN"))
            self.assertEqual(hdrs.get("connection", "").lower(), "close")
            self.assertEqual(f.read(100), b"", "the server should close after refusing")


class WalGrowthTests(unittest.TestCase):
    """The WAL stays bounded during a burst of writes and is truncated once the writer idles."""

    MESSAGES = 2000
    WAL_BOUND = 8 << 20  # once idle
    PEAK_BOUND = 48 << 20  # during the burst: the WAL is started over past 32 MiB

    @classmethod
    def setUpClass(cls):
        cls.server = ServerFixture(open_registration=True, rate_limit=False)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.teardown()

    def test_wal_is_bounded_after_a_burst_of_messages(self):
        srv = self.server
        users = [ApiUser(srv, "w", PASSWORD) for _ in range(4)]
        room = users[0].ok("POST", "/createRoom", {"preset": "public_chat"})["room_id"]
        for u in users[1:]:
            u.ok("POST", "/join/%s" % q(room), {})
        pad = "m" * 400

        def send(i):
            u = users[i % len(users)]
            st, body = u.http("PUT", "/rooms/%s/send/m.room.message/w%d" % (q(room), i),
                              {"msgtype": "m.text", "body": "%d %s" % (i, pad)})
            return st

        wal = os.path.join(srv.data_dir, "despatch.db-wal")
        db = os.path.join(srv.data_dir, "despatch.db")

        def wal_size():
            try:
                return os.path.getsize(wal)
            except OSError:
                return 0

        peak, sending = [0], [True]

        def sample():
            while sending[0]:
                peak[0] = max(peak[0], wal_size())
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        t0 = time.monotonic()
        try:
            with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
                statuses = list(pool.map(send, range(self.MESSAGES)))
        finally:
            sending[0] = False
            sampler.join()
        self.assertEqual(statuses.count(200), self.MESSAGES, set(statuses))
        burst = time.monotonic() - t0
        # Idle now: the checkpointer should truncate the WAL within a few seconds.
        deadline = time.monotonic() + 10
        size = wal_size()
        while size >= self.WAL_BOUND and time.monotonic() < deadline:
            time.sleep(0.2)
            size = wal_size()
        self.assertLess(size, self.WAL_BOUND,
                        "WAL is %d bytes beside a %d-byte database, %.1fs after %d messages sent in %.1fs"
                        % (size, os.path.getsize(db), time.monotonic() - t0 - burst, self.MESSAGES, burst))
        self.assertLess(peak[0], self.PEAK_BOUND, "the WAL reached %d bytes during the burst" % peak[0])
        # Every acknowledged message survives a kill right after the truncation.
        srv.restart(kill=True)
        seen, token = set(), None
        for _ in range(self.MESSAGES // 100 + 5):
            page = users[0].ok("GET", "/rooms/%s/messages?dir=b&limit=100%s"
                               % (q(room), "&from=" + q(token) if token else ""))
            seen.update(ev["content"]["body"].split()[0] for ev in page["chunk"]
                        if ev["type"] == "m.room.message")
            token = page.get("end")
            if not page["chunk"] or not token:
                break
        self.assertEqual(len(seen), self.MESSAGES)


class ToDeviceTests(unittest.TestCase):
    """To-device messages come back across syncs in pages bounded by count and size."""

    @classmethod
    def setUpClass(cls):
        cls.server = ServerFixture(open_registration=True, rate_limit=False)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.teardown()

    def sync_raw(self, user, since=None):
        path = V3 + "/sync?timeout=0" + ("&since=" + q(since) if since else "")
        st, body, raw, _ = http_request(self.server.host, self.server.port, "GET", path,
                                        token=user.token, raw_response=True, timeout=60)
        self.assertEqual(st, 200, raw[:300])
        return body, len(raw)

    def test_to_device_is_paged_by_size(self):
        alice = ApiUser(self.server, "tda", PASSWORD)
        bob = ApiUser(self.server, "tdb", PASSWORD)
        count, size = 40, 100000
        for i in range(count):
            alice.ok("PUT", "/sendToDevice/org.example.big/t%d" % i,
                     {"messages": {bob.user_id: {bob.device_id: {"seq": i, "pad": "x" * size}}}})
        seen, bodies, since = [], [], None
        for _ in range(count + 5):
            body, n = self.sync_raw(bob, since)
            events = body.get("to_device", {}).get("events", [])
            bodies.append((n, len(events)))
            self.assertLess(n, 2 << 20, "one sync body is %d bytes (%d messages)" % (n, len(events)))
            for ev in events:
                self.assertEqual((ev["sender"], ev["type"]), (alice.user_id, "org.example.big"))
                seen.append(ev["content"]["seq"])
            if since is not None and not events:
                break
            previous, since = since, body["next_batch"]
            if len(seen) == 20 and previous:
                # A retried sync (lost response) gets the same page again: nothing is deleted
                # before the client confirms it with the next token.
                again, _ = self.sync_raw(bob, previous)
                self.assertEqual([e["content"]["seq"] for e in again["to_device"]["events"]],
                                 [e["content"]["seq"] for e in events])
        self.assertEqual(seen, list(range(count)), "pages: %r" % bodies)
        self.assertGreater(len(bodies), 3, "pages: %r" % bodies)

    def test_one_big_message_still_gets_through(self):
        alice = ApiUser(self.server, "tdc", PASSWORD)
        bob = ApiUser(self.server, "tdd", PASSWORD)
        for i, size in enumerate([900000, 900000, 10]):
            alice.ok("PUT", "/sendToDevice/org.example.big/b%d" % i,
                     {"messages": {bob.user_id: {bob.device_id: {"seq": i, "pad": "y" * size}}}})
        seen, since = [], None
        for _ in range(6):
            body, n = self.sync_raw(bob, since)
            events = body["to_device"]["events"]
            seen += [e["content"]["seq"] for e in events]
            if since is not None and not events:
                break
            since = body["next_batch"]
        self.assertEqual(seen, [0, 1, 2])


class ToDeviceRateLimitTests(unittest.TestCase):
    """With rate limiting on, a flood of sendToDevice requests is refused with 429."""

    @classmethod
    def setUpClass(cls):
        cls.server = ServerFixture(open_registration=True, rate_limit=True)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.teardown()

    def test_send_to_device_flood_gets_429(self):
        alice = ApiUser(self.server, "rla", PASSWORD)
        bob = ApiUser(self.server, "rlb", PASSWORD)
        refused = None
        for i in range(200):
            st, body = alice.http("PUT", "/sendToDevice/org.example.flood/f%d" % i,
                                  {"messages": {bob.user_id: {bob.device_id: {"n": i}}}})
            if st == 429:
                refused = (i, body)
                break
            self.assertEqual(st, 200, body)
        self.assertIsNotNone(refused, "200 sendToDevice requests in a row were all accepted")
        i, body = refused
        self.assertEqual(body.get("errcode"), "M_LIMIT_EXCEEDED", body)
        self.assertIsInstance(body.get("retry_after_ms"), int, body)
        self.assertGreater(body["retry_after_ms"], 0)
        self.assertGreater(i, 5, "refused too early, after %d requests" % i)


if __name__ == "__main__":
    unittest.main()
