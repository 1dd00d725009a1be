"""Announcement channels without the fediverse: the admin API and `despatch announce` for
making, listing and removing channels (with clear errors for bad input), the Atom feed
(parsed and checked for every element RFC 4287 requires), the HTML page, the pictures of
published posts, and the records archive, which holds each post's publication and
withdrawal. The ActivityPub side is tests/integration/js/announce.test.mjs."""

import html.parser
import json
import time
import unittest
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime

from harness import q, run_cli
from media_helpers import make_png
from records_helpers import RecordsServer

ATOM = "{http://www.w3.org/2005/Atom}"
CHANNELS = "/announce/channels"


def rfc3339(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


class PageParser(html.parser.HTMLParser):
    """Collects what a reader of the page meets: language, headings, articles, images."""

    def __init__(self):
        super().__init__()
        self.lang, self.h1, self.articles, self.images, self.scripts = None, "", 0, [], 0
        self._in_h1 = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "h1":
            self._in_h1 = True
        elif tag == "article":
            self.articles += 1
        elif tag == "img":
            self.images.append(a)
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag):
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data):
        if self._in_h1:
            self.h1 += data


class AnnounceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = RecordsServer(config_toml='[announce]\nbase_url = "https://dept.example"\n')
        cls.srv.start()
        cls.official = cls.srv.register("official")
        cls.room = cls.official.create_room(preset="public_chat", name="Notices")

    @classmethod
    def tearDownClass(cls):
        cls.srv.teardown()

    def get(self, path):
        st, _, raw, headers = self.srv.http("GET", path, raw_response=True)
        return st, raw, {k.lower(): v for k, v in headers.items()}

    def make_channel(self, handle, room=None, **extra):
        body = {"room_id": room or self.room, "handle": handle, "name": "Notices of " + handle}
        body.update(extra)
        return self.srv.admin("POST", CHANNELS, body)

    def test_admin_api_validates_and_audits(self):
        member = self.srv.register("member")
        st, body = self.srv.admin("POST", CHANNELS, {"room_id": self.room, "handle": "x", "name": "N"},
                                  token=member.token)
        self.assertEqual(st, 403)
        for bad, errcode in [({"handle": "Has Spaces"}, "M_INVALID_PARAM"), ({"name": ""}, "M_INVALID_PARAM"),
                             ({"room_id": "!nowhere:localhost"}, "M_NOT_FOUND"),
                             ({"room_id": "not a room"}, "M_INVALID_PARAM"), ({"min_power": "high"}, "M_INVALID_PARAM"),
                             ({"handle": 7}, "M_INVALID_PARAM")]:
            body = {"room_id": self.room, "handle": "valid", "name": "Valid"}
            body.update(bad)
            st, resp = self.srv.admin("POST", CHANNELS, body)
            self.assertEqual((st, resp["errcode"]), (400 if errcode != "M_NOT_FOUND" else 404, errcode), bad)
        encrypted = self.official.create_room(initial_state=[{"type": "m.room.encryption", "state_key": "",
                                                             "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
        st, resp = self.make_channel("secretroom", room=encrypted)
        self.assertEqual(st, 400)
        self.assertIn("encrypted", resp["error"])

        other = self.official.create_room(preset="public_chat")
        st, made = self.make_channel("press", room=other, summary="Press office")
        self.assertEqual(st, 200, made)
        self.assertEqual(made["account"], "@press@localhost")
        self.assertEqual(made["actor"], "https://dept.example/ap/users/press")
        st, resp = self.make_channel("press", room=self.official.create_room(preset="public_chat"))
        self.assertEqual((st, resp["errcode"]), (400, "M_EXCLUSIVE"))
        st, resp = self.make_channel("press2", room=other)
        self.assertEqual((st, resp["errcode"]), (400, "M_ROOM_IN_USE"))
        st, listed = self.srv.admin("GET", CHANNELS)
        self.assertIn("press", [c["handle"] for c in listed["channels"]])
        st, one = self.srv.admin("GET", CHANNELS + "/press")
        self.assertEqual((st, one["followers"], one["delivery_backlog"]), (200, 0, 0))
        self.assertEqual(self.srv.admin("DELETE", CHANNELS + "/press")[0], 200)
        self.assertEqual(self.srv.admin("DELETE", CHANNELS + "/press")[1]["errcode"], "M_NOT_FOUND")
        self.assertEqual(self.get("/ap/users/press")[0], 404)
        st, audit = self.srv.admin("GET", "/audit?limit=50")
        actions = [e["action"] for e in audit["entries"]]
        self.assertIn("announce.channel_created", actions)
        self.assertIn("announce.channel_removed", actions)

    def test_command_line(self):
        room = self.official.create_room(preset="public_chat")
        data = ["--data", self.srv.data_dir]
        res = run_cli("announce", "create", "--room", room, "--handle", "cli_news", "--name", "CLI news", *data)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(json.loads(res.stdout)["room_id"], room)
        res = run_cli("announce", "create", "--room", room, "--handle", "cli_two", "--name", "Again", *data)
        self.assertEqual(res.returncode, 1)
        self.assertIn("already the channel cli_news", res.stderr)
        res = run_cli("announce", "create", "--room", room, "--handle", "x", *data)
        self.assertEqual(res.returncode, 2)
        self.assertIn("--name", res.stderr)
        res = run_cli("announce", "create", "--room", room, "--handle", "y", "--name", "Y", "--min-power", "lots", *data)
        self.assertEqual(res.returncode, 2)
        res = run_cli("announce", "list", "--json", *data)
        self.assertIn("cli_news", [c["handle"] for c in json.loads(res.stdout)["channels"]])
        res = run_cli("announce", "list", *data)
        self.assertIn("@cli_news@localhost", res.stdout)
        self.assertEqual(run_cli("announce", "remove", "--handle", "cli_news", *data).returncode, 0)
        res = run_cli("announce", "remove", "--handle", "cli_news", *data)
        self.assertEqual(res.returncode, 1)
        self.assertIn("no channel", res.stderr)
        self.assertEqual(run_cli("announce", "frobnicate", *data).returncode, 2)

    def test_feed_page_pictures_and_records(self):
        st, made = self.make_channel("notices", summary="Official notices & updates")
        self.assertEqual(st, 200, made)
        first = self.official.send(self.room, {"msgtype": "m.text", "body": "Roadworks <Main St> from 9 May.\nExpect delays."})
        st, up = self.official.server.http("POST", "/_matrix/media/v3/upload?filename=map.png", make_png(8, 8),
                                           token=self.official.token, headers={"Content-Type": "image/png"})
        self.assertEqual(st, 200, up)
        picture = self.official.send(self.room, {"msgtype": "m.image", "body": "Map of the roadworks",
                                                 "url": up["content_uri"], "info": {"mimetype": "image/png"}})
        withdrawn = self.official.send(self.room, {"msgtype": "m.text", "body": "Posted by mistake"})
        self.official.ok("PUT", "/rooms/%s/redact/%s/%s" % (q(self.room), q(withdrawn), uuid.uuid4().hex), {})

        st, raw, headers = self.get("/announce/notices/feed.atom")
        self.assertEqual(st, 200)
        self.assertTrue(headers["content-type"].startswith("application/atom+xml"))
        feed = ET.fromstring(raw)
        self.assertEqual(feed.tag, ATOM + "feed")
        for required in ("id", "title", "updated", "author"):
            self.assertIsNotNone(feed.find(ATOM + required), required)
        rfc3339(feed.find(ATOM + "updated").text)
        self.assertEqual(feed.find(ATOM + "author/" + ATOM + "name").text, "Notices of notices")
        self.assertEqual(feed.find(ATOM + "link[@rel='self']").get("href"),
                         "https://dept.example/announce/notices/feed.atom")
        entries = feed.findall(ATOM + "entry")
        self.assertEqual(len(entries), 2, "the withdrawn post is gone from the feed")
        ids = set()
        for e in entries:
            for required in ("id", "title", "updated", "published", "content"):
                self.assertIsNotNone(e.find(ATOM + required), required)
            rfc3339(e.find(ATOM + "updated").text)
            ids.add(e.find(ATOM + "id").text)
            self.assertEqual(e.find(ATOM + "content").get("type"), "html")
        self.assertEqual(len(ids), 2, "entry IDs are unique")
        contents = " ".join(e.find(ATOM + "content").text for e in entries)
        self.assertIn("Roadworks &lt;Main St&gt; from 9 May.<br>Expect delays.", contents)
        self.assertNotIn("mistake", raw.decode())
        self.assertNotIn("@official", raw.decode(), "no Matrix IDs")

        st, raw, headers = self.get("/announce/notices")
        self.assertEqual(st, 200)
        self.assertTrue(headers["content-type"].startswith("text/html"))
        self.assertIn("default-src 'none'", headers["content-security-policy"])
        page = PageParser()
        page.feed(raw.decode())
        self.assertEqual((page.lang, page.h1, page.articles, page.scripts), ("en", "Notices of notices", 2, 0))
        self.assertEqual(len(page.images), 1)
        self.assertEqual(page.images[0]["alt"], "Map of the roadworks")
        media_path = page.images[0]["src"].replace("https://dept.example", "")
        st, raw, headers = self.get(media_path)
        self.assertEqual(st, 200)
        self.assertEqual(raw, make_png(8, 8))
        self.assertEqual(headers["content-type"], "image/png")
        # Only pictures of published posts are served, never other media.
        self.assertEqual(self.get(media_path.rsplit("/", 1)[0] + "/999")[0], 404)
        self.assertEqual(self.get("/announce/nobody/feed.atom")[0], 404)

        _, found, _ = self.srv.export_sealed("ANN-1", {"room": self.room})
        records = [r for r in found if r["kind"] == "announcement"]
        by_event = {}
        for r in records:
            by_event.setdefault(r["event_id"], []).append(r["event"]["action"])
        self.assertEqual(by_event.get(first), ["published"])
        self.assertEqual(by_event.get(picture), ["published"])
        self.assertIn("published", by_event.get(withdrawn, []))
        withdrawal = [r for r in records if r["event"]["action"] == "withdrawn"]
        self.assertEqual(len(withdrawal), 1)
        self.assertGreater(withdrawal[0]["event"]["withdrawn_ts"], 0)
        self.assertEqual(withdrawal[0]["event"]["url"].rsplit("/", 1)[0], "https://dept.example/ap/users/notices/posts")


if __name__ == "__main__":
    unittest.main()
