"""Sealed exports and export formats, end to end against a real server: the admin API hands
out a case's records still sealed, with the media they show; `despatch records open-export`
opens them on the records office's side into a BagIt bag (JSON Lines, CSV index, HTML
transcripts with pictures, one EML file per message); `verify-export` checks the bag.

Everything here is checked with Python's own parsers (email, csv, hashlib), independently of
the C++ that writes it. The secret key's absence from the wire is checked on the bytes a
recording proxy saw the test send.
"""

import base64
import csv
import email
import email.policy
import email.utils
import hashlib
import io
import json
import os
import re
import shutil
import unittest
import uuid

from harness import q, run_cli
from media_helpers import make_png
from records_helpers import (RecordingProxy, RecordsServer, archive_rows, open_export, read_bundle, rebag,
                             resign_bundle, sealed_export, verify_export)

UPLOAD = "/_matrix/media/v3/upload"


# ---- independent checks of the formats ---------------------------------------------------

def check_bagit(test, bag):
    """RFC 8493 validity, checked here without the C++: bagit.txt, every manifest line,
    Payload-Oxum, no file outside the manifests. Returns bag-info.txt as a dict."""
    with open(os.path.join(bag, "bagit.txt"), encoding="utf-8") as f:
        bagit = f.read().splitlines()
    test.assertEqual(bagit, ["BagIt-Version: 1.0", "Tag-File-Character-Encoding: UTF-8"])

    def manifest(name):
        out = {}
        with open(os.path.join(bag, name), encoding="utf-8") as f:
            for line in f.read().splitlines():
                digest, path = re.match(r"^([0-9a-f]{64})\s+(.+)$", line).groups()
                test.assertNotIn(path, out, "%s lists %s twice" % (name, path))
                out[path] = digest
        return out

    payload = manifest("manifest-sha256.txt")
    tags = manifest("tagmanifest-sha256.txt")
    on_disk = set()
    for root, _, files in os.walk(bag):
        for name in files:
            on_disk.add(os.path.relpath(os.path.join(root, name), bag).replace(os.sep, "/"))
    test.assertEqual({p for p in on_disk if p.startswith("data/")}, set(payload), "payload manifest vs files")
    test.assertEqual({p for p in on_disk if not p.startswith("data/")} - {"tagmanifest-sha256.txt"}, set(tags),
                     "tag manifest vs tag files")
    for path, digest in list(payload.items()) + list(tags.items()):
        with open(os.path.join(bag, path), "rb") as f:
            test.assertEqual(hashlib.sha256(f.read()).hexdigest(), digest, path)
    info = {}
    with open(os.path.join(bag, "bag-info.txt"), encoding="utf-8") as f:
        for line in f.read().splitlines():
            k, v = line.split(":", 1)
            info[k] = v.strip()
    octets = sum(os.path.getsize(os.path.join(bag, p)) for p in payload)
    test.assertEqual(info["Payload-Oxum"], "%d.%d" % (octets, len(payload)))
    test.assertRegex(info["Bagging-Date"], r"^\d{4}-\d{2}-\d{2}$")
    return info


def key_variants(secret_b64):
    """Every form the records office's secret key could take on the wire."""
    raw = base64.b64decode(secret_b64 + "=" * (-len(secret_b64) % 4))
    forms = {raw, raw.hex().encode(), raw.hex().upper().encode()}
    for enc in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        forms.add(enc)
        forms.add(enc.rstrip(b"="))
    # base64 inside JSON may have its slashes escaped.
    forms |= {f.replace(b"/", b"\\/") for f in list(forms)}
    return forms


