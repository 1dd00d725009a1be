// Public announcements followed from the fediverse: a follower built with Fedify finds the
// channel through WebFinger, follows it (its actor in secure mode, so every fetch of it must
// be signed), verifies the signature of every activity it is sent, and gets each post as
// Create{Note}, its edit as Update and its redaction as Delete. Unsigned and forged Follows
// are refused; nothing from an ordinary room, from a member without the power to post, or
// any Matrix ID reaches it; deliveries wait in the queue across a restart of the server.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { generateCryptoKeyPair, Service, Application } from "@fedify/fedify";
import { signRequest } from "@fedify/fedify/sig";
import { getNodeInfo } from "@fedify/fedify/nodeinfo";
import { useServer, waitUntil, sleep, DESPATCH_BIN } from "./harness.mjs";
import { Follower } from "./fedify_follower.mjs";
import { chromium } from "playwright-core";
import { tmpdir } from "node:os";

const SERVER_NAME = "dept.test";

describe("announcements over ActivityPub", () => {
    const follower = new Follower();
    const ctx = useServer({
        serverName: SERVER_NAME,
        extraArgs: (c) => {
            const file = path.join(c.dataDir, "announce.toml");
            writeFileSync(file, `[announce]\nbase_url = "${c.baseUrl}"\nretry_seconds = 1\n`);
            return ["--config", file];
        },
    });
    let official, member, roomId, ordinaryId, actorUrl, actor, follow;

    const send = async (who, room, content) => {
        const txn = `t${Date.now()}${Math.random().toString(36).slice(2)}`;
        const res = await ctx.fetch(`/_matrix/client/v3/rooms/${encodeURIComponent(room)}/send/m.room.message/${txn}`,
            { method: "PUT", token: who.access_token, body: content });
        assert.equal(res.status, 200, res.text);
        return res.json.event_id;
    };
    const received = (type, pred = () => true) => follower.received.filter((r) => r.type === type && pred(r));
    const noteText = (r) => r.activity.object?.content ?? "";

    before(async () => {
        await follower.start();
        official = await ctx.registerRaw(ctx.uniqueName("official"));
        member = await ctx.registerRaw(ctx.uniqueName("member"));
        let res = await ctx.fetch("/_matrix/client/v3/createRoom",
            { token: official.access_token, body: { preset: "public_chat", name: "Notices" } });
        assert.equal(res.status, 200, res.text);
        roomId = res.json.room_id;
        res = await ctx.fetch(`/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { token: member.access_token, body: {} });
        assert.equal(res.status, 200, res.text);
        res = await ctx.fetch("/_matrix/client/v3/createRoom",
            { token: official.access_token, body: { preset: "public_chat", name: "Ordinary" } });
        ordinaryId = res.json.room_id;
        const r = spawnSync(DESPATCH_BIN, ["announce", "create", "--room", roomId, "--handle", "announcements",
            "--name", "Department notices", "--summary", "Official notices of the department", "--data", ctx.dataDir,
            "--server-name", SERVER_NAME], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout).account, `@announcements@${SERVER_NAME}`);
    });
    after(async () => {
        await follower.stop();
    });

    it("is found through WebFinger and is a Service actor with a key", async () => {
        const res = await ctx.fetch("/.well-known/webfinger", { query: { resource: `acct:announcements@${SERVER_NAME}` } });
        assert.equal(res.status, 200, res.text);
        assert.match(res.headers.get("content-type"), /application\/jrd\+json/);
        assert.equal(res.json.subject, `acct:announcements@${SERVER_NAME}`);
        const self = res.json.links.find((l) => l.rel === "self" && l.type === "application/activity+json");
        assert.ok(self, "a self link to the actor");
        actorUrl = self.href;
        actor = await follower.lookup(actorUrl);
        assert.ok(actor instanceof Service, `the actor is a Service, not ${actor?.constructor?.name}`);
        assert.equal(actor.preferredUsername, "announcements");
        assert.equal(actor.name, "Department notices");
        assert.ok(actor.inboxId && actor.outboxId && actor.followersId, "inbox, outbox and followers");
        const key = await actor.getPublicKey();
        assert.ok(key?.publicKey, "a usable RSA public key");
        assert.equal(key.ownerId.href, actorUrl);
        const unknown = await ctx.fetch("/.well-known/webfinger", { query: { resource: `acct:nobody@${SERVER_NAME}` } });
        assert.equal(unknown.status, 404);
        const instance = await follower.lookup(`${ctx.baseUrl}/ap/actor`);
        assert.ok(instance instanceof Application, "the instance actor");
    });

    it("refuses an unsigned Follow and a forged one", async () => {
        const inbox = actor.inboxId.href;
        const body = JSON.stringify(await follower.followJson(actorUrl));
        const unsigned = await fetch(inbox, { method: "POST", headers: { "content-type": "application/activity+json" }, body });
        assert.equal(unsigned.status, 401);
        // Signed with a key that is not the reader's, under the reader's key ID.
        const wrong = await generateCryptoKeyPair("RSASSA-PKCS1-v1_5");
        const req = new Request(inbox, { method: "POST", headers: { "content-type": "application/activity+json" }, body });
        const forged = await signRequest(req, wrong.privateKey, new URL(`${follower.actorId}#main-key`));
        const res = await fetch(forged);
        assert.equal(res.status, 401);
        // A correct signature over a different body.
        const good = await signRequest(new Request(inbox, { method: "POST",
            headers: { "content-type": "application/activity+json" }, body }), follower.keys.privateKey,
            new URL(`${follower.actorId}#main-key`));
        const tampered = new Request(inbox, { method: "POST", headers: good.headers,
            body: body.replace("Follow", "Undo") });
        assert.equal((await fetch(tampered)).status, 401);
        const followers = await ctx.fetch(new URL(actor.followersId.href).pathname);
        assert.equal(followers.json.totalItems, 0);
        assert.equal(received("Accept").length, 0);
    });

    it("follows and is accepted with a signed Accept", async () => {
        follow = await follower.follow(actor);
        await waitUntil(() => received("Accept").length === 1, { timeout: 15000, what: "the Accept" });
        const accept = received("Accept")[0];
        assert.equal(accept.actorId, actorUrl);
        const accepted = accept.activity.object;
        assert.equal(typeof accepted === "string" ? accepted : accepted?.id, follow.id.href, "the Accept names the Follow");
        const followers = await ctx.fetch(new URL(actor.followersId.href).pathname);
        assert.equal(followers.json.type, "OrderedCollection");
        assert.equal(followers.json.totalItems, 1);
        assert.equal(followers.json.orderedItems, undefined, "no member list");
        assert.equal(followers.json.first, undefined, "no pages of followers either");
        // Fetching the follower (secure mode) took signed requests, as the instance actor.
        const actorFetches = follower.fetches.filter((f) => f.path === "/users/reader");
        assert.ok(actorFetches.length > 0, "Despatch fetched the follower's actor");
        for (const f of actorFetches) {
            assert.ok(f.verified, "every fetch of the follower was signed");
            assert.equal(f.keyId, `${ctx.baseUrl}/ap/actor#main-key`);
        }
    });

    it("delivers posts as Create, edits as Update and redactions as Delete", async () => {
        await send(member, roomId, { msgtype: "m.text", body: "LOWPOWER chatter from a member" });
        await send(official, ordinaryId, { msgtype: "m.text", body: "SECRET from an ordinary room" });
        const first = await send(official, roomId, { msgtype: "m.text", body: "The office is closed on Monday.\nIt opens on Tuesday." });
        await waitUntil(() => received("Create").length === 1, { timeout: 15000, what: "the Create" });
        const create = received("Create")[0];
        assert.equal(create.actorId, actorUrl);
        assert.equal(create.object?.constructor?.name, "Note");
        assert.match(noteText(create), /The office is closed on Monday\.<br>It opens on Tuesday\./);
        const noteId = create.object.id.href;

        await send(official, roomId, {
            msgtype: "m.text", body: "* The office is closed on Monday and Tuesday.",
            "m.new_content": { msgtype: "m.text", body: "The office is closed on Monday and Tuesday." },
            "m.relates_to": { rel_type: "m.replace", event_id: first },
        });
        await waitUntil(() => received("Update").length === 1, { timeout: 15000, what: "the Update" });
        const update = received("Update")[0];
        assert.equal(update.object.id.href, noteId);
        assert.match(noteText(update), /Monday and Tuesday/);

        const note = await ctx.fetch(new URL(noteId).pathname);
        assert.equal(note.status, 200);
        assert.match(note.json.content, /Monday and Tuesday/);

        const res = await ctx.fetch(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/redact/${encodeURIComponent(first)}/r${Date.now()}`,
            { method: "PUT", token: official.access_token, body: { reason: "sent in error" } });
        assert.equal(res.status, 200, res.text);
        await waitUntil(() => received("Delete").length === 1, { timeout: 15000, what: "the Delete" });
        assert.equal(received("Delete")[0].activity.object?.id ?? received("Delete")[0].activity.object, noteId);
        assert.equal((await ctx.fetch(new URL(noteId).pathname)).status, 410);

        // Every request to the follower's inboxes carried a valid signature of the channel.
        assert.ok(follower.requests.length >= 4);
        for (const r of follower.requests) {
            assert.ok(r.verified, `signed and verified: ${r.body.slice(0, 80)}`);
            assert.equal(r.owner, actorUrl);
            assert.ok(r.status >= 200 && r.status < 300, `accepted by Fedify (${r.status})`);
            assert.ok(!r.body.includes("SECRET"), "nothing from the ordinary room");
            assert.ok(!r.body.includes("LOWPOWER"), "nothing from a member without the power to post");
            assert.ok(!r.body.includes(`:${SERVER_NAME}`), "no Matrix IDs");
            assert.ok(!r.body.includes(roomId), "no room ID");
        }
        assert.equal(received("Create").length, 1);
    });

    it("keeps past posts in the public outbox and reports itself in NodeInfo", async () => {
        await send(official, roomId, { msgtype: "m.notice", body: "Second notice" });
        await waitUntil(() => received("Create").length === 2, { timeout: 15000, what: "the second Create" });
        const outbox = await ctx.fetch(new URL(actor.outboxId.href).pathname);
        assert.equal(outbox.json.type, "OrderedCollection");
        assert.equal(outbox.json.totalItems, 1, "the withdrawn post is not counted");
        const page = await ctx.fetch(new URL(outbox.json.first).pathname + new URL(outbox.json.first).search);
        assert.equal(page.json.type, "OrderedCollectionPage");
        assert.equal(page.json.orderedItems.length, 1);
        assert.equal(page.json.orderedItems[0].type, "Create");
        assert.match(page.json.orderedItems[0].object.content, /Second notice/);
        const info = await getNodeInfo(ctx.baseUrl, { parse: "strict" });
        assert.ok(info, "NodeInfo parses strictly");
        assert.deepEqual(info.protocols, ["activitypub"]);
        assert.equal(info.software.name, "despatch");
        assert.equal(info.usage.localPosts, 1);
    });

    it("keeps deliveries across a restart while the follower is unreachable", async () => {
        await follower.close();
        await send(official, roomId, { msgtype: "m.text", body: "Notice sent while the follower was away" });
        await sleep(500);
        await ctx.restart();
        await follower.listen(follower.port);
        await waitUntil(() => received("Create", (r) => /while the follower was away/.test(noteText(r))).length === 1,
            { timeout: 20000, what: "the delayed Create" });
    });

    it("renders its HTML page in chromium", async () => {
        const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
        try {
            const page = await browser.newPage();
            const errors = [];
            page.on("pageerror", (e) => errors.push(e.message));
            // The browser asks for /favicon.ico on its own; the page itself must load whole.
            page.on("response", (r) => r.status() >= 400 && !r.url().endsWith("/favicon.ico") &&
                errors.push(`${r.status()} ${r.url()}`));
            const res = await page.goto(`${ctx.baseUrl}/announce/announcements`);
            assert.equal(res.status(), 200);
            assert.equal(await page.title(), "Department notices");
            assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "Department notices");
            const articles = page.getByRole("article");
            assert.equal(await articles.count(), 2);
            assert.match(await articles.first().textContent(), /while the follower was away/);
            assert.ok(await page.getByRole("link", { name: "Atom feed" }).isVisible());
            const shot = path.join(tmpdir(), "despatch-announce-page.png");
            await page.screenshot({ path: shot, fullPage: true });
            assert.deepEqual(errors, [], "no errors in the page");
        } finally {
            await browser.close();
        }
    });

    it("stops delivering after Undo{Follow}", async () => {
        await follower.unfollow(actor, follow);
        await waitUntil(async () => (await ctx.fetch(new URL(actor.followersId.href).pathname)).json.totalItems === 0,
            { timeout: 10000, what: "the follower to be removed" });
        const before = follower.requests.length;
        await send(official, roomId, { msgtype: "m.text", body: "After the unfollow" });
        await sleep(1500);
        assert.equal(follower.requests.length, before, "nothing is sent to a former follower");
    });
});
