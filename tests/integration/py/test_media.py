"""The content repository over plain HTTP: uploads, downloads and thumbnails of real PNG,
JPEG and Ogg/Opus files; async uploads; the allow-list, the size limit, antivirus scanning
with a real clamd, path traversal, file-name injection, the legacy routes, and restarts.

Choices where the spec leaves one:
- A malformed server name or media ID in a path: 400 M_INVALID_PARAM.
- A type outside media.allowed_types, or a file clamd finds infected: 403 M_FORBIDDEN (the
  spec's "The user does not have permission to upload the content"); with the scanner
  unreachable, 503 M_UNKNOWN (uploads fail closed).
- Media not uploaded while legacy_unauthenticated was on, on the deprecated
  /_matrix/media/v3 download routes: 404 M_NOT_FOUND (the spec 1.11 "freeze").
"""

import concurrent.futures
import json
import os
import subprocess
import time
import unittest
import urllib.parse

from harness import ServerFixture, q, raw_exchange, status_of
from media_helpers import (Clamd, eicar, opaque_blob, image_size, make_jpeg, make_png, make_voice_note)

V3 = "/_matrix/client/v3"
MEDIA = "/_matrix/client/v1/media"
UPLOAD = "/_matrix/media/v3/upload"
MAX_UPLOAD = 3 * 1024 * 1024
QUOTA = 2000000  # media.max_user_bytes of LegacyAndScannerDownTest's server


def config(clamd_socket=None, legacy=False, extra=""):
    s = "[media]\nmax_upload_bytes = %d\nlegacy_unauthenticated = %s\nmax_pending_uploads = 3\n" % (
        MAX_UPLOAD, "true" if legacy else "false")
    if clamd_socket:
        s += 'antivirus = true\nclamd_socket = "%s"\nclamd_timeout_seconds = 10\n' % clamd_socket
    return s + extra


class MediaTestBase(unittest.TestCase):
    def upload(self, data, content_type="application/octet-stream", filename=None, token=None, server=None):
        server = server or self.server
        path = UPLOAD + ("?filename=" + urllib.parse.quote(filename, safe="") if filename is not None else "")
        return server.http("POST", path, body=data, token=token or self.token,
                           headers={"Content-Type": content_type})

    def upload_ok(self, data, content_type, filename=None, server=None):
        st, body = self.upload(data, content_type, filename, server=server)
        self.assertEqual(st, 200, body)
        uri = body["content_uri"]
        self.assertTrue(uri.startswith("mxc://localhost/"), uri)
        return uri[len("mxc://"):]

    def get(self, path, token=None, server=None):
        """(status, json or None, raw bytes, headers)"""
        server = server or self.server
        return server.http("GET", path, token=token, raw_response=True)

    def download(self, mxc, suffix="", **kw):
        return self.get(MEDIA + "/download/" + mxc + suffix, token=kw.pop("token", self.token), **kw)

    def thumbnail(self, mxc, w, h, method, **kw):
        return self.get("%s/thumbnail/%s?width=%d&height=%d&method=%s" % (MEDIA, mxc, w, h, method),
                        token=kw.pop("token", self.token), **kw)

    def assertErr(self, resp, status, errcode, what=""):
        st, body = resp[0], resp[1]
        self.assertIsInstance(body, dict, "%s: %s %r" % (what, st, body))
        self.assertEqual((st, body.get("errcode")), (status, errcode), "%s: %r" % (what, body))


