// Pictures and voice notes through matrix-js-sdk: upload with the sdk, send m.image and
// m.audio events, and fetch the files and thumbnails from the authenticated media routes
// the sdk builds (useAuthentication), byte-identical, also after a restart.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { useServer, waitForEvent, waitForMembership } from "./harness.mjs";

// Test files made on the spot with the vips and opusenc tools that scripts/deps.sh installs.
function withTemp(fn) {
    const dir = mkdtempSync(path.join(tmpdir(), "despatch-media-js-"));
    try {
        return fn(dir);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

function makeImage(width, height, ext) {
    return withTemp((dir) => {
        const src = path.join(dir, "src.v");
        const out = path.join(dir, `out.${ext}`);
        execFileSync("vips", ["gaussnoise", src, String(width), String(height)]);
        execFileSync("vips", ["copy", src, out]);
        return readFileSync(out);
    });
}

function makeVoiceNote() {
    return withTemp((dir) => {
        const rate = 48000;
        const pcm = Buffer.alloc(rate * 2);
        for (let i = 0; i < rate; i++) pcm.writeInt16LE(Math.round(6000 * Math.sin((2 * Math.PI * 330 * i) / rate)), i * 2);
        const head = Buffer.alloc(44);
        head.write("RIFF", 0);
        head.writeUInt32LE(36 + pcm.length, 4);
        head.write("WAVEfmt ", 8);
        head.writeUInt32LE(16, 16);
        head.writeUInt16LE(1, 20);
        head.writeUInt16LE(1, 22);
        head.writeUInt32LE(rate, 24);
        head.writeUInt32LE(rate * 2, 28);
        head.writeUInt16LE(2, 32);
        head.writeUInt16LE(16, 34);
        head.write("data", 36);
        head.writeUInt32LE(pcm.length, 40);
        writeFileSync(path.join(dir, "in.wav"), Buffer.concat([head, pcm]));
        execFileSync("opusenc", ["--quiet", path.join(dir, "in.wav"), path.join(dir, "voice.ogg")]);
        return readFileSync(path.join(dir, "voice.ogg"));
    });
}

// (width, height) of a PNG or baseline/progressive JPEG.
function imageSize(buf) {
    if (buf.subarray(1, 4).toString() === "PNG") return [buf.readUInt32BE(16), buf.readUInt32BE(20)];
    let i = 2;
    while (i < buf.length) {
        if (buf[i] !== 0xff) {
            i++;
            continue;
        }
        const marker = buf[i + 1];
        if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
            i += 2;
            continue;
        }
        if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
            return [buf.readUInt16BE(i + 7), buf.readUInt16BE(i + 5)];
        }
        i += 2 + buf.readUInt16BE(i + 2);
    }
    throw new Error("not a PNG or JPEG");
}

