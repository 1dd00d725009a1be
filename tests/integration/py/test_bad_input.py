"""Bad input: every malformed, unauthorised or abusive request gets the spec's status and
errcode, and the server keeps serving afterwards.

Where the spec leaves a choice, the test documents the choice made:
- A syntactically invalid room ID in a /rooms/{roomId}/... path: 400 M_INVALID_PARAM
  (account-data.yaml states exactly this for /user/{userId}/rooms/{roomId}/account_data).
- A syntactically invalid room alias: 400 M_INVALID_PARAM (directory.yaml).
- A syntactically invalid user ID in GET /profile/{userId}: 400 M_INVALID_PARAM
  (M_INVALID_PARAM: "A parameter that was specified has the wrong value"); a well-formed
  but unknown user is 404 M_NOT_FOUND (profile.yaml).
- An invalid or unknown event ID in GET /rooms/{roomId}/event/{eventId}: 404 M_NOT_FOUND,
  the only error rooms.yaml lists ("The event was not found or you do not have permission
  to read this event"); in receipt and redact paths: 400 M_INVALID_PARAM.
- An unknown but well-formed room: reading state/messages is 403 M_FORBIDDEN (rooms.yaml,
  message_pagination.yaml: "You aren't a member of the room"); directory visibility is
  404 M_NOT_FOUND (list_public_rooms.yaml); alias lookup is 404 M_NOT_FOUND
  (directory.yaml). Sending to or joining an unknown room is unspecified: either
  403 M_FORBIDDEN or 404 M_NOT_FOUND is accepted.
- An invalid /sync since token: 400 M_INVALID_PARAM (sync.yaml gives no errcode).
- Another user's filter: 403 M_FORBIDDEN (filter.yaml lists only 404, M_FORBIDDEN is the
  common code for refused access).
"""

import concurrent.futures
import json
import random
import select
import socket
import time
import unittest
import uuid

from harness import ServerFixture, json_of, q, raw_exchange, status_of

V3 = "/_matrix/client/v3"
PASSWORD = "bad input password"
MAX_BODY = 131072  # the main server's [limits] max_request_bytes

MAIN_CONFIG = """
[limits]
max_request_bytes = %d
""" % MAX_BODY


class ErrorAsserts:
    def assertErr(self, resp, status, errcode, what=""):
        # Each check is its own subTest so one wrong answer does not hide the others.
        with self.subTest(what):
            self._assertErr(resp, status, errcode, what)

    def _assertErr(self, resp, status, errcode, what):
        st, body = resp
        self.assertIsInstance(body, dict, "%s: response is not a JSON object (status %s): %r"
                              % (what, st, body))
        self.assertEqual((st, body.get("errcode")), (status, errcode),
                         "%s: expected %s %s, got %s %r" % (what, status, errcode, st, body))
        self.assertIsInstance(body.get("error"), str, "%s: error message missing: %r" % (what, body))

    def assertErrOneOf(self, resp, pairs, what=""):
        with self.subTest(what):
            self._assertErrOneOf(resp, pairs, what)

    def _assertErrOneOf(self, resp, pairs, what):
        st, body = resp
        self.assertIsInstance(body, dict, "%s: response is not JSON (status %s): %r"
                              % (what, st, body))
        self.assertIn((st, body.get("errcode")), pairs,
                      "%s: expected one of %s, got %s %r" % (what, pairs, st, body))

    def assertAlive(self, server):
        self.assertTrue(server.alive(), "server process died; stderr:\n" + server.stderr_text()[-3000:])
        self.assertTrue(server.versions_ok(), "server no longer answers /versions")


def big_request(host, port, head, body_chunks, timeout=10.0):
    """Sends head then body chunks on a raw socket while watching for an early response.

    Returns the raw response bytes (b"" if none). The server may answer and close before
    the whole body is sent; sending stops as soon as any response bytes arrive.
    """
    s = socket.create_connection((host, port), timeout=timeout)
    got = b""
    try:
        s.sendall(head)
        deadline = time.monotonic() + timeout
        for chunk in body_chunks:
            r, _, _ = select.select([s], [], [], 0)
            if r:
                break
            try:
                s.sendall(chunk)
            except OSError:
                break
        s.settimeout(max(0.1, deadline - time.monotonic()))
        while True:
            try:
                c = s.recv(65536)
            except (socket.timeout, OSError):
                break
            if not c:
                break
            got += c
            if b"\r\n\r\n" in got:
                head_part, _, rest = got.partition(b"\r\n\r\n")
                for line in head_part.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        if len(rest) >= int(line.split(b":", 1)[1]):
                            return got
    finally:
        s.close()
    return got