class SealedExportTest(unittest.TestCase):
    def setUp(self):
        self.srv = RecordsServer()
        self.addCleanup(self.srv.teardown)
        self.srv.start()
        self.tag = uuid.uuid4().hex[:8]
        self.alice = self.srv.register("alice")
        self.bob = self.srv.register("bob")
        self.room = self.alice.create_room(invite=[self.bob.user_id])
        self.bob.join(self.room)
        self.room_name = "Budget \u00dcberpr\u00fcfung \u2014 %s" % self.tag
        self.alice.put_state(self.room, "m.room.name", {"name": self.room_name})
        self.bodies = {}
        for text in ("plain minute %s" % self.tag,
                     "line one %s\nline two, with a comma and a \"quote\"" % self.tag,
                     "gr\u00fc\u00dfe aus K\u00f6ln \u2603 %s" % self.tag):
            self.bodies[self.alice.say(self.room, text)] = (self.alice.user_id, text)
        reply_to = next(iter(self.bodies))
        text = "bob replies %s" % self.tag
        eid = self.bob.send(self.room, {"msgtype": "m.text", "body": text,
                                        "m.relates_to": {"m.in_reply_to": {"event_id": reply_to}}})
        self.bodies[eid] = (self.bob.user_id, text)
        self.reply, self.reply_to = eid, reply_to
        self.png = make_png(16, 12, seed=3)
        st, up = self.srv.http("POST", UPLOAD + "?filename=chart.png", body=self.png, token=self.alice.token,
                               headers={"Content-Type": "image/png"})
        self.assertEqual(st, 200, up)
        self.mxc = up["content_uri"]
        self.image = self.alice.send(self.room, {"msgtype": "m.image", "body": "chart.png", "url": self.mxc,
                                                 "info": {"mimetype": "image/png", "size": len(self.png)}})
        self.bodies[self.image] = (self.alice.user_id, "chart.png")
        self.other_room = self.bob.create_room()
        self.elsewhere = self.bob.say(self.other_room, "not in this case %s" % self.tag)

    def sealed(self, case_ref, filt, via=None):
        st, body, raw = sealed_export(self.srv.fx, self.srv.admin_token, case_ref, filt,
                                      host="127.0.0.1" if via else None, port=via.port if via else None)
        self.assertEqual(st, 200, body)
        path = self.srv.new_out_path("sealed") + ".json"
        with open(path, "wb") as f:
            f.write(raw)
        return body, raw, path

    def opened(self, sealed_path, **kw):
        out = self.srv.new_out_path("bag")
        res = open_export(sealed_path, self.srv.secret_key_file, out, data_dir=self.srv.data_dir, **kw)
        self.assertEqual(res.returncode, 0, "open-export: %s %s" % (res.stdout, res.stderr))
        return out

    def test_sealed_export_keeps_the_key_off_the_wire_and_opens_to_the_archive(self):
        proxy = RecordingProxy(self.srv.fx.host, self.srv.fx.port)
        self.addCleanup(proxy.close)
        case = "FOI-%s" % self.tag
        body, raw, path = self.sealed(case, {"room": self.room}, via=proxy)

        # What went to the server: no form of the secret key. What came back: nothing readable.
        sent = proxy.captured()
        self.assertIn(b"/records/sealed_export", sent, "the proxy saw no export request")
        self.assertIn(case.encode(), sent)
        for form in key_variants(self.srv.secret_key_b64()):
            self.assertNotIn(form, sent, "the records office key went to the server")
        reply_text = raw.decode("utf-8")
        for eid, (_, text) in self.bodies.items():
            if self.tag in text:  # the picture's body is its file name, which the media list names
                for form in (text, json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]):
                    self.assertNotIn(form, reply_text, "the sealed export holds a message in clear")
        self.assertEqual(body["format"], "despatch-sealed-export-1")
        manifest = json.loads(body["manifest"])
        self.assertEqual(manifest["case_ref"], case)
        self.assertEqual([m["mxc"] for m in manifest["media"]], [self.mxc])
        self.assertEqual(base64.b64decode(body["media"][0]["data"]), self.png)

        # The export is audited with the case reference.
        st, audit = self.srv.admin("GET", "/audit")
        self.assertEqual(st, 200, audit)
        entries = [e for e in audit["entries"] if e.get("action") == "records.sealed_export"]
        self.assertTrue(entries, audit)
        self.assertEqual(entries[0].get("case_ref"), case, entries[0])

        bag = self.opened(path)
        info = check_bagit(self, bag)
        self.assertEqual(info["Case-Reference"], case)
        self.assertEqual(info["External-Identifier"], case)

        # records.jsonl is the archive's records of the room, bodies included.
        records = read_bundle(bag)
        archived = [r for r in archive_rows(self.srv.data_dir) if r["room_id"] == self.room]
        self.assertEqual([r["event_id"] for r in records], [r["event_id"] for r in archived])
        self.assertEqual([r["seq"] for r in records], [r["seq"] for r in archived])
        self.assertEqual([r["hash"] for r in records], [r["hash"] for r in archived])
        by_id = {r["event_id"]: r for r in records}
        self.assertNotIn(self.elsewhere, by_id)
        for eid, (sender, text) in self.bodies.items():
            self.assertEqual(by_id[eid]["sender"], sender)
            self.assertEqual(by_id[eid]["event"]["content"]["body"], text)

        # One EML file per message, parsed by Python's email package.
        messages = [r for r in records if r["type"] == "m.room.message"]
        emls = sorted(os.listdir(os.path.join(bag, "data", "messages")))
        self.assertEqual(len(emls), len(messages))
        parsed = {}
        for name in emls:
            with open(os.path.join(bag, "data", "messages", name), "rb") as f:
                raw_eml = f.read()
            self.assertNotIn(b"\n", raw_eml.replace(b"\r\n", b""), "%s has bare LF line ends" % name)
            msg = email.message_from_bytes(raw_eml, policy=email.policy.default)
            self.assertEqual(msg.defects, [], name)
            parsed[str(msg["X-Matrix-Event-ID"])] = msg
        self.assertEqual(set(parsed), {r["event_id"] for r in messages})
        for eid, (sender, text) in self.bodies.items():
            msg = parsed[eid]
            rec = by_id[eid]
            local, server = sender[1:].split(":", 1)
            self.assertEqual(msg["From"].addresses[0].addr_spec, "%s@%s" % (local, server.split(":")[0]))
            self.assertEqual(msg["From"].addresses[0].display_name, sender)
            self.assertEqual(msg["To"].addresses[0].display_name, self.room)
            self.assertEqual(email.utils.parsedate_to_datetime(str(msg["Date"])).timestamp(), rec["ts"] // 1000)
            self.assertIn(self.room_name, str(msg["Subject"]))
            self.assertTrue(str(msg["Message-ID"]).startswith("<") and str(msg["Message-ID"]).endswith(">"))
            part = msg.get_body(preferencelist=("plain",))
            self.assertEqual(part.get_content_charset(), "utf-8")
            self.assertEqual(part.get_content().replace("\r\n", "\n").rstrip("\n"), text)
        self.assertEqual(len({str(m["Message-ID"]) for m in parsed.values()}), len(parsed))
        self.assertIn("gr\u00fc\u00dfe aus K\u00f6ln", str(parsed[list(self.bodies)[2]]["Subject"]))
        self.assertEqual(str(parsed[self.reply]["In-Reply-To"]), str(parsed[self.reply_to]["Message-ID"]))
        attachments = list(parsed[self.image].iter_attachments())
        self.assertEqual(len(attachments), 1)
        self.assertEqual(attachments[0].get_content_type(), "image/png")
        self.assertEqual(attachments[0].get_filename(), "chart.png")
        self.assertEqual(attachments[0].get_content(), self.png)

        # The CSV index, parsed by Python's csv module: one row per record.
        with open(os.path.join(bag, "data", "index.csv"), newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual([r["event_id"] for r in rows], [r["event_id"] for r in records])
        csv_by_id = {r["event_id"]: r for r in rows}
        for eid, (sender, text) in self.bodies.items():
            self.assertEqual(csv_by_id[eid]["body"], text)
            self.assertEqual(csv_by_id[eid]["sender"], sender)
            self.assertTrue(os.path.isfile(os.path.join(bag, csv_by_id[eid]["eml"])), csv_by_id[eid])
        self.assertEqual(csv_by_id[self.image]["media"].split("/")[:2], ["data", "media"])

        # The transcript shows the picture, and the picture is in the bag.
        tdir = os.path.join(bag, "data", "transcripts")
        pages = os.listdir(tdir)
        self.assertEqual(len(pages), 1)
        with open(os.path.join(tdir, pages[0]), encoding="utf-8") as f:
            html = f.read()
        src = re.search(r'<img src="\.\./(media/[^"]+)"', html)
        self.assertTrue(src, "no picture in the transcript")
        with open(os.path.join(bag, "data", src.group(1)), "rb") as f:
            self.assertEqual(f.read(), self.png)
        self.assertIn("gr\u00fc\u00dfe aus K\u00f6ln", html)

        res = verify_export(bag, self.srv.data_dir)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertIn("bag OK", res.stdout)
        res = run_cli("records", "verify-export", bag, "--data", self.srv.data_dir, "--key", self.srv.secret_key_file)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertIn("contents included", res.stdout)

    def test_user_filter_and_text_filter_on_opening(self):
        body, raw, path = self.sealed("SAR-%s" % self.tag, {"user": self.bob.user_id})
        bag = self.opened(path)
        records = read_bundle(bag)
        ids = {r["event_id"] for r in records}
        self.assertIn(self.reply, ids)
        self.assertIn(self.elsewhere, ids)
        self.assertFalse(ids & (set(self.bodies) - {self.reply}), "alice's messages in bob's export")
        for r in records:
            ev = r["event"]
            self.assertTrue(r["sender"] == self.bob.user_id or ev.get("state_key") == self.bob.user_id, r)
        check_bagit(self, bag)

        # The text filter can only apply after opening.
        st, err = self.srv.admin("POST", "/records/sealed_export",
                                 {"case_ref": "T-1", "filter": {"text": "budget"}})
        self.assertEqual((st, err.get("errcode")), (400, "M_INVALID_PARAM"), err)
        self.assertIn("open-export --text", err["error"])
        body, raw, path = self.sealed("T-%s" % self.tag, {"room": self.room})
        bag = self.opened(path, text="AUS k\u00f6ln")  # case-insensitive for ASCII letters
        records = read_bundle(bag)
        self.assertEqual([r["event_id"] for r in records], [list(self.bodies)[2]])
        info = check_bagit(self, bag)
        self.assertEqual(info["Despatch-Text-Filter"], "AUS k\u00f6ln")
        self.assertEqual(verify_export(bag, self.srv.data_dir).returncode, 0)

    def test_offline_export_gives_the_same_bag_with_its_pictures(self):
        _, _, path = self.sealed("SAME-%s" % self.tag, {"room": self.room})
        sealed_bag = self.opened(path)
        offline = self.srv.new_out_path("offline")
        res = run_cli("records", "export", "--key", self.srv.secret_key_file, "--out", offline,
                      "--case", "SAME-%s" % self.tag, "--data", self.srv.data_dir, "--room", self.room)
        self.assertEqual(res.returncode, 0, res.stderr)
        check_bagit(self, offline)
        self.assertEqual(read_bundle(offline), read_bundle(sealed_bag))
        for sub in ("messages", "media", "transcripts"):
            self.assertEqual(sorted(os.listdir(os.path.join(offline, "data", sub))),
                             sorted(os.listdir(os.path.join(sealed_bag, "data", sub))), sub)
        media = os.listdir(os.path.join(offline, "data", "media"))
        with open(os.path.join(offline, "data", "media", media[0]), "rb") as f:
            self.assertEqual(f.read(), self.png)
        self.assertEqual(verify_export(offline, self.srv.data_dir).returncode, 0)

    def test_verify_export_catches_tampering(self):
        _, _, path = self.sealed("TAMPER-%s" % self.tag, {"room": self.room})
        bag = self.opened(path)
        self.assertEqual(verify_export(bag, self.srv.data_dir).returncode, 0)

        def tampered(what, change, expect):
            copy = self.srv.new_out_path("tampered")
            shutil.copytree(bag, copy)
            change(copy)
            res = verify_export(copy, self.srv.data_dir)
            with self.subTest(what):
                self.assertNotEqual(res.returncode, 0, "%s passed: %s" % (what, res.stdout))
                self.assertIn(expect, res.stdout, what)
            return copy

        eml = os.path.join("data", "messages", sorted(os.listdir(os.path.join(bag, "data", "messages")))[0])

        def edit(rel, old, new):
            def change(copy):
                p = os.path.join(copy, rel)
                with open(p, "rb") as f:
                    data = f.read()
                self.assertIn(old, data)
                with open(p, "wb") as f:
                    f.write(data.replace(old, new, 1))
            return change

        def add(rel):
            def change(copy):
                with open(os.path.join(copy, rel), "w") as f:
                    f.write("planted\n")
            return change

        tampered("changed EML", edit(eml, b"X-Matrix-Sender", b"X-Matrix-Sendor"), "file changed since export: " + eml)
        tampered("changed CSV", edit("data/index.csv", b"seq", b"SEQ"), "file changed since export: data/index.csv")
        tampered("extra payload file", add("data/messages/extra.eml"), "file added to the bag: data/messages/extra.eml")
        tampered("extra tag file", add("notes.txt"), "file added to the bag: notes.txt")
        tampered("changed tag file", edit("bag-info.txt", b"Case-Reference: TAMPER", b"Case-Reference: TAMPAR"),
                 "file changed since export: bag-info.txt")
        tampered("missing payload file", lambda c: os.remove(os.path.join(c, eml)), "file missing from the bag: " + eml)
        tampered("wrong Payload-Oxum", lambda c: (edit("bag-info.txt", b"Payload-Oxum: ", b"Payload-Oxum: 1")(c),
                                                   _fix_tagmanifest(c)), "Payload-Oxum")

        # A body changed and the bag's manifests recomputed: the bag is valid again and the
        # clear columns still match, so only the key shows the change.
        def rewrite_body(copy):
            p = os.path.join(copy, "data", "records.jsonl")
            with open(p, encoding="utf-8") as f:
                text = f.read()
            with open(p, "w", encoding="utf-8") as f:
                f.write(text.replace("plain minute", "plain MINUTE", 1))
            rebag(copy)
        copy = self.srv.new_out_path("rebagged")
        shutil.copytree(bag, copy)
        rewrite_body(copy)
        res = verify_export(copy, self.srv.data_dir)
        self.assertEqual(res.returncode, 0, "a rebagged bag is a valid bag: %s" % res.stdout)
        res = run_cli("records", "verify-export", copy, "--data", self.srv.data_dir, "--key", self.srv.secret_key_file)
        self.assertNotEqual(res.returncode, 0, res.stdout)
        self.assertIn("event differs from the sealed record", res.stdout)

        # A record moved to another sender, hashes redone and the sealed export re-signed with
        # the forger's key: consistent by itself, refused when the server's key is required.
        copy = self.srv.new_out_path("forged")
        shutil.copytree(bag, copy)
        resign_bundle(copy, change=lambda row: row.update(sender=self.bob.user_id))
        res = verify_export(copy)
        self.assertEqual(res.returncode, 0, "the forged bag is self-consistent: %s" % res.stdout)
        self.assertIn("signer was not checked", res.stdout)
        res = verify_export(copy, self.srv.data_dir)
        self.assertNotEqual(res.returncode, 0, res.stdout)
        self.assertIn("not with this server's key", res.stdout)

        # A payload record the server never sent.
        def extra_record(copy):
            p = os.path.join(copy, "data", "records.jsonl")
            with open(p, "a", encoding="utf-8") as f:
                f.write(json.dumps({"seq": 999999, "event_id": "$forged", "event": {}}) + "\n")
            rebag(copy)
        tampered("record not in the sealed export", extra_record, "does not")

    def test_open_export_refuses_a_wrong_key_a_changed_export_and_another_signer(self):
        _, raw, path = self.sealed("BAD-%s" % self.tag, {"room": self.room})
        keydir = self.srv.tmpdir("otherkey-")
        self.assertEqual(run_cli("records", "keygen", "--out", keydir).returncode, 0)
        out = self.srv.new_out_path("wrongkey")
        res = open_export(path, os.path.join(keydir, "records_office.key"), out)
        self.assertNotEqual(res.returncode, 0, res.stdout)
        self.assertIn("key", res.stderr)
        self.assertFalse(os.path.exists(out) and os.listdir(out), "files written with the wrong key")

        doc = json.loads(raw)
        lines = doc["records"].splitlines()
        row = json.loads(lines[-1])
        row["sender"] = "@mallory:" + self.srv.fx.server_name
        lines[-1] = json.dumps(row)
        doc["records"] = "\n".join(lines) + "\n"
        changed = path + ".changed"
        with open(changed, "w") as f:
            json.dump(doc, f)
        res = open_export(changed, self.srv.secret_key_file, self.srv.new_out_path("changed"))
        self.assertNotEqual(res.returncode, 0, res.stdout)
        self.assertIn("do not match the signed manifest", res.stderr)

        other = self.srv.tmpdir("otherserver-")
        self.assertEqual(run_cli("records", "keygen", "--out", other).returncode, 0)
        res = run_cli("records", "open-export", "--key", self.srv.secret_key_file, "--in", path,
                      "--out", self.srv.new_out_path("pinned"),
                      "--server-key", base64.b64encode(os.urandom(32)).decode())
        self.assertNotEqual(res.returncode, 0, res.stdout)
        self.assertIn("not with this server's key", res.stderr)


    def test_open_export_refuses_malformed_documents_clearly(self):
        _, raw, path = self.sealed("MALFORMED-%s" % self.tag, {"room": self.room})
        doc = json.loads(raw)

        def variant(**changes):
            d = dict(doc)
            for k, v in changes.items():
                if v is None:
                    d.pop(k, None)
                else:
                    d[k] = v
            return json.dumps(d).encode()

        manifest = json.loads(doc["manifest"])
        no_keys = dict(manifest, data_keys={})
        cases = [(b"", "empty file"), (b"not json", "not JSON"), (b"[]", "a list"),
                 (variant(format="other"), "another format"), (variant(manifest=None), "no manifest"),
                 (variant(records=5), "records not a string"), (variant(signature="!!"), "bad signature"),
                 (variant(manifest=json.dumps(no_keys)), "manifest re-written without data keys"),
                 (variant(records=doc["records"] + "{}\n"), "records changed"),
                 (variant(media=[{"mxc": self.mxc, "data": base64.b64encode(b"other").decode()}]), "other media"),
                 (variant(media=[]), "media missing")]
        for data, what in cases:
            bad = self.srv.new_out_path("malformed") + ".json"
            with open(bad, "wb") as f:
                f.write(data)
            out = self.srv.new_out_path("malformed-bag")
            res = open_export(bad, self.srv.secret_key_file, out)
            with self.subTest(what):
                self.assertEqual(res.returncode, 1, "%s: %s %s" % (what, res.stdout, res.stderr))
                self.assertIn("the sealed export does not open", res.stderr, what)
                self.assertFalse(os.path.exists(out) and os.listdir(out), "%s: files written" % what)


def _fix_tagmanifest(copy):
    """Recomputes only the tag manifest (a Payload-Oxum edit then shows as itself)."""
    lines = []
    for name in sorted(os.listdir(copy)):
        full = os.path.join(copy, name)
        if name != "tagmanifest-sha256.txt" and os.path.isfile(full):
            with open(full, "rb") as f:
                lines.append("%s  %s\n" % (hashlib.sha256(f.read()).hexdigest(), name))
    with open(os.path.join(copy, "tagmanifest-sha256.txt"), "w") as f:
        f.write("".join(lines))


class RefusedKeyTest(unittest.TestCase):
    """The routes that took the records office's secret key refuse it and point to the sealed
    flow; the sealed route refuses bad input with clear errors."""

    @classmethod
    def setUpClass(cls):
        cls.srv = RecordsServer()
        cls.srv.start()
        cls.alice = cls.srv.register("alice")
        cls.room = cls.alice.create_room()
        cls.alice.say(cls.room, "something to export")

    @classmethod
    def tearDownClass(cls):
        cls.srv.teardown()

    def assertErr(self, resp, status, errcode, what, mentions=None):
        st, body = resp
        with self.subTest(what):
            self.assertIsInstance(body, dict, "%s: %s %r" % (what, st, body))
            self.assertEqual((st, body.get("errcode")), (status, errcode), "%s: %r" % (what, body))
            self.assertIsInstance(body.get("error"), str, what)
            if mentions:
                self.assertIn(mentions, body["error"], what)

    def test_records_key_is_refused_everywhere(self):
        key = self.srv.secret_key_b64()
        for path in ("/records/export", "/records/search"):
            self.assertErr(self.srv.admin("POST", path, {"case_ref": "X-1", "records_key": key}),
                           403, "M_FORBIDDEN", path, mentions="records/sealed_export")
            self.assertErr(self.srv.admin("POST", path, {"case_ref": "X-1"}), 403, "M_FORBIDDEN", path + " no key")
        self.assertErr(self.srv.admin("POST", "/records/sealed_export", {"case_ref": "X-1", "records_key": key}),
                       403, "M_FORBIDDEN", "sealed_export with the key", mentions="open-export")
        st, audit = self.srv.admin("GET", "/audit")
        self.assertNotIn(key, json.dumps(audit), "the key was written to the audit log")

    def test_sealed_export_bad_input(self):
        for body, code, what in (({}, "M_MISSING_PARAM", "no case_ref"),
                                 ({"case_ref": ""}, "M_MISSING_PARAM", "empty case_ref"),
                                 ({"case_ref": 5}, None, "case_ref a number"),
                                 ({"case_ref": "X", "colour": "red"}, "M_INVALID_PARAM", "unknown field"),
                                 ({"case_ref": "X", "filter": "room"}, None, "filter a string"),
                                 ({"case_ref": "X", "filter": {"user": "alice"}}, "M_INVALID_PARAM", "bad user"),
                                 ({"case_ref": "X", "filter": {"room": "nope"}}, "M_INVALID_PARAM", "bad room"),
                                 ({"case_ref": "X", "filter": {"from_ts": "yesterday"}}, "M_BAD_JSON", "from_ts"),
                                 ({"case_ref": "X", "filter": {"from_ts": 5, "to_ts": 1}}, "M_INVALID_PARAM", "order"),
                                 ({"case_ref": "X", "filter": {"text": "x"}}, "M_INVALID_PARAM", "text")):
            st, reply = self.srv.admin("POST", "/records/sealed_export", body)
            with self.subTest(what):
                self.assertEqual(st, 400, "%s: %r" % (what, reply))
                self.assertRegex(reply.get("errcode", ""), r"^M_[A-Z_]+$", what)
                if code:
                    self.assertEqual(reply["errcode"], code, "%s: %r" % (what, reply))
        bob = self.srv.register("bob")
        self.assertErr(self.srv.http("POST", "/_despatch/admin/v1/records/sealed_export", {"case_ref": "X"},
                                     token=bob.token), 403, "M_FORBIDDEN", "non-admin")
        self.assertErr(self.srv.http("POST", "/_despatch/admin/v1/records/sealed_export", {"case_ref": "X"}),
                       401, "M_MISSING_TOKEN", "no token")

    def test_offline_export_is_the_same_bag(self):
        out = self.srv.new_out_path("offline")
        res = run_cli("records", "export", "--key", self.srv.secret_key_file, "--out", out, "--case", "OFF-1",
                      "--data", self.srv.data_dir, "--room", self.room)
        self.assertEqual(res.returncode, 0, res.stderr)
        check_bagit(self, out)
        self.assertIn("something to export", [r["event"]["content"].get("body") for r in read_bundle(out)])
        res = run_cli("records", "verify-export", out, "--data", self.srv.data_dir, "--key", self.srv.secret_key_file)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)


if __name__ == "__main__":
    unittest.main()