// Downloads what the sdk's URL points at, with the client's access token as clients do.
async function fetchMedia(client, url) {
    const res = await fetch(url, { headers: { Authorization: `Bearer ${client.getAccessToken()}` } });
    return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

describe("media", () => {
    const srv = useServer();

    test("a photo and a voice note sent through matrix-js-sdk arrive byte-identical, with thumbnails", async () => {
        const alice = await srv.syncedClient("alice");
        const bob = await srv.syncedClient("bob");
        const { room_id: roomId } = await alice.createRoom({ preset: "private_chat", name: "Field office" });
        await alice.invite(roomId, bob.getUserId());
        await waitForMembership(bob, roomId, bob.getUserId(), "invite");
        await bob.joinRoom(roomId);
        await waitForMembership(alice, roomId, bob.getUserId(), "join");

        const config = await alice.getMediaConfig(true);
        assert.equal(config["m.upload.size"], 50 * 1024 * 1024);

        // A photo (JPEG) and a screenshot (PNG).
        const photo = makeImage(1200, 900, "jpg");
        const screenshot = makeImage(800, 500, "png");
        const { content_uri: photoUri } = await alice.uploadContent(photo, { name: "site visit.jpg", type: "image/jpeg" });
        const { content_uri: shotUri } = await alice.uploadContent(screenshot, { name: "screen.png", type: "image/png" });
        assert.match(photoUri, /^mxc:\/\/localhost\/[A-Za-z0-9_-]+$/);

        const sent = await alice.sendMessage(roomId, {
            msgtype: "m.image",
            body: "site visit.jpg",
            url: photoUri,
            info: { mimetype: "image/jpeg", size: photo.length, w: 1200, h: 900 },
        });
        const got = await waitForEvent(bob, (e) => e.getId() === sent.event_id, { what: "the photo event" });
        const url = got.getContent().url;
        assert.equal(url, photoUri);

        const full = await fetchMedia(bob, bob.mxcUrlToHttp(url, undefined, undefined, undefined, false, false, true));
        assert.equal(full.status, 200);
        assert.ok(full.body.equals(photo), "the photo downloads byte-identical");
        assert.equal(full.headers.get("content-type"), "image/jpeg");
        assert.equal(full.headers.get("content-disposition"), 'inline; filename="site visit.jpg"');

        // The thumbnails Element asks for: 32x32 and 96x96 crops (avatars, previews) and an
        // 800x600 scale for the timeline.
        for (const [w, h, method, expected] of [
            [32, 32, "crop", [32, 32]],
            [96, 96, "crop", [96, 96]],
            [800, 600, "scale", [800, 600]],
            [320, 240, "scale", [320, 240]],
        ]) {
            const thumb = await fetchMedia(bob, bob.mxcUrlToHttp(url, w, h, method, false, false, true));
            assert.equal(thumb.status, 200, `${w}x${h} ${method}`);
            assert.deepEqual(imageSize(thumb.body), expected, `${w}x${h} ${method}`);
        }
        const shotThumb = await fetchMedia(bob, bob.mxcUrlToHttp(shotUri, 320, 240, "scale", false, false, true));
        assert.equal(shotThumb.status, 200);
        assert.deepEqual(imageSize(shotThumb.body), [320, 200]);

        // A voice note (Ogg/Opus), sent as Element does: m.audio with the MSC3245 voice marker.
        const voice = makeVoiceNote();
        const { content_uri: voiceUri } = await alice.uploadContent(voice, { name: "voice-message.ogg", type: "audio/ogg" });
        const sentVoice = await alice.sendMessage(roomId, {
            msgtype: "m.audio",
            body: "Voice message",
            url: voiceUri,
            info: { mimetype: "audio/ogg", size: voice.length, duration: 1000 },
            "org.matrix.msc1767.audio": { duration: 1000, waveform: [0, 512, 1024] },
            "org.matrix.msc3245.voice": {},
        });
        const gotVoice = await waitForEvent(bob, (e) => e.getId() === sentVoice.event_id, { what: "the voice note" });
        assert.equal(gotVoice.getContent().msgtype, "m.audio");
        const audio = await fetchMedia(bob, bob.mxcUrlToHttp(gotVoice.getContent().url, undefined, undefined, undefined, false, false, true));
        assert.equal(audio.status, 200);
        assert.ok(audio.body.equals(voice), "the voice note downloads byte-identical");
        assert.equal(audio.headers.get("content-type"), "audio/ogg");

        // Unauthenticated (legacy) URLs do not serve new media.
        const legacy = await fetch(bob.mxcUrlToHttp(url, undefined, undefined, undefined, false, false, false));
        assert.equal(legacy.status, 404);

        // Everything is still there after a restart.
        await srv.restart();
        const again = await fetchMedia(bob, bob.mxcUrlToHttp(voiceUri, undefined, undefined, undefined, false, false, true));
        assert.equal(again.status, 200);
        assert.ok(again.body.equals(voice));
        const photoAgain = await fetchMedia(bob, bob.mxcUrlToHttp(photoUri, undefined, undefined, undefined, false, false, true));
        assert.ok(photoAgain.body.equals(photo));
    });

    test("the sdk sees the server's refusals as Matrix errors", async () => {
        const carol = await srv.registerClient("carol");
        const html = Buffer.from("<!DOCTYPE html><html><body><script>alert(1)</script></body></html>");
        await assert.rejects(carol.uploadContent(html, { name: "page.html", type: "text/html" }), (err) => {
            assert.equal(err.errcode, "M_FORBIDDEN");
            assert.equal(err.httpStatus, 403);
            return true;
        });
        const stranger = srv.makeClient({ userId: "@nobody:localhost", accessToken: "wrong-token", deviceId: "X" });
        await assert.rejects(stranger.uploadContent(Buffer.from("hello"), { name: "a.txt", type: "text/plain" }), (err) => {
            assert.equal(err.errcode, "M_UNKNOWN_TOKEN");
            return true;
        });
    });
});