class BadInputTests(ErrorAsserts, unittest.TestCase):
    """One server (open registration, no rate limit, 128 KiB body limit) for most cases."""

    @classmethod
    def setUpClass(cls):
        cls.server = ServerFixture(open_registration=True, rate_limit=False,
                                   config_toml=MAIN_CONFIG)
        cls.server.start()
        srv = cls.server
        cls.alice, cls.atok, _ = srv.register("alice" + uuid.uuid4().hex[:6], PASSWORD)
        cls.eve, cls.etok, _ = srv.register("eve" + uuid.uuid4().hex[:6], PASSWORD)
        st, body = srv.http("POST", V3 + "/createRoom",
                            {"preset": "private_chat", "name": "Alice only"}, token=cls.atok)
        assert st == 200, body
        cls.room = body["room_id"]
        st, body = srv.http("PUT", V3 + "/rooms/%s/send/m.room.message/setup1" % q(cls.room),
                            {"msgtype": "m.text", "body": "private"}, token=cls.atok)
        assert st == 200, body
        cls.event = body["event_id"]
        st, body = srv.http("POST", V3 + "/user/%s/filter" % q(cls.alice),
                            {"room": {"timeline": {"limit": 5}}}, token=cls.atok)
        assert st == 200, body
        cls.filter_id = body["filter_id"]
        st, body = srv.http("PUT", V3 + "/user/%s/account_data/org.example.secret" % q(cls.alice),
                            {"secret": 1}, token=cls.atok)
        assert st == 200, body

    @classmethod
    def tearDownClass(cls):
        cls.server.teardown()

    def tearDown(self):
        self.assertAlive(self.server)

    def http(self, *a, **kw):
        return self.server.http(*a, **kw)

    def room_path(self, suffix, room=None):
        return V3 + "/rooms/%s%s" % (q(room or self.room), suffix)

    # ---- body syntax ---------------------------------------------------------------

    def test_malformed_json_body(self):
        for raw in [b'{"name": ', b"{name: 1}", b"not json at all", b'{"a":1}}', b"\xff\xfe{}",
                    b'{"a": "\\x"}', b"{'a': 1}", b'{"a":1,}']:
            self.assertErr(self.http("POST", V3 + "/createRoom", raw, token=self.atok),
                           400, "M_NOT_JSON", "createRoom body %r" % raw)
        self.assertErr(self.http("POST", V3 + "/login", b'{"type": "m.login.password"'),
                       400, "M_NOT_JSON", "login with truncated JSON")
        self.assertErr(self.http("PUT", self.room_path("/send/m.room.message/nj1"), b"{bad",
                                 token=self.atok), 400, "M_NOT_JSON", "send with bad JSON")

    def test_json_that_is_not_an_object(self):
        for raw in [b"[]", b"[1, 2]", b'"a string"', b"42", b"null", b"true"]:
            self.assertErr(self.http("POST", V3 + "/createRoom", raw, token=self.atok),
                           400, "M_BAD_JSON", "createRoom body %r" % raw)
            self.assertErr(self.http("PUT", self.room_path("/send/m.room.message/%s"
                                                           % uuid.uuid4().hex), raw,
                                     token=self.atok),
                           400, "M_BAD_JSON", "send body %r" % raw)
        self.assertErr(self.http("POST", V3 + "/login", b"[]"), 400, "M_BAD_JSON", "login []")

    def test_wrong_field_types(self):
        a = self.atok
        cases = [
            ("POST", V3 + "/createRoom", {"name": 42}, a),
            ("POST", V3 + "/createRoom", {"topic": ["x"]}, a),
            ("POST", V3 + "/createRoom", {"invite": "@bob:localhost"}, a),
            ("POST", V3 + "/createRoom", {"visibility": True}, a),
            ("POST", V3 + "/createRoom", {"preset": 7}, a),
            ("POST", V3 + "/createRoom", {"creation_content": "x"}, a),
            ("POST", V3 + "/login", {"type": "m.login.password",
                                     "identifier": {"type": "m.id.user", "user": "alice"},
                                     "password": 12345678}, None),
            ("POST", V3 + "/login", {"type": "m.login.password", "identifier": "alice",
                                     "password": "x"}, None),
            ("POST", V3 + "/login", {"type": 1, "user": "alice", "password": "x"}, None),
            ("PUT", self.room_path("/typing/%s" % q(self.alice)), {"typing": "yes"}, a),
            ("PUT", self.room_path("/typing/%s" % q(self.alice)),
             {"typing": True, "timeout": "soon"}, a),
            ("PUT", V3 + "/profile/%s/displayname" % q(self.alice), {"displayname": 5}, a),
            ("POST", self.room_path("/read_markers"), {"m.fully_read": 5}, a),
            ("POST", V3 + "/user/%s/filter" % q(self.alice), {"room": "all"}, a),
            ("POST", V3 + "/user/%s/filter" % q(self.alice), {"event_fields": "type"}, a),
            ("POST", V3 + "/account/password", {"new_password": 12345678}, a),
        ]
        for method, path, body, tok in cases:
            self.assertErr(self.http(method, path, body, token=tok), 400, "M_BAD_JSON",
                           "%s %s %r" % (method, path, body))

    def test_registration_username_checks(self):
        # registration.yaml: M_INVALID_USERNAME / M_USER_IN_USE, and "Homeservers MUST
        # perform the relevant checks and return these codes before performing
        # User-Interactive Authentication".
        taken = self.alice.split(":")[0][1:]
        for with_auth in (True, False):
            for name, code in [("bad name", "M_INVALID_USERNAME"),
                               ("star*", "M_INVALID_USERNAME"),
                               ("a" * 300, "M_INVALID_USERNAME"),
                               (taken, "M_USER_IN_USE")]:
                body = {"username": name, "password": PASSWORD}
                if with_auth:
                    body["auth"] = {"type": "m.login.dummy"}
                self.assertErr(self.http("POST", V3 + "/register", body), 400, code,
                               "register %r %s auth" % (name[:20], "with" if with_auth else "before"))
        for name, code in [("bad name", "M_INVALID_USERNAME"), ("a" * 300, "M_INVALID_USERNAME"),
                           (taken, "M_USER_IN_USE")]:
            self.assertErr(self.http("GET", V3 + "/register/available?username=" + q(name)),
                           400, code, "register/available %r" % name[:20])
        self.assertErr(self.http("POST", V3 + "/register",
                                 {"username": "numpw" + uuid.uuid4().hex[:6], "password": 12345678,
                                  "auth": {"type": "m.login.dummy"}}),
                       400, "M_BAD_JSON", "register with a numeric password")

    # ---- routing -------------------------------------------------------------------

    def test_unknown_endpoint(self):
        for method, path in [("GET", V3 + "/no_such_endpoint"),
                             ("POST", V3 + "/rooms/%s/no_such_thing" % q(self.room)),
                             ("GET", "/_matrix/client/v9/sync"),
                             ("GET", "/_matrix/nonsense"),
                             ("GET", "/"),
                             ("GET", "/favicon.ico")]:
            self.assertErr(self.http(method, path, token=self.atok), 404, "M_UNRECOGNIZED",
                           "%s %s" % (method, path))
        # Unauthenticated too: routing comes before authentication.
        self.assertErr(self.http("GET", V3 + "/no_such_endpoint"), 404, "M_UNRECOGNIZED",
                       "unknown endpoint without a token")

    def test_known_path_wrong_method(self):
        for method, path in [("DELETE", V3 + "/login"),
                             ("GET", V3 + "/createRoom"),
                             ("PUT", V3 + "/sync"),
                             ("POST", V3 + "/account/whoami"),
                             ("PATCH", V3 + "/rooms/%s/state" % q(self.room)),
                             ("GET", V3 + "/rooms/%s/send/m.room.message/x" % q(self.room))]:
            self.assertErr(self.http(method, path, token=self.atok), 405, "M_UNRECOGNIZED",
                           "%s %s" % (method, path))

    # ---- body size -----------------------------------------------------------------

    def test_body_over_limit_with_honest_content_length(self):
        srv = self.server
        body = json.dumps({"name": "x" * (MAX_BODY + 1000)}).encode()
        for path, tok in [(V3 + "/createRoom", self.atok), (V3 + "/login", None)]:
            head = ("POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                    "Content-Length: %d\r\n%s\r\n"
                    % (path, len(body),
                       "Authorization: Bearer %s\r\n" % tok if tok else "")).encode()
            chunks = [body[i:i + 16384] for i in range(0, len(body), 16384)]
            raw = big_request(srv.host, srv.port, head, chunks)
            self.assertErr((status_of(raw), json_of(raw)), 413, "M_TOO_LARGE",
                           "honest Content-Length %d on %s (raw reply %r)"
                           % (len(body), path, raw[:120]))
        # The same through http.client, headers only: a Content-Length far above the limit
        # is refused without the server waiting for the body.
        raw = big_request(srv.host, srv.port,
                          ("PUT %s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                           "Content-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n"
                           % (self.room_path("/send/m.room.message/big1"), self.atok)).encode(),
                          [], timeout=5)
        self.assertErr((status_of(raw), json_of(raw)), 413, "M_TOO_LARGE",
                       "Content-Length 10^12 with no body (raw reply %r)" % raw[:120])

    def test_body_over_limit_with_chunked_body(self):
        srv = self.server
        head = ("POST %s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                % (V3 + "/createRoom", self.atok)).encode()
        piece = b'{"name": "' + b"y" * 16000
        chunks = []
        sent = 0
        while sent < MAX_BODY * 3:
            data = piece if sent == 0 else b"y" * 16000
            chunks.append(b"%x\r\n%s\r\n" % (len(data), data))
            sent += len(data)
        raw = big_request(srv.host, srv.port, head, chunks)
        self.assertErr((status_of(raw), json_of(raw)), 413, "M_TOO_LARGE",
                       "chunked body of %d bytes with no Content-Length (raw reply %r)"
                       % (sent, raw[:120]))

    def test_body_under_limit_accepted(self):
        # A large body that fits both limits is fine (guards against over-strict limits).
        st, body = self.http("PUT", self.room_path("/send/m.room.message/%s" % uuid.uuid4().hex),
                             {"msgtype": "m.text", "body": "z" * 60000}, token=self.atok)
        self.assertEqual(st, 200, body)

    def test_oversized_event_content(self):
        path = self.room_path("/send/m.room.message/%s" % uuid.uuid4().hex)
        content = {"msgtype": "m.text", "body": "x" * 70000}
        self.assertLess(len(json.dumps(content)), MAX_BODY)
        self.assertErr(self.http("PUT", path, content, token=self.atok), 413, "M_TOO_LARGE",
                       "70000-byte message event")
        self.assertErr(self.http("PUT", self.room_path("/state/org.example.big/"),
                                 {"blob": "s" * 70000}, token=self.atok),
                       413, "M_TOO_LARGE", "70000-byte state event")

    def test_floats_and_out_of_range_integers_in_event_content(self):
        cases = [
            {"msgtype": "m.text", "body": "x", "weight": 1.5},
            {"msgtype": "m.text", "body": "x", "nested": {"deeper": [1, 2, 0.25]}},
            {"msgtype": "m.text", "body": "x", "exp": 1e3},
            {"msgtype": "m.text", "body": "x", "huge": 2 ** 53},
            {"msgtype": "m.text", "body": "x", "tiny": -(2 ** 53)},
        ]
        for content in cases:
            raw = json.dumps(content)
            self.assertErr(self.http("PUT", self.room_path("/send/m.room.message/%s"
                                                           % uuid.uuid4().hex),
                                     raw, token=self.atok), 400, "M_BAD_JSON", "content " + raw)
        self.assertErr(self.http("PUT", self.room_path("/state/org.example.f/"),
                                 '{"v": 0.5}', token=self.atok),
                       400, "M_BAD_JSON", "state content with a float")

    # ---- identifiers in paths ----------------------------------------------------

    def test_invalid_room_id_in_path(self):
        for bad in ["not_a_room", "!nocolon", "#alias:localhost", "@user:localhost", "!:"]:
            for method, suffix, body in [("GET", "/state", None),
                                         ("GET", "/messages", None),
                                         ("GET", "/members", None),
                                         ("PUT", "/send/m.room.message/%s" % uuid.uuid4().hex,
                                          {"msgtype": "m.text", "body": "x"}),
                                         ("POST", "/join", {})]:
                self.assertErr(self.http(method, V3 + "/rooms/%s%s" % (q(bad), suffix), body,
                                         token=self.atok),
                               400, "M_INVALID_PARAM", "%s /rooms/%s%s" % (method, bad, suffix))
            self.assertErr(self.http("GET", V3 + "/user/%s/rooms/%s/account_data/x"
                                     % (q(self.alice), q(bad)), token=self.atok),
                           400, "M_INVALID_PARAM", "room account data for room %r" % bad)

    def test_invalid_alias(self):
        for bad in ["noprefix:localhost", "#nocolon", "!room:localhost"]:
            self.assertErr(self.http("GET", V3 + "/directory/room/%s" % q(bad), token=self.atok),
                           400, "M_INVALID_PARAM", "alias %r" % bad)

    def test_invalid_user_id_in_path(self):
        # "@:localhost" is not here: historical user IDs may have an empty localpart
        # (appendices.md, "Historical User IDs"), so servers must accept it.
        for bad in ["not_a_user", "@nocolon", "nosigil:localhost", "!room:localhost",
                    "@bad\x00nul:localhost"]:
            self.assertErr(self.http("GET", V3 + "/profile/%s" % q(bad), token=self.atok),
                           400, "M_INVALID_PARAM", "GET /profile/%s" % bad)
        self.assertErr(self.http("GET", V3 + "/profile/%s" % q("@nobody:localhost"),
                                 token=self.atok),
                       404, "M_NOT_FOUND", "GET /profile of a well-formed unknown user")
        self.assertErrOneOf(self.http("POST", self.room_path("/invite"), {"user_id": "not-a-user"},
                                      token=self.atok),
                            [(400, "M_INVALID_PARAM"), (400, "M_BAD_JSON")],
                            "invite a malformed user ID")

    def test_invalid_event_id_in_path(self):
        for bad in ["not_an_event", "$", "!room:localhost", "$nosuchevent"]:
            self.assertErr(self.http("GET", self.room_path("/event/%s" % q(bad)),
                                     token=self.atok),
                           404, "M_NOT_FOUND", "GET /event/%s" % bad)
        for bad in ["not_an_event", "@user:localhost"]:
            self.assertErr(self.http("POST", self.room_path("/receipt/m.read/%s" % q(bad)), {},
                                     token=self.atok),
                           400, "M_INVALID_PARAM", "receipt for event %r" % bad)
            self.assertErr(self.http("PUT", self.room_path("/redact/%s/%s"
                                                           % (q(bad), uuid.uuid4().hex)), {},
                                     token=self.atok),
                           400, "M_INVALID_PARAM", "redact event %r" % bad)

    # ---- authentication ---------------------------------------------------------

    def test_missing_token(self):
        for method, path, body in [("GET", V3 + "/account/whoami", None),
                                   ("GET", V3 + "/sync", None),
                                   ("POST", V3 + "/createRoom", {}),
                                   ("GET", self.room_path("/state"), None),
                                   ("PUT", self.room_path("/send/m.room.message/mt1"),
                                    {"msgtype": "m.text", "body": "x"}),
                                   ("GET", "/_matrix/client/r0/account/whoami", None)]:
            self.assertErr(self.http(method, path, body), 401, "M_MISSING_TOKEN",
                           "%s %s without a token" % (method, path))

    def test_bad_token(self):
        for tok in ["nope", "dsp_" + "A" * 40, self.atok + "x", self.atok[:-1]]:
            self.assertErr(self.http("GET", V3 + "/account/whoami", token=tok),
                           401, "M_UNKNOWN_TOKEN", "Bearer %r" % tok)
        self.assertErr(self.http("GET", V3 + "/account/whoami?access_token=nope"),
                       401, "M_UNKNOWN_TOKEN", "access_token query parameter")

    def test_logged_out_token_refused(self):
        srv = self.server
        user, tok, _ = srv.register("lo" + uuid.uuid4().hex[:8], PASSWORD)
        st, other = srv.login(user, PASSWORD)
        self.assertEqual(st, 200, other)
        self.assertEqual(self.http("POST", V3 + "/logout", {}, token=tok)[0], 200)
        self.assertErr(self.http("GET", V3 + "/account/whoami", token=tok), 401,
                       "M_UNKNOWN_TOKEN", "token after /logout")
        self.assertErr(self.http("GET", V3 + "/sync?timeout=0", token=tok), 401,
                       "M_UNKNOWN_TOKEN", "sync with a token after /logout")
        st, body = self.http("GET", V3 + "/account/whoami", token=other["access_token"])
        self.assertEqual((st, body.get("user_id")), (200, user), "other session survives")
        st, third = srv.login(user, PASSWORD)
        self.assertEqual(st, 200, third)
        self.assertEqual(self.http("POST", V3 + "/logout/all", {},
                                   token=other["access_token"])[0], 200)
        for t in (other["access_token"], third["access_token"]):
            self.assertErr(self.http("GET", V3 + "/account/whoami", token=t), 401,
                           "M_UNKNOWN_TOKEN", "token after /logout/all")

    # ---- access control --------------------------------------------------------

    def test_acting_in_a_room_you_are_not_in(self):
        e = self.etok
        cases = [
            ("PUT", self.room_path("/send/m.room.message/%s" % uuid.uuid4().hex),
             {"msgtype": "m.text", "body": "intrusion"}),
            ("PUT", self.room_path("/state/m.room.topic/"), {"topic": "hijacked"}),
            ("GET", self.room_path("/state"), None),
            ("GET", self.room_path("/state/m.room.name/"), None),
            ("GET", self.room_path("/state/m.room.create"), None),
            ("GET", self.room_path("/messages?dir=b"), None),
            ("GET", self.room_path("/members"), None),
            ("GET", self.room_path("/joined_members"), None),
            ("POST", self.room_path("/join"), {}),
            ("POST", V3 + "/join/%s" % q(self.room), {}),
            ("POST", self.room_path("/invite"), {"user_id": self.eve}),
            ("PUT", self.room_path("/typing/%s" % q(self.eve)), {"typing": True, "timeout": 1000}),
            ("PUT", self.room_path("/redact/%s/%s" % (q(self.event), uuid.uuid4().hex)), {}),
        ]
        for method, path, body in cases:
            self.assertErr(self.http(method, path, body, token=e), 403, "M_FORBIDDEN",
                           "eve: %s %s" % (method, path))
        # rooms.yaml: 404 "The event was not found or you do not have permission to read it".
        self.assertErr(self.http("GET", self.room_path("/event/%s" % q(self.event)), token=e),
                       404, "M_NOT_FOUND", "eve reads alice's event")
        self.assertErrOneOf(self.http("POST", self.room_path("/receipt/m.read/%s" % q(self.event)),
                                      {}, token=e),
                            [(403, "M_FORBIDDEN"), (404, "M_NOT_FOUND")],
                            "eve sends a receipt in alice's room")
        # Nothing leaked into the room.
        st, body = self.http("GET", self.room_path("/messages?dir=b&limit=50"), token=self.atok)
        self.assertEqual(st, 200, body)
        self.assertNotIn(self.eve, {ev.get("sender") for ev in body.get("chunk", [])})

    def test_other_users_account_data_and_filters(self):
        e, alice = self.etok, q(self.alice)
        cases = [
            ("GET", V3 + "/user/%s/account_data/org.example.secret" % alice, None),
            ("PUT", V3 + "/user/%s/account_data/org.example.secret" % alice, {"secret": 2}),
            ("GET", V3 + "/user/%s/rooms/%s/account_data/org.example.x" % (alice, q(self.room)),
             None),
            ("PUT", V3 + "/user/%s/rooms/%s/account_data/org.example.x" % (alice, q(self.room)),
             {"x": 1}),
            ("GET", V3 + "/user/%s/rooms/%s/tags" % (alice, q(self.room)), None),
            ("PUT", V3 + "/user/%s/rooms/%s/tags/u.work" % (alice, q(self.room)), {}),
            ("POST", V3 + "/user/%s/filter" % alice, {"room": {"timeline": {"limit": 1}}}),
            ("GET", V3 + "/user/%s/filter/%s" % (alice, q(self.filter_id)), None),
        ]
        for method, path, body in cases:
            self.assertErr(self.http(method, path, body, token=e), 403, "M_FORBIDDEN",
                           "eve: %s %s" % (method, path))
        st, body = self.http("GET", V3 + "/user/%s/account_data/org.example.secret" % alice,
                             token=self.atok)
        self.assertEqual((st, body), (200, {"secret": 1}), "alice's data unchanged")
        self.assertErr(self.http("GET", V3 + "/user/%s/filter/999999" % alice, token=self.atok),
                       404, "M_NOT_FOUND", "unknown filter ID")
        self.assertErr(self.http("GET", V3 + "/user/%s/account_data/org.example.none" % alice,
                                 token=self.atok), 404, "M_NOT_FOUND", "unset account data")

    def test_unknown_room(self):
        unknown = "!doesnotexist%s:localhost" % uuid.uuid4().hex[:6]
        a = self.atok
        for suffix in ["/state", "/state/m.room.name/", "/messages?dir=b", "/members"]:
            self.assertErr(self.http("GET", self.room_path(suffix, unknown), token=a),
                           403, "M_FORBIDDEN", "GET unknown room %s" % suffix)
        self.assertErr(self.http("GET", self.room_path("/event/%s" % q("$abc"), unknown), token=a),
                       404, "M_NOT_FOUND", "event in an unknown room")
        self.assertErr(self.http("GET", V3 + "/directory/list/room/%s" % q(unknown), token=a),
                       404, "M_NOT_FOUND", "directory visibility of an unknown room")
        self.assertErr(self.http("GET", V3 + "/directory/room/%s" % q("#nowhere:localhost"),
                                 token=a), 404, "M_NOT_FOUND", "unknown alias")
        either = [(403, "M_FORBIDDEN"), (404, "M_NOT_FOUND")]
        self.assertErrOneOf(self.http("PUT", self.room_path("/send/m.room.message/u1", unknown),
                                      {"msgtype": "m.text", "body": "x"}, token=a),
                            either, "send to an unknown room")
        self.assertErrOneOf(self.http("POST", self.room_path("/join", unknown), {}, token=a),
                            either, "join an unknown room by ID")
        self.assertErrOneOf(self.http("POST", V3 + "/join/%s" % q("#nowhere:localhost"), {},
                                      token=a), either, "join an unknown alias")

    # ---- query parameters ------------------------------------------------------

    def test_invalid_since_token(self):
        for since in ["garbage", "s-1", "99999999999999999999999", "", "%00"]:
            path = V3 + "/sync?timeout=0&since=" + since
            if since == "":
                continue  # an empty since means an initial sync
            self.assertErr(self.http("GET", path, token=self.atok, timeout=10), 400,
                           "M_INVALID_PARAM", "sync since=%r" % since)

    def test_bad_query_params(self):
        a = self.atok
        cases = [
            self.room_path("/messages?dir=b&limit=abc"),
            self.room_path("/messages?dir=b&limit=1.5"),
            self.room_path("/messages?dir=sideways"),
            self.room_path("/messages?dir=b&from=not-a-token"),
            self.room_path("/context/%s?limit=abc" % q(self.event)),
            V3 + "/sync?timeout=abc",
            V3 + "/sync?timeout=0&full_state=maybe",
            V3 + "/publicRooms?limit=abc",
            V3 + "/publicRooms?limit=-1",
        ]
        for path in cases:
            self.assertErr(self.http("GET", path, token=a, timeout=10), 400, "M_INVALID_PARAM",
                           "GET " + path)

    # ---- abusive connections ---------------------------------------------------

    def test_garbage_requests_on_raw_sockets(self):
        srv = self.server
        host, port = srv.host, srv.port
        rng = random.Random(1234)
        kinds = [
            # half headers, then close
            lambda: (b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\nX-Half: ", False, False),
            # binary junk
            lambda: (bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 2048))), True, True),
            # slowloris-style partial request with a promised body, then close
            lambda: (b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 100\r\n\r\n{\"ty", False, False),
            # truncated request line
            lambda: (b"GET /_matr", False, False),
            # nonsense request line and version
            lambda: (b"FOO BAR BAZ\r\n\r\n", True, True),
            lambda: (b"GET / HTTP/9.9\r\n\r\n", True, True),
            # NUL bytes and control characters in headers
            lambda: (b"GET /_matrix/client/versions HTTP/1.1\r\nHost: \x00\x01\x02\r\n\r\n",
                     True, True),
            # invalid chunked encoding
            lambda: (b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n", True, True),
            # negative / non-numeric Content-Length
            lambda: (b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: -5\r\n\r\n", True, True),
            lambda: (b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: lots\r\n\r\n", True, True),
            # conflicting Content-Length headers
            lambda: (b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", True, True),
            # a header block far over any sane limit
            lambda: (b"GET /_matrix/client/versions HTTP/1.1\r\nX-Big: " + b"a" * 200000
                     + b"\r\n\r\n", True, True),
            # a valid request followed by junk on the same connection
            lambda: (b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n\r\n\x00\xff junk",
                     True, True),
            # an absurd number of headers
            lambda: (b"GET /_matrix/client/versions HTTP/1.1\r\n"
                     + b"".join(b"X-H%d: v\r\n" % i for i in range(5000)) + b"\r\n", True, True),
        ]

        def one(i):
            payload, read, half_close = kinds[i % len(kinds)]()
            if not read:
                try:
                    with socket.create_connection((host, port), timeout=3) as s:
                        s.sendall(payload)
                except OSError:
                    pass
                return None
            return raw_exchange(host, port, payload, read_timeout=3, half_close=half_close)

        with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
            results = list(pool.map(one, range(100)))
        # Whatever the server answered must be HTTP, never a crash or a hang.
        for i, raw in enumerate(results):
            if raw:
                self.assertTrue(raw.startswith(b"HTTP/1."),
                                "garbage request %d got a non-HTTP reply: %r" % (i, raw[:80]))
                self.assertLess(status_of(raw), 500,
                                "garbage request %d got a server error: %r" % (i, raw[:200]))
        self.assertAlive(srv)
        st, body = srv.http("GET", V3 + "/account/whoami", token=self.atok)
        self.assertEqual((st, body.get("user_id")), (200, self.alice))

    def test_slowloris_connections_do_not_block_others(self):
        srv = self.server
        socks = []
        try:
            for i in range(40):
                s = socket.create_connection((srv.host, srv.port), timeout=3)
                s.sendall(b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\nX-Slow: %d" % i)
                socks.append(s)
            t0 = time.monotonic()
            st, body = srv.http("GET", V3 + "/account/whoami", token=self.atok, timeout=10)
            self.assertEqual((st, body.get("user_id")), (200, self.alice))
            self.assertLess(time.monotonic() - t0, 5, "a normal request waited behind slow ones")
        finally:
            for s in socks:
                s.close()

    # ---- user-interactive auth -------------------------------------------------

    def uia_auth(self, user, password, session):
        return {"type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user},
                "password": password, "session": session}

    def assertUiaChallenge(self, resp, what):
        st, body = resp
        self.assertEqual(st, 401, "%s: %r" % (what, body))
        self.assertIsInstance(body.get("session"), str, "%s: no session: %r" % (what, body))
        flows = body.get("flows")
        self.assertIsInstance(flows, list, "%s: no flows: %r" % (what, body))
        self.assertTrue(any("m.login.password" in f.get("stages", []) for f in flows),
                        "%s: no m.login.password flow: %r" % (what, body))
        return body["session"]

    def test_password_change_needs_uia(self):
        srv = self.server
        user, tok, _ = srv.register("pw" + uuid.uuid4().hex[:8], PASSWORD)
        st, other = srv.login(user, PASSWORD)
        self.assertEqual(st, 200, other)
        new = "a brand new password"

        session = self.assertUiaChallenge(
            self.http("POST", V3 + "/account/password", {"new_password": new}, token=tok),
            "password change without auth")
        # A wrong password is refused with the UIA body plus M_FORBIDDEN (spec: UIA section).
        st, body = self.http("POST", V3 + "/account/password",
                             {"new_password": new,
                              "auth": self.uia_auth(user, "wrong password", session)}, token=tok)
        self.assertEqual((st, body.get("errcode")), (401, "M_FORBIDDEN"), body)
        self.assertIn("flows", body)
        # Still the old password.
        self.assertEqual(srv.login(user, PASSWORD)[0], 200)
        session = body.get("session", session)

        st, body = self.http("POST", V3 + "/account/password",
                             {"new_password": new, "auth": self.uia_auth(user, PASSWORD, session)},
                             token=tok)
        self.assertEqual((st, body), (200, {}))

        self.assertErr(srv.login(user, PASSWORD), 403, "M_FORBIDDEN", "login with the old password")
        st, body = srv.login(user, new)
        self.assertEqual(st, 200, body)
        # logout_devices defaults to true: other sessions end, the requesting one stays.
        self.assertErr(self.http("GET", V3 + "/account/whoami", token=other["access_token"]),
                       401, "M_UNKNOWN_TOKEN", "other device after a password change")
        st, body = self.http("GET", V3 + "/account/whoami", token=tok)
        self.assertEqual((st, body.get("user_id")), (200, user))

    def test_device_deletion_needs_uia(self):
        srv = self.server
        user, tok, dev = srv.register("dv" + uuid.uuid4().hex[:8], PASSWORD)
        st, b = srv.login(user, PASSWORD)
        self.assertEqual(st, 200, b)
        st, c = srv.login(user, PASSWORD)
        self.assertEqual(st, 200, c)

        path = V3 + "/devices/%s" % q(b["device_id"])
        session = self.assertUiaChallenge(self.http("DELETE", path, {}, token=tok),
                                          "DELETE /devices without auth")
        self.assertUiaChallenge(self.http("DELETE", path, token=tok),
                                "DELETE /devices with no body")
        st, body = self.http("GET", V3 + "/account/whoami", token=b["access_token"])
        self.assertEqual(st, 200, "device survives an unauthenticated delete: %r" % body)
        st, body = self.http("DELETE", path,
                             {"auth": self.uia_auth(user, "wrong password", session)}, token=tok)
        self.assertEqual((st, body.get("errcode")), (401, "M_FORBIDDEN"), body)

        st, body = self.http("DELETE", path, {"auth": self.uia_auth(user, PASSWORD, session)},
                             token=tok)
        self.assertEqual((st, body), (200, {}))
        self.assertErr(self.http("GET", V3 + "/account/whoami", token=b["access_token"]),
                       401, "M_UNKNOWN_TOKEN", "deleted device's token")
        self.assertErr(self.http("GET", path, token=tok), 404, "M_NOT_FOUND",
                       "GET a deleted device")

        session = self.assertUiaChallenge(
            self.http("POST", V3 + "/delete_devices", {"devices": [c["device_id"]]}, token=tok),
            "POST /delete_devices without auth")
        self.assertEqual(self.http("GET", V3 + "/account/whoami", token=c["access_token"])[0], 200)
        st, body = self.http("POST", V3 + "/delete_devices",
                             {"devices": [c["device_id"]],
                              "auth": self.uia_auth(user, PASSWORD, session)}, token=tok)
        self.assertEqual((st, body), (200, {}))
        self.assertErr(self.http("GET", V3 + "/account/whoami", token=c["access_token"]),
                       401, "M_UNKNOWN_TOKEN", "token of a device removed by /delete_devices")
        st, body = self.http("GET", V3 + "/devices", token=tok)
        self.assertEqual(st, 200, body)
        self.assertEqual([d["device_id"] for d in body["devices"]], [dev])


class RateLimitTests(ErrorAsserts, unittest.TestCase):
    """A server with a deliberately tiny rate limit."""

    CONFIG = """
[rate_limit]
enabled = true
per_second = 0.01
burst = 5.0
login_per_second = 0.01
login_burst = 4.0
"""

    @classmethod
    def setUpClass(cls):
        cls.server = ServerFixture(open_registration=False, rate_limit=True,
                                   config_toml=cls.CONFIG)
        cls.server.start()
        cls.user = "rl" + uuid.uuid4().hex[:8]
        res = cls.server.user_add(cls.user, PASSWORD)
        assert res.returncode == 0, res.stderr
        st, body = cls.server.login(cls.user, PASSWORD)  # takes one login token
        assert st == 200, body
        cls.token = body["access_token"]

    @classmethod
    def tearDownClass(cls):
        cls.server.teardown()

    def tearDown(self):
        self.assertAlive(self.server)

    def check_limited(self, st, body, headers, what):
        self.assertErr((st, body), 429, "M_LIMIT_EXCEEDED", what)
        self.assertIsInstance(body.get("retry_after_ms"), int, "%s: %r" % (what, body))
        self.assertGreater(body["retry_after_ms"], 0, "%s: %r" % (what, body))
        # "Homeservers SHOULD include a Retry-After header for any response with a 429".
        ra = {k.lower(): v for k, v in headers.items()}.get("retry-after")
        self.assertIsNotNone(ra, "%s: no Retry-After header" % what)
        self.assertGreaterEqual(int(ra), 1)

    def test_request_rate_limit(self):
        srv = self.server
        st, body = srv.http("POST", V3 + "/createRoom", {}, token=self.token)
        self.assertEqual(st, 200, body)
        room = body["room_id"]
        statuses = []
        for i in range(12):
            st, body, raw, headers = srv.http(
                "PUT", V3 + "/rooms/%s/send/m.room.message/rl%d" % (q(room), i),
                {"msgtype": "m.text", "body": "spam %d" % i}, token=self.token, raw_response=True)
            statuses.append(st)
            if st == 429:
                self.check_limited(st, body, headers, "message %d" % i)
                break
            self.assertEqual(st, 200, body)
        self.assertIn(429, statuses, "never rate limited: %r" % statuses)

    def test_login_rate_limit(self):
        srv = self.server
        statuses = []
        for i in range(10):
            st, body, raw, headers = srv.http(
                "POST", V3 + "/login",
                {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": self.user},
                 "password": "wrong password"}, raw_response=True)
            statuses.append(st)
            if st == 429:
                self.check_limited(st, body, headers, "login attempt %d" % i)
                break
            self.assertErr((st, body), 403, "M_FORBIDDEN", "wrong password")
        self.assertIn(429, statuses, "login never rate limited: %r" % statuses)


class ClosedRegistrationTests(ErrorAsserts, unittest.TestCase):
    """A server started without --open-registration (the default), plus the CLI's checks."""

    @classmethod
    def setUpClass(cls):
        cls.server = ServerFixture(open_registration=False, rate_limit=False)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.teardown()

    def tearDown(self):
        self.assertAlive(self.server)

    def test_registration_closed_by_default(self):
        for body in [{"username": "newbie", "password": PASSWORD, "auth": {"type": "m.login.dummy"}},
                     {"username": "newbie", "password": PASSWORD}]:
            self.assertErr(self.server.http("POST", V3 + "/register", body), 403, "M_FORBIDDEN",
                           "register %r on a closed server" % body)
        self.assertErr(self.server.login("newbie", PASSWORD), 403, "M_FORBIDDEN",
                       "login as the refused user")

    def test_user_add_with_bad_names(self):
        # A full user ID on this server ("@x:localhost") is a legitimate way to name the
        # account, so it is not in this list; one on another server is.
        for bad in ["bad name", "bad:colon", "", "@x:elsewhere.example", "semi;colon", "é",
                    "a" * 300, "tab\tname", "new\nline", "star*", "#room"]:
            with self.subTest(name=bad if len(bad) < 40 else "%s... (%d chars)" % (bad[:10], len(bad))):
                res = self.server.user_add(bad, PASSWORD)
                self.assertNotEqual(res.returncode, 0,
                                    "user add %r succeeded: %s" % (bad, res.stdout))
                self.assertTrue(res.stderr.strip(), "user add %r failed silently" % bad)

    def test_user_add_duplicate(self):
        name = "dup" + uuid.uuid4().hex[:6]
        res = self.server.user_add(name, PASSWORD)
        self.assertEqual(res.returncode, 0, res.stderr)
        res = self.server.user_add(name, "another password")
        self.assertNotEqual(res.returncode, 0, "adding %s twice succeeded" % name)
        self.assertTrue(res.stderr.strip())
        st, body = self.server.login(name, PASSWORD)
        self.assertEqual(st, 200, "the first password must still work: %r" % body)


if __name__ == "__main__":
    unittest.main()
