"""Media, room aliases, the public room directory and server ACLs across two real Despatch
servers on loopback (named 127.0.0.1:<port>, certificates from a test CA made here).

- A picture uploaded on A downloads on B through the client's authenticated v1 route
  (fetched over federation, checked and cached), thumbnails too; with A stopped, B still
  serves it from its cache. B's media rules apply to what it fetches: B accepts only images,
  so A's text file is refused on B.
- A's federation media routes answer multipart/mixed to a signed request only; bad or
  unknown media IDs are Matrix errors.
- An alias of A resolves on B and B's user joins by it; B lists A's public rooms.
- An m.room.server_acl denying IP literals (B is one) makes A refuse B's make_join and
  state reads with 403 M_FORBIDDEN and drop the PDUs B sends afterwards.
"""

import json
import os
import sqlite3
import time
import unittest
import uuid

from harness import http_request, q, run_cli
from media_helpers import image_size, make_png
from federation_helpers import PairTestCase
from test_federation_keys import federation_request, wait_for_message

V1_MEDIA = "/_matrix/client/v1/media"
FED = "/_matrix/federation/v1"


def parse_multipart(content_type, raw):
    """The two parts of a multipart/mixed body: [(headers dict, bytes), ...]."""
    assert content_type.startswith("multipart/mixed"), content_type
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    parts = []
    for chunk in raw.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, body = chunk[2:].partition(b"\r\n\r\n")
        headers = {}
        for line in head.split(b"\r\n"):
            if b":" in line:
                k, v = line.split(b":", 1)
                headers[k.strip().lower().decode()] = v.strip().decode()
        parts.append((headers, body[:-2] if body.endswith(b"\r\n") else body))
    return parts