class MediaTest(MediaTestBase):
    @classmethod
    def setUpClass(cls):
        cls.clamd = Clamd().start()
        cls.server = ServerFixture(config_toml=config(cls.clamd.socket))
        try:
            cls.server.start()
        except Exception:
            cls.clamd.stop()
            raise
        cls.user, cls.token, _ = cls.server.register()
        cls.user2, cls.token2, _ = cls.server.register()

    @classmethod
    def tearDownClass(cls):
        cls.server.teardown()
        cls.clamd.stop()

    def test_config_reports_the_upload_limit(self):
        for path in (MEDIA + "/config", "/_matrix/media/v3/config"):
            st, body, _, _ = self.get(path, token=self.token)
            self.assertEqual((st, body), (200, {"m.upload.size": MAX_UPLOAD}), path)
        st, body, _, _ = self.get(MEDIA + "/config")
        self.assertErr((st, body), 401, "M_MISSING_TOKEN")

    def curl(self, *args, data=None):
        """curl with args, the last one a path on the server; returns (status, body bytes)."""
        res = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *args[:-1], self.server.base_url + args[-1]],
                             input=data, capture_output=True, timeout=30)
        self.assertEqual(res.returncode, 0, res.stderr)
        body, _, status = res.stdout.rpartition(b"\n")
        return int(status), body

    def test_curl_uploads_and_downloads_byte_identical(self):
        png = make_png(64, 48, seed=7)
        st, body = self.curl("-X", "POST", "-H", "Authorization: Bearer " + self.token,
                             "-H", "Content-Type: image/png", "--data-binary", "@-",
                             UPLOAD + "?filename=curl.png", data=png)
        self.assertEqual(st, 200, body)
        mxc = json.loads(body)["content_uri"]
        server, media_id = mxc[len("mxc://"):].split("/", 1)
        st, got = self.curl("-H", "Authorization: Bearer " + self.token2,
                            MEDIA + "/download/%s/%s" % (server, media_id))
        self.assertEqual((st, got), (200, png))
        st, got = self.curl("-H", "Authorization: Bearer not-a-token", MEDIA + "/download/%s/%s" % (server, media_id))
        self.assertEqual((st, json.loads(got)["errcode"]), (401, "M_UNKNOWN_TOKEN"))
        st, got = self.curl("-H", "Authorization: Bearer " + self.token,
                            MEDIA + "/download/%s/..%%2F..%%2Fetc%%2Fpasswd" % server)
        self.assertIn(st, (400, 404), got)
        self.assertNotIn(b"root:", got)

    def test_png_and_jpeg_thumbnails_of_the_right_size(self):
        png = make_png(640, 480)
        jpeg = make_jpeg(1000, 800)
        png_id = self.upload_ok(png, "image/png", "diagram.png")
        jpeg_id = self.upload_ok(jpeg, "image/jpeg", "photo.jpg")

        for mxc, data, ctype, name in ((png_id, png, "image/png", "diagram.png"),
                                       (jpeg_id, jpeg, "image/jpeg", "photo.jpg")):
            st, _, raw, headers = self.download(mxc)
            self.assertEqual(st, 200)
            self.assertEqual(raw, data)
            self.assertEqual(headers["Content-Type"], ctype)
            self.assertEqual(headers["Content-Disposition"], 'inline; filename="%s"' % name)
            self.assertIn("sandbox", headers["Content-Security-Policy"])
            self.assertEqual(headers["Cross-Origin-Resource-Policy"], "cross-origin")

        cases = [
            # (mxc, w, h, method, expected size)
            (jpeg_id, 32, 32, "crop", (32, 32)),
            (jpeg_id, 96, 96, "crop", (96, 96)),
            (jpeg_id, 50, 50, "crop", (96, 96)),     # the next suggested size up
            (jpeg_id, 320, 240, "scale", (300, 240)),  # fits in the box, keeps 5:4
            (jpeg_id, 640, 480, "scale", (600, 480)),
            (jpeg_id, 800, 600, "scale", (750, 600)),
            (png_id, 96, 96, "crop", (96, 96)),
            (png_id, 320, 240, "scale", (320, 240)),
        ]
        for mxc, w, h, method, expected in cases:
            with self.subTest(mxc=mxc, w=w, h=h, method=method):
                st, body, raw, headers = self.thumbnail(mxc, w, h, method)
                self.assertEqual(st, 200, body)
                self.assertIn(headers["Content-Type"], ("image/jpeg", "image/png"))
                self.assertTrue(headers["Content-Disposition"].startswith("inline"))
                self.assertEqual(image_size(raw), expected)
                # generated once: the second answer is the cached file
                st2, _, raw2, _ = self.thumbnail(mxc, w, h, method)
                self.assertEqual((st2, raw2), (200, raw))

        # Never upscaled: a request larger than the image gets the original.
        st, _, raw, headers = self.thumbnail(png_id, 800, 600, "scale")
        self.assertEqual((st, raw, headers["Content-Type"]), (200, png, "image/png"))

    def test_voice_note_round_trip_and_m_audio_event(self):
        ogg = make_voice_note()
        mxc = self.upload_ok(ogg, "audio/ogg", "voice-note.ogg")
        st, _, raw, headers = self.download(mxc)
        self.assertEqual(st, 200)
        self.assertEqual(raw, ogg)
        self.assertEqual(headers["Content-Type"], "audio/ogg")
        # with a file name in the path
        st, _, raw, headers = self.download(mxc, "/Sprachnachricht%20%C3%BC.ogg")
        self.assertEqual((st, raw), (200, ogg))
        self.assertIn("filename*=utf-8''Sprachnachricht%20%C3%BC.ogg", headers["Content-Disposition"])

        st, body = self.server.http("POST", V3 + "/createRoom", {}, token=self.token)
        self.assertEqual(st, 200, body)
        room = body["room_id"]
        content = {"msgtype": "m.audio", "body": "voice-note.ogg", "url": "mxc://" + mxc,
                   "info": {"mimetype": "audio/ogg", "size": len(ogg), "duration": 1000},
                   "org.matrix.msc3245.voice": {}}
        st, body = self.server.http("PUT", V3 + "/rooms/%s/send/m.room.message/t1" % q(room), content,
                                    token=self.token)
        self.assertEqual(st, 200, body)
        st, ev = self.server.http("GET", V3 + "/rooms/%s/event/%s" % (q(room), q(body["event_id"])),
                                  token=self.token)
        self.assertEqual(st, 200, ev)
        self.assertEqual(ev["content"]["url"], "mxc://" + mxc)
        server_name, media_id = ev["content"]["url"][len("mxc://"):].split("/")
        st, _, raw, _ = self.download(server_name + "/" + media_id, token=self.token2)
        self.assertEqual((st, raw), (200, ogg))
        # audio has no thumbnail
        self.assertErr(self.thumbnail(mxc, 96, 96, "crop"), 400, "M_UNKNOWN")

    def test_wrong_or_missing_token_is_refused(self):
        mxc = self.upload_ok(b"a plain text note\n", "text/plain")
        self.assertErr(self.upload(b"x", "text/plain", token="not-a-token"), 401, "M_UNKNOWN_TOKEN")
        st, body = self.server.http("POST", UPLOAD, body=b"x", headers={"Content-Type": "text/plain"})
        self.assertErr((st, body), 401, "M_MISSING_TOKEN")
        self.assertErr(self.download(mxc, token="not-a-token"), 401, "M_UNKNOWN_TOKEN")
        st, body, _, _ = self.get(MEDIA + "/download/" + mxc)
        self.assertErr((st, body), 401, "M_MISSING_TOKEN")
        st, body, _, _ = self.get(MEDIA + "/thumbnail/%s?width=32&height=32" % mxc)
        self.assertErr((st, body), 401, "M_MISSING_TOKEN")

    def test_oversized_upload_is_refused_and_json_keeps_its_limit(self):
        big = opaque_blob(MAX_UPLOAD + 1)
        st, body = self.upload(big)
        self.assertErr((st, body), 413, "M_TOO_LARGE")
        # a lying small body with a huge Content-Length is refused before it is read
        raw = raw_exchange(self.server.host, self.server.port,
                           ("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                            "Content-Length: %d\r\n\r\nabc" % (UPLOAD, self.token, 10 * MAX_UPLOAD)).encode())
        self.assertEqual(status_of(raw), 413)
        # just under the limit is fine; 2 MiB of JSON is not (limits.max_request_bytes)
        self.upload_ok(opaque_blob(2 * 1024 * 1024), "application/octet-stream")
        st, body = self.server.http("PUT", V3 + "/profile/%s/displayname" % q(self.user),
                                    {"displayname": "x" * (2 * 1024 * 1024)}, token=self.token)
        self.assertErr((st, body), 413, "M_TOO_LARGE")
        self.assertTrue(self.server.versions_ok())

    def test_disallowed_types_are_refused_whatever_the_claim(self):
        html = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
        svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
        with open("/bin/true", "rb") as f:
            elf = f.read()
        for data, claim in ((html, "text/html"), (html, "image/png"), (svg, "image/svg+xml"),
                            (elf, "application/octet-stream")):
            with self.subTest(claim=claim, head=data[:10]):
                st, body = self.upload(data, claim)
                self.assertErr((st, body), 403, "M_FORBIDDEN")
                self.assertIn("not accepted", body["error"])

    def test_encrypted_attachments_that_begin_like_executables_are_accepted(self):
        # About 1 in 50 encrypted attachments begin like this by chance; libmagic calls them
        # executables, but random bytes are no program.
        for head in (b"MZ", b"\x1a\x08", b"\x78\x9c"):
            with self.subTest(head=head):
                data = head + os.urandom(8190)
                mxc = self.upload_ok(data, "application/octet-stream")
                st, _, raw, headers = self.download(mxc)
                self.assertEqual((st, raw), (200, data))
                self.assertEqual(headers["Content-Type"], "application/octet-stream")
                self.assertTrue(headers["Content-Disposition"].startswith("attachment"), headers)
        # A real program is still refused, whatever it is called (it is far from random).
        with open("/bin/true", "rb") as f:
            st, body = self.upload(f.read(), "application/octet-stream")
        self.assertErr((st, body), 403, "M_FORBIDDEN")

    def test_claimed_type_is_not_trusted(self):
        # bytes that are no image (an encrypted attachment, say) claimed as PNG: served as
        # octet-stream, as an attachment
        mxc = self.upload_ok(opaque_blob(4096), "image/png", "cat.png")
        st, _, _, headers = self.download(mxc)
        self.assertEqual(st, 200)
        self.assertEqual(headers["Content-Type"], "application/octet-stream")
        self.assertTrue(headers["Content-Disposition"].startswith("attachment"))
        self.assertErr(self.thumbnail(mxc, 32, 32, "crop"), 400, "M_UNKNOWN")
        # a PNG claimed as JPEG is served as PNG
        mxc = self.upload_ok(make_png(8, 8), "image/jpeg")
        self.assertEqual(self.download(mxc)[3]["Content-Type"], "image/png")

    def test_eicar_is_refused_by_clamd(self):
        st, body = self.upload(eicar(), "text/plain", "invoice.txt")
        self.assertErr((st, body), 403, "M_FORBIDDEN")
        self.assertIn(Clamd.SIGNATURE, body["error"])
        self.assertIn("virus", body["error"])
        deadline = time.time() + 5
        while "refused an infected upload" not in self.server.stderr_text() and time.time() < deadline:
            time.sleep(0.05)
        log = self.server.stderr_text()
        self.assertIn("refused an infected upload from %s" % self.user, log)
        self.assertIn(Clamd.SIGNATURE, log)
        # EICAR inside a bigger file, and through the async upload route
        st, body = self.upload(b"x" * 100000 + eicar() + b"y" * 1000, "text/plain")
        self.assertErr((st, body), 403, "M_FORBIDDEN")
        st, created = self.server.http("POST", "/_matrix/media/v1/create", token=self.token)
        self.assertEqual(st, 200, created)
        mxc = created["content_uri"][len("mxc://"):]
        st, body = self.server.http("PUT", "/_matrix/media/v3/upload/" + mxc, body=eicar(), token=self.token,
                                    headers={"Content-Type": "text/plain"})
        self.assertErr((st, body), 403, "M_FORBIDDEN")
        self.assertErr(self.get(MEDIA + "/download/%s?timeout_ms=0" % mxc, token=self.token), 504,
                       "M_NOT_YET_UPLOADED")
        # clean files still pass the scanner
        mxc = self.upload_ok(b"minutes of the meeting\n", "text/plain", "minutes.txt")
        self.assertEqual(self.download(mxc)[0], 200)

    def test_path_traversal_in_ids_is_refused(self):
        for path in ("/download/localhost/..%2F..%2Fetc%2Fpasswd",
                     "/download/localhost/..",
                     "/download/localhost/abc.def",
                     "/download/..%2F..%2Fetc/passwd",
                     "/download/local%2Fhost/abc",
                     "/download/localhost/%252e%252e%252fetc",
                     "/thumbnail/localhost/..%2Fsigning.key?width=32&height=32",
                     "/download/localhost/abc%00def"):
            with self.subTest(path=path):
                self.assertErr(self.get(MEDIA + path, token=self.token), 400, "M_INVALID_PARAM")
        st, body = self.server.http("PUT", "/_matrix/media/v3/upload/localhost/..%2F..%2Fx", body=b"x",
                                    token=self.token, headers={"Content-Type": "text/plain"})
        self.assertErr((st, body), 400, "M_INVALID_PARAM")
        # an unencoded traversal never matches a route
        st, body, _, _ = self.get(MEDIA + "/download/localhost/../../../signing.key", token=self.token)
        self.assertIn(st, (400, 404))
        self.assertNotIn(b"ed25519", _ or b"")
        self.assertErr(self.download("localhost/AAAAAAAAAAAAAAAAAAAAAAAA"), 404, "M_NOT_FOUND")
        self.assertErr(self.download("other.example/AAAA"), 404, "M_NOT_FOUND")

    def test_filename_cannot_inject_headers(self):
        name = 'evil"\r\nSet-Cookie: session=stolen\r\nX: "y.txt'
        mxc = self.upload_ok(b"just text\n", "text/plain", name)
        st, _, raw, headers = self.download(mxc)
        self.assertEqual(st, 200)
        self.assertNotIn("Set-Cookie", headers)
        cd = headers["Content-Disposition"]
        self.assertNotIn("\r", cd)
        self.assertNotIn("\n", cd)
        self.assertEqual(cd.count('"'), 2, cd)
        # a path in the name keeps only its last part
        mxc = self.upload_ok(b"just text\n", "text/plain", "../../../../etc/cron.d/job.txt")
        self.assertEqual(self.download(mxc)[3]["Content-Disposition"], 'inline; filename="job.txt"')
        st, _, _, headers = self.download(mxc, "/..%2F..%2Fother.txt")
        self.assertEqual((st, headers["Content-Disposition"]), (200, 'inline; filename="other.txt"'))
        # invalid UTF-8 in a name
        st, body = self.server.http("POST", UPLOAD + "?filename=%ff%fe.txt", body=b"x", token=self.token,
                                    headers={"Content-Type": "text/plain"})
        self.assertErr((st, body), 400, "M_INVALID_PARAM")

    def test_async_upload(self):
        st, created = self.server.http("POST", "/_matrix/media/v1/create", token=self.token)
        self.assertEqual(st, 200, created)
        self.assertGreater(created["unused_expires_at"], time.time() * 1000)
        mxc = created["content_uri"][len("mxc://"):]
        self.assertErr(self.get(MEDIA + "/download/%s?timeout_ms=300" % mxc, token=self.token), 504,
                       "M_NOT_YET_UPLOADED")
        put = "/_matrix/media/v3/upload/" + mxc
        png = make_png(64, 48)
        st, body = self.server.http("PUT", put, body=png, token=self.token2, headers={"Content-Type": "image/png"})
        self.assertErr((st, body), 403, "M_FORBIDDEN")
        # a download waiting for the upload gets it as soon as it lands
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(self.get, MEDIA + "/download/%s?timeout_ms=15000" % mxc, self.token)
            time.sleep(0.5)
            st, body = self.server.http("PUT", put + "?filename=chart.png", body=png, token=self.token,
                                        headers={"Content-Type": "image/png"})
            self.assertEqual((st, body), (200, {}))
            st, _, raw, headers = waiting.result(20)
        self.assertEqual((st, raw), (200, png))
        self.assertEqual(headers["Content-Disposition"], 'inline; filename="chart.png"')
        st, body = self.server.http("PUT", put, body=png, token=self.token, headers={"Content-Type": "image/png"})
        self.assertErr((st, body), 409, "M_CANNOT_OVERWRITE_MEDIA")
        st, body = self.server.http("PUT", "/_matrix/media/v3/upload/localhost/NoSuchMediaId", body=png,
                                    token=self.token, headers={"Content-Type": "image/png"})
        self.assertErr((st, body), 404, "M_NOT_FOUND")
        # at most max_pending_uploads (3) waiting at once per user
        token3 = self.server.register()[1]
        for _ in range(3):
            self.assertEqual(self.server.http("POST", "/_matrix/media/v1/create", token=token3)[0], 200)
        st, body = self.server.http("POST", "/_matrix/media/v1/create", token=token3)
        self.assertErr((st, body), 429, "M_LIMIT_EXCEEDED")

    def test_thumbnail_parameter_errors(self):
        mxc = self.upload_ok(make_png(40, 40), "image/png")
        self.assertErr(self.get(MEDIA + "/thumbnail/%s?width=32" % mxc, token=self.token), 400, "M_MISSING_PARAM")
        self.assertErr(self.get(MEDIA + "/thumbnail/%s?width=abc&height=3" % mxc, token=self.token), 400,
                       "M_INVALID_PARAM")
        self.assertErr(self.get(MEDIA + "/thumbnail/%s?width=-5&height=3" % mxc, token=self.token), 400,
                       "M_INVALID_PARAM")
        self.assertErr(self.thumbnail(mxc, 32, 32, "stretch"), 400, "M_INVALID_PARAM")
        self.assertErr(self.thumbnail("localhost/Nope", 32, 32, "crop"), 404, "M_NOT_FOUND")
        # a broken image that claims to be one
        mxc = self.upload_ok(b"\x89PNG\r\n\x1a\n" + os.urandom(200), "image/png")
        st, body, _, _ = self.thumbnail(mxc, 32, 32, "crop")
        if st == 200:
            self.fail("a corrupt PNG produced a thumbnail")
        self.assertEqual(st, 400, body)

    def test_legacy_routes_are_frozen_by_default(self):
        mxc = self.upload_ok(make_png(20, 20), "image/png")
        st, body, _, _ = self.get("/_matrix/media/v3/download/" + mxc)
        self.assertErr((st, body), 404, "M_NOT_FOUND")
        st, body, _, _ = self.get("/_matrix/media/v3/thumbnail/%s?width=32&height=32" % mxc)
        self.assertErr((st, body), 404, "M_NOT_FOUND")

    def test_media_survives_a_restart(self):
        jpeg = make_jpeg(400, 300)
        mxc = self.upload_ok(jpeg, "image/jpeg", "before.jpg")
        _, _, thumb, _ = self.thumbnail(mxc, 96, 96, "crop")
        self.server.restart()
        st, _, raw, headers = self.download(mxc)
        self.assertEqual((st, raw), (200, jpeg))
        self.assertEqual(headers["Content-Disposition"], 'inline; filename="before.jpg"')
        st, _, raw, _ = self.thumbnail(mxc, 96, 96, "crop")
        self.assertEqual((st, raw), (200, thumb))
        files = [f for _, _, fs in os.walk(os.path.join(self.server.data_dir, "media")) for f in fs]
        self.assertFalse([f for f in files if f.startswith(".tmp")], files)


class ScanOnDownloadTest(MediaTestBase):
    """A file stored before the scanner knew it (antivirus off, or older signatures) is
    caught by scan_on_download, quarantined and withheld from then on."""

    @classmethod
    def setUpClass(cls):
        cls.clamd = Clamd().start()
        cls.server = ServerFixture(config_toml=config())
        try:
            cls.server.start()
        except Exception:
            cls.clamd.stop()
            raise
        cls.user, cls.token, _ = cls.server.register()

    @classmethod
    def tearDownClass(cls):
        cls.server.teardown()
        cls.clamd.stop()

    def test_infected_file_is_withheld_once_scanning_finds_it(self):
        bad = self.upload_ok(eicar(), "text/plain", "old.txt")
        good = self.upload_ok(b"agenda\n", "text/plain", "agenda.txt")
        self.assertEqual(self.download(bad)[0], 200)
        with open(self.server.config_path, "w") as f:
            f.write(config(self.clamd.socket, extra="scan_on_download = true\n"))
        self.server.restart()
        st, body, _, _ = self.download(bad)
        self.assertErr((st, body), 403, "M_FORBIDDEN")
        self.assertIn("infected", body["error"])
        self.assertIn("quarantined", self.server.stderr_text())
        self.assertEqual(self.download(good)[2], b"agenda\n")
        # quarantined for good, even with the scanner gone
        self.clamd.stop()
        self.assertErr(self.download(bad)[:2], 403, "M_FORBIDDEN")


class LegacyAndScannerDownTest(MediaTestBase):
    """legacy_unauthenticated on, and antivirus on with no clamd listening."""

    @classmethod
    def setUpClass(cls):
        cls.dead_socket = "/tmp/despatch-no-clamd-%d.sock" % os.getpid()
        cls.server = ServerFixture(config_toml=config(legacy=True, extra="max_user_bytes = %d\n" % QUOTA))
        cls.server.start()
        cls.scanless = ServerFixture(config_toml=config(cls.dead_socket))
        try:
            cls.scanless.start()
        except Exception:
            cls.server.teardown()
            raise
        cls.user, cls.token, _ = cls.server.register()

    @classmethod
    def tearDownClass(cls):
        cls.server.teardown()
        cls.scanless.teardown()

    def test_legacy_routes_serve_media_uploaded_while_allowed(self):
        png = make_png(500, 400)
        mxc = self.upload_ok(png, "image/png", "map.png")
        st, _, raw, headers = self.get("/_matrix/media/v3/download/" + mxc)
        self.assertEqual((st, raw), (200, png))
        self.assertEqual(headers["Content-Type"], "image/png")
        st, _, raw, _ = self.get("/_matrix/media/v3/download/%s/other.png" % mxc)
        self.assertEqual((st, raw), (200, png))
        st, _, raw, _ = self.get("/_matrix/media/v3/thumbnail/%s?width=96&height=96&method=crop" % mxc)
        self.assertEqual((st, image_size(raw)), (200, (96, 96)))
        # and the authenticated routes too
        self.assertEqual(self.download(mxc)[2], png)

    def test_quota_per_user(self):
        _, token, _ = self.server.register()
        big = opaque_blob(1500000)
        st, body = self.upload(big, token=token)
        self.assertEqual(st, 200, body)
        st, body = self.upload(opaque_blob(QUOTA - 1500000 + 1), token=token)
        self.assertErr((st, body), 403, "M_FORBIDDEN")
        self.assertIn("quota", body["error"])
        st, created = self.server.http("POST", "/_matrix/media/v1/create", token=token)
        self.assertEqual(st, 200, created)
        st, body = self.server.http("PUT", "/_matrix/media/v3/upload/" + created["content_uri"][len("mxc://"):],
                                    body=opaque_blob(600000), token=token)
        self.assertErr((st, body), 403, "M_FORBIDDEN")
        # what still fits is accepted, and other users have their own quota
        self.assertEqual(self.upload(opaque_blob(QUOTA - 1500000), token=token)[0], 200)
        _, other, _ = self.server.register()
        self.assertEqual(self.upload(opaque_blob(1500000), token=other)[0], 200)

    def test_uploads_fail_closed_without_the_scanner(self):
        _, token, _ = self.scanless.register()
        st, body = self.upload(b"harmless\n", "text/plain", token=token, server=self.scanless)
        self.assertErr((st, body), 503, "M_UNKNOWN")
        self.assertIn("scanner", body["error"])


if __name__ == "__main__":
    unittest.main()