class FederationMediaTest(PairTestCase):
    PREFIX = "despatch-fedmedia-"

    @classmethod
    def configure(cls):
        # B takes only images, whoever uploaded them.
        with open(cls.b.fx.config_path, "a") as f:
            f.write('[media]\nallowed_types = ["image/*"]\n')

    # ---- helpers -------------------------------------------------------------------

    def upload(self, peer, data, content_type, filename="picture.png"):
        st, body = http_request(peer.fx.host, peer.fx.port, "POST",
                                "/_matrix/media/v3/upload?filename=" + q(filename), body=data,
                                token=peer.user_token, headers={"Content-Type": content_type})
        self.assertEqual(st, 200, body)
        server, media_id = body["content_uri"][len("mxc://"):].split("/")
        self.assertEqual(server, peer.name)
        return media_id

    def client_get(self, peer, path):
        """(status, JSON or None, raw bytes, headers with lower-case names)."""
        st, parsed, raw, headers = http_request(peer.fx.host, peer.fx.port, "GET", path, token=peer.user_token,
                                                raw_response=True)
        return st, parsed, raw, {k.lower(): v for k, v in headers.items()}

    def federation(self, peer, method, target, authorization=None, body=None):
        """A request to peer's federation listener; (status, JSON or None, raw, headers)."""
        return federation_request(self.ca, peer, method, target, authorization, body, full=True)

    def signed(self, method, target, body=None):
        """A request from B to A's federation listener, signed with B's key."""
        auth = self.b.sign(self.a.name, target, method=method) if body is None else None
        if body is not None:
            auth = self.sign_with_body(method, target, body)
        return self.federation(self.a, method, target, authorization=auth, body=body)

    def sign_with_body(self, method, target, body):
        res = run_cli("federation", "sign-request", "--data", self.b.fx.data_dir, "--server-name", self.b.name,
                      "--destination", self.a.name, "--method", method, "--uri", target,
                      "--content", json.dumps(body))
        self.assertEqual(res.returncode, 0, res.stderr)
        return res.stdout.strip()

    def assertErr(self, got, status, errcode):
        st, body = got[0], got[1]
        self.assertEqual(st, status, got[:2])
        self.assertIsInstance(body, dict, got[:2])
        self.assertEqual(body.get("errcode"), errcode, body)
        self.assertIsInstance(body.get("error"), str, body)

    def cached_rows(self, peer, server, media_id):
        db = sqlite3.connect(os.path.join(peer.fx.data_dir, "despatch.db"))
        try:
            return db.execute("SELECT content_type, size FROM media WHERE server_name=? AND media_id=?",
                              (server, media_id)).fetchall()
        finally:
            db.close()

    # ---- media -----------------------------------------------------------------------

    def test_picture_of_a_downloads_on_b_and_is_then_served_from_b_cache(self):
        png = make_png(200, 120, seed=7)
        media_id = self.upload(self.a, png, "image/png", "report chart.png")
        self.assertEqual(self.cached_rows(self.b, self.a.name, media_id), [])
        path = "%s/download/%s/%s" % (V1_MEDIA, q(self.a.name), media_id)
        st, _, raw, headers = self.client_get(self.b, path)
        self.assertEqual(st, 200, raw[:200])
        self.assertEqual(raw, png)
        self.assertEqual(headers["content-type"], "image/png")
        self.assertIn("report chart.png", headers.get("content-disposition", ""))
        # Cached on B under A's name and the media ID.
        self.assertEqual(self.cached_rows(self.b, self.a.name, media_id), [("image/png", len(png))])
        # A thumbnail of the remote picture, made from B's copy.
        st, _, thumb, headers = self.client_get(
            self.b, "%s/thumbnail/%s/%s?width=32&height=32&method=crop" % (V1_MEDIA, q(self.a.name), media_id))
        self.assertEqual(st, 200, thumb[:200])
        self.assertIn(headers["content-type"], ("image/png", "image/jpeg"))
        self.assertEqual(image_size(thumb), (32, 32))
        # With A down, B still serves the picture from its cache.
        self.a.fx.stop()
        try:
            st, _, again, headers = self.client_get(self.b, path + "/renamed.png")
            self.assertEqual(st, 200, again[:200])
            self.assertEqual(again, png)
            self.assertIn("renamed.png", headers.get("content-disposition", ""))
            # ...while media of A that B never fetched cannot be had now.
            st, body, _, _ = self.client_get(self.b, "%s/download/%s/%s" % (V1_MEDIA, q(self.a.name), "NeverFetched1"))
            self.assertEqual(st, 502, body)
        finally:
            self.a.fx.start()

    def test_b_applies_its_own_type_rules_to_remote_media(self):
        media_id = self.upload(self.a, b"Plain words and no picture at all.\n" * 10, "text/plain", "notes.txt")
        got = self.client_get(self.b, "%s/download/%s/%s" % (V1_MEDIA, q(self.a.name), media_id))
        self.assertErr(got, 403, "M_FORBIDDEN")
        self.assertIn("not accepted", got[1]["error"])
        self.assertEqual(self.cached_rows(self.b, self.a.name, media_id), [])
        # A itself serves it to its own users.
        st, _, raw, _ = self.client_get(self.a, "%s/download/%s/%s" % (V1_MEDIA, q(self.a.name), media_id))
        self.assertEqual(st, 200)
        self.assertTrue(raw.startswith(b"Plain words"))

    def test_client_errors_for_remote_media(self):
        self.assertErr(self.client_get(self.b, "%s/download/%s/%s" % (V1_MEDIA, q(self.a.name), "NoSuchMedia123")),
                       404, "M_NOT_FOUND")
        self.assertErr(self.client_get(self.b, "%s/download/%s/%s" % (V1_MEDIA, q(self.a.name), "bad.id")),
                       400, "M_INVALID_PARAM")
        # A server not on B's allow-list is never contacted.
        before = self.b.metrics()
        stranger = "127.0.0.1:9"
        self.assertErr(self.client_get(self.b, "%s/download/%s/%s" % (V1_MEDIA, q(stranger), "SomeMedia")),
                       403, "M_FORBIDDEN")
        self.assertEqual(self.b.metrics()["federation_outgoing_refused_not_allowed"]
                         - before["federation_outgoing_refused_not_allowed"], 1)
        self.assertEqual(self.b.metrics()["federation_outgoing"], before["federation_outgoing"])
        # The deprecated unauthenticated route never fetches remote media, nor serves a cached copy.
        media_id = self.upload(self.a, make_png(20, 20, seed=3), "image/png")
        st, _, _, _ = self.client_get(self.b, "%s/download/%s/%s" % (V1_MEDIA, q(self.a.name), media_id))
        self.assertEqual(st, 200)
        st, body, _, _ = http_request(self.b.fx.host, self.b.fx.port, "GET",
                                      "/_matrix/media/v3/download/%s/%s" % (q(self.a.name), media_id),
                                      raw_response=True)
        self.assertErr((st, body), 404, "M_NOT_FOUND")

    def test_federation_media_routes(self):
        png = make_png(300, 200, seed=11)
        media_id = self.upload(self.a, png, "image/png", "chart.png")
        target = "%s/media/download/%s" % (FED, media_id)
        # Unsigned: refused.
        self.assertErr(self.federation(self.a, "GET", target), 401, "M_UNAUTHORIZED")
        st, _, raw, headers = self.signed("GET", target)
        self.assertEqual(st, 200, raw[:300])
        parts = parse_multipart(headers["content-type"], raw)
        self.assertEqual(len(parts), 2, parts)
        self.assertEqual(parts[0][0]["content-type"], "application/json")
        self.assertEqual(json.loads(parts[0][1]), {})
        self.assertEqual(parts[1][0]["content-type"], "image/png")
        self.assertIn("chart.png", parts[1][0]["content-disposition"])
        self.assertEqual(parts[1][1], png)
        # Thumbnails the same way.
        st, _, raw, headers = self.signed("GET", "%s/media/thumbnail/%s?width=96&height=96&method=crop" % (FED, media_id))
        self.assertEqual(st, 200, raw[:300])
        parts = parse_multipart(headers["content-type"], raw)
        self.assertIn(parts[1][0]["content-type"], ("image/png", "image/jpeg"))
        self.assertEqual(image_size(parts[1][1]), (96, 96))
        # Bad input.
        self.assertErr(self.signed("GET", "%s/media/download/%s" % (FED, "NoSuchMedia123")), 404, "M_NOT_FOUND")
        self.assertErr(self.signed("GET", "%s/media/download/%s" % (FED, "bad.id")), 400, "M_INVALID_PARAM")
        self.assertErr(self.signed("GET", "%s/media/download/%s?timeout_ms=soon" % (FED, media_id)),
                       400, "M_INVALID_PARAM")
        self.assertErr(self.signed("GET", "%s/media/thumbnail/%s?width=96" % (FED, media_id)), 400, "M_MISSING_PARAM")
        self.assertErr(self.signed("GET", "%s/media/thumbnail/%s?width=-1&height=5" % (FED, media_id)),
                       400, "M_INVALID_PARAM")
        self.assertErr(self.signed("GET", "%s/media/thumbnail/%s?width=9&height=9&method=zoom" % (FED, media_id)),
                       400, "M_INVALID_PARAM")

    def test_old_media_route_for_servers_before_authenticated_media(self):
        # Servers that predate authenticated media fetch with the client's old routes on the
        # federation listener, signed: the file itself, this server's media only.
        png = make_png(50, 40, seed=21)
        media_id = self.upload(self.a, png, "image/png", "old route.png")
        for prefix in ("/_matrix/media/v3", "/_matrix/media/r0"):
            target = "%s/download/%s/%s" % (prefix, q(self.a.name), media_id)
            self.assertErr(self.federation(self.a, "GET", target), 401, "M_UNAUTHORIZED")
            st, _, raw, headers = self.signed("GET", target + "?allow_remote=false")
            self.assertEqual(st, 200, raw[:300])
            self.assertEqual(raw, png)
            self.assertEqual(headers["content-type"], "image/png")
            self.assertIn("old route.png", headers.get("content-disposition", ""))
        st, _, thumb, _ = self.signed("GET", "/_matrix/media/v3/thumbnail/%s/%s?width=32&height=32&method=crop"
                                      % (q(self.a.name), media_id))
        self.assertEqual(st, 200, thumb[:300])
        self.assertEqual(image_size(thumb), (32, 32))
        # Another server's media is never passed on from here.
        self.assertErr(self.signed("GET", "/_matrix/media/v3/download/%s/%s" % (q(self.b.name), media_id)),
                       404, "M_NOT_FOUND")

    # ---- directory -------------------------------------------------------------------

    def test_alias_of_a_resolves_and_joins_from_b(self):
        local = "dept-a-" + uuid.uuid4().hex[:8]
        st, body = self.a.client("POST", "/createRoom", {"preset": "public_chat", "room_alias_name": local,
                                                         "name": "Joined by alias"})
        self.assertEqual(st, 200, body)
        room = body["room_id"]
        alias = "#%s:%s" % (local, self.a.name)
        st, found = self.b.client("GET", "/directory/room/%s" % q(alias))
        self.assertEqual(st, 200, found)
        self.assertEqual(found["room_id"], room)
        self.assertEqual(found["servers"], [self.a.name])
        self.assertErr(self.b.client("GET", "/directory/room/%s" % q("#nothing-here:" + self.a.name)),
                       404, "M_NOT_FOUND")
        st, joined = self.b.client("POST", "/join/%s" % q(alias), {})
        self.assertEqual(st, 200, joined)
        self.assertEqual(joined["room_id"], room)
        st, members = self.a.client("GET", "/rooms/%s/joined_members" % q(room))
        self.assertEqual(st, 200, members)
        self.assertIn(self.b.user_id, members["joined"])
        # Now A names B too as a server in the room.
        st, found = self.b.client("GET", "/directory/room/%s" % q(alias))
        self.assertEqual(st, 200, found)
        self.assertEqual(found["servers"][0], self.a.name)
        self.assertIn(self.b.name, found["servers"])
        # A's federation query itself.
        st, answer, _, _ = self.signed("GET", "%s/query/directory?room_alias=%s" % (FED, q(alias)))
        self.assertEqual(st, 200, answer)
        self.assertEqual(answer["room_id"], room)
        self.assertErr(self.signed("GET", "%s/query/directory?room_alias=%s" % (FED, q("#nope:" + self.a.name))),
                       404, "M_NOT_FOUND")
        self.assertErr(self.signed("GET", "%s/query/directory?room_alias=%s" % (FED, q("#x:" + self.b.name))),
                       404, "M_NOT_FOUND")
        self.assertErr(self.signed("GET", "%s/query/directory?room_alias=%s" % (FED, q("not an alias"))),
                       400, "M_INVALID_PARAM")
        self.assertErr(self.signed("GET", "%s/query/directory" % FED), 400, "M_MISSING_PARAM")

    def test_public_rooms_of_a_listed_from_b(self):
        name = "Directory " + uuid.uuid4().hex[:8]
        st, body = self.a.client("POST", "/createRoom", {"preset": "public_chat", "visibility": "public",
                                                         "name": name, "topic": "listed for other departments"})
        self.assertEqual(st, 200, body)
        room = body["room_id"]
        st, listing = self.b.client("GET", "/publicRooms?server=%s&limit=100" % q(self.a.name))
        self.assertEqual(st, 200, listing)
        entries = {e["room_id"]: e for e in listing["chunk"]}
        self.assertIn(room, entries)
        self.assertEqual(entries[room]["name"], name)
        self.assertEqual(entries[room]["topic"], "listed for other departments")
        # B's own directory does not have it.
        st, own = self.b.client("GET", "/publicRooms")
        self.assertEqual(st, 200, own)
        self.assertNotIn(room, [e["room_id"] for e in own["chunk"]])
        # POST with a filter is passed to A, which applies it.
        st, hits = self.b.client("POST", "/publicRooms?server=%s" % q(self.a.name),
                                 {"filter": {"generic_search_term": name.split()[1]}})
        self.assertEqual(st, 200, hits)
        self.assertEqual([e["room_id"] for e in hits["chunk"]], [room])
        st, none = self.b.client("POST", "/publicRooms?server=%s" % q(self.a.name),
                                 {"filter": {"generic_search_term": "no-room-is-called-this"}})
        self.assertEqual(st, 200, none)
        self.assertEqual(none["chunk"], [])
        self.assertErr(self.b.client("GET", "/publicRooms?server=%s" % q("not a server!")), 400, "M_INVALID_PARAM")
        # A's federation routes directly, and their bad input.
        st, direct, _, _ = self.signed("GET", "%s/publicRooms?limit=100" % FED)
        self.assertEqual(st, 200, direct)
        self.assertIn(room, [e["room_id"] for e in direct["chunk"]])
        self.assertErr(self.signed("GET", "%s/publicRooms?include_all_networks=maybe" % FED), 400, "M_INVALID_PARAM")
        self.assertErr(self.signed("GET", "%s/publicRooms?limit=lots" % FED), 400, "M_INVALID_PARAM")
        self.assertErr(self.signed("GET", "%s/publicRooms?since=nonsense" % FED), 400, "M_INVALID_PARAM")
        self.assertErr(self.signed("POST", "%s/publicRooms" % FED, body={"limit": "ten"}), 400, "M_BAD_JSON")
        # Pages: a second public room, one room a page.
        st, body = self.a.client("POST", "/createRoom", {"preset": "public_chat", "visibility": "public",
                                                         "name": name + " annex"})
        self.assertEqual(st, 200, body)
        seen = []
        since = None
        for _ in range(10):
            ask = {"limit": 1} if since is None else {"limit": 1, "since": since}
            st, page = self.signed("POST", "%s/publicRooms" % FED, body=ask)[:2]
            self.assertEqual(st, 200, page)
            self.assertLessEqual(len(page["chunk"]), 1)
            seen += [e["room_id"] for e in page["chunk"]]
            since = page.get("next_batch")
            if since is None:
                break
        self.assertIn(room, seen)
        self.assertIn(body["room_id"], seen)
        self.assertEqual(len(seen), len(set(seen)))

    # ---- server ACLs -----------------------------------------------------------------

    def test_server_acl_shuts_b_out(self):
        st, body = self.a.client("POST", "/createRoom", {"preset": "public_chat", "name": "ACL room"})
        self.assertEqual(st, 200, body)
        room = body["room_id"]
        st, body = self.b.client("POST", "/join/%s" % q(room), {})
        self.assertEqual(st, 200, body)
        st, sent = self.b.client("PUT", "/rooms/%s/send/m.room.message/acl-before" % q(room),
                                 {"msgtype": "m.text", "body": "before the ACL"})
        self.assertEqual(st, 200, sent)
        wait_for_message(self.a, room, "before the ACL")
        stranger = "@x%s:%s" % (uuid.uuid4().hex[:6], self.b.name)
        make_join = "%s/make_join/%s/%s?ver=11" % (FED, q(room), q(stranger))
        st, tmpl, _, _ = self.signed("GET", make_join)
        self.assertEqual(st, 200, tmpl)

        # B's server name is an IP literal: this ACL denies it (A judges others, not itself).
        st, acl = self.a.client("PUT", "/rooms/%s/state/m.room.server_acl/" % q(room),
                                {"allow": ["*"], "deny": [], "allow_ip_literals": False})
        self.assertEqual(st, 200, acl)
        self.assertErr(self.signed("GET", make_join), 403, "M_FORBIDDEN")
        self.assertErr(self.signed("GET", "%s/state_ids/%s?event_id=%s" % (FED, q(room), q(acl["event_id"]))),
                       403, "M_FORBIDDEN")
        self.assertErr(self.signed("GET", "%s/backfill/%s?v=%s&limit=5" % (FED, q(room), q(acl["event_id"]))),
                       403, "M_FORBIDDEN")

        before = self.a.metrics()
        st, sent = self.b.client("PUT", "/rooms/%s/send/m.room.message/acl-after" % q(room),
                                 {"msgtype": "m.text", "body": "after the ACL"})
        self.assertEqual(st, 200, sent)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.a.metrics()["federation_pdus_refused"] > before["federation_pdus_refused"]:
                break
            time.sleep(0.2)
        self.assertGreater(self.a.metrics()["federation_pdus_refused"], before["federation_pdus_refused"])
        self.assertEqual(self.a.metrics()["federation_pdus_accepted"], before["federation_pdus_accepted"])
        st, ev = self.a.client("GET", "/rooms/%s/event/%s" % (q(room), q(sent["event_id"])))
        self.assertEqual(st, 404, ev)

        # A room without an ACL is unaffected.
        st, body = self.a.client("POST", "/createRoom", {"preset": "public_chat", "name": "No ACL"})
        self.assertEqual(st, 200, body)
        st, tmpl, _, _ = self.signed("GET", "%s/make_join/%s/%s?ver=11" % (FED, q(body["room_id"]), q(stranger)))
        self.assertEqual(st, 200, tmpl)


if __name__ == "__main__":
    unittest.main()
