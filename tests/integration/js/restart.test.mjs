// Durability: after writes are acknowledged the server is killed with SIGKILL at once,
// restarted on the same data dir and port, and everything must still be there.

import { describe, test, before } from "node:test";
import assert from "node:assert/strict";
import { useServer, startClient, waitForEvent, matrixError } from "./harness.mjs";

describe("restart", () => {
    const srv = useServer();

    let alice; // sdk client (not syncing)
    let bob; // sdk client, syncing across the restart
    let roomId;
    let otherRoomId;
    let alias;
    const sent = []; // {event_id, body, sender} in send order
    let bobSinceBeforeKill;
    let killResult;

    const ACCOUNT_DATA = { "org.despatch.settings": { theme: "dark", n: 42, nested: { list: [1, 2, 3] } } };
    const ROOM_ACCOUNT_DATA = { "org.despatch.room_prefs": { pinned: true } };
    const DISPLAY_NAME = "Alice Archivist";

    before(async () => {
        alice = await srv.registerClient("alice");
        bob = await srv.registerClient("bob");
        alias = `#records_${srv.runId}:localhost`;

        ({ room_id: roomId } = await alice.createRoom({
            preset: "public_chat",
            name: "Records",
            topic: "Kept forever",
            room_alias_name: `records_${srv.runId}`,
        }));
        ({ room_id: otherRoomId } = await alice.createRoom({ preset: "private_chat", name: "Second room" }));
        await bob.joinRoom(roomId);
        await startClient(bob);

        for (let i = 0; i < 20; i++) {
            const who = i % 4 === 3 ? bob : alice;
            const body = `durable ${i}`;
            const { event_id: eventId } = await who.sendTextMessage(roomId, body);
            sent.push({ event_id: eventId, body, sender: who.getUserId() });
        }

        const syncRes = await srv.fetch("/_matrix/client/v3/sync", { token: bob.getAccessToken(), query: { timeout: 0 } });
        bobSinceBeforeKill = syncRes.json.next_batch;

        // The last writes go out together; the moment all are acknowledged, SIGKILL.
        const body = "the very last message";
        const [last] = await Promise.all([
            alice.sendTextMessage(roomId, body),
            alice.setDisplayName(DISPLAY_NAME),
            alice.setAccountData("org.despatch.settings", ACCOUNT_DATA["org.despatch.settings"]),
            alice.setRoomAccountData(roomId, "org.despatch.room_prefs", ROOM_ACCOUNT_DATA["org.despatch.room_prefs"]),
            alice.setRoomTopic(otherRoomId, "written just before the kill"),
        ]);
        sent.push({ event_id: last.event_id, body, sender: alice.getUserId() });

        killResult = await srv.restart({ signal: "SIGKILL" });
    });

    test("the server was really killed with SIGKILL and came back on the same port", async () => {
        assert.equal(killResult.signal, "SIGKILL");
        const res = await srv.fetch("/_matrix/client/versions");
        assert.equal(res.status, 200);
    });

    test("old access tokens still work", async () => {
        assert.equal((await alice.whoami()).user_id, alice.getUserId());
        assert.equal((await bob.whoami()).user_id, bob.getUserId());
        const who = await srv.fetch("/_matrix/client/v3/account/whoami", { token: alice.getAccessToken() });
        assert.equal(who.json.device_id, alice.getDeviceId(), "token still bound to its device");
    });

    test("login with the old password still works", async () => {
        const res = await srv.fetch("/_matrix/client/v3/login", {
            body: {
                type: "m.login.password",
                identifier: { type: "m.id.user", user: alice.testLocalpart },
                password: alice.testPassword,
            },
        });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json.user_id, alice.getUserId());
        assert.ok(res.json.access_token);
        // The sdk's own login call too.
        const loginClient = srv.makeClient({ userId: bob.getUserId() });
        const viaSdk = await loginClient.loginRequest({
            type: "m.login.password",
            identifier: { type: "m.id.user", user: bob.testLocalpart },
            password: bob.testPassword,
        });
        assert.equal(viaSdk.user_id, bob.getUserId());
        // And a wrong password is still refused.
        await assert.rejects(
            loginClient.loginRequest({
                type: "m.login.password",
                identifier: { type: "m.id.user", user: bob.testLocalpart },
                password: "not the password",
            }),
            matrixError("M_FORBIDDEN", 403),
        );
    });

    test("every acknowledged message is still there, in order (/messages)", async () => {
        const all = [];
        let from = null;
        for (let pages = 0; pages < 20; pages++) {
            const res = await alice.createMessagesRequest(roomId, from, 50, "b");
            all.push(...res.chunk);
            if (!res.end) break;
            from = res.end;
        }
        const msgs = all.filter((e) => e.type === "m.room.message").reverse();
        assert.deepEqual(
            msgs.map((e) => e.event_id),
            sent.map((s) => s.event_id),
        );
        assert.deepEqual(
            msgs.map((e) => [e.content.body, e.sender]),
            sent.map((s) => [s.body, s.sender]),
        );
        // The single-event endpoint finds the very last one.
        const lastEv = await alice.fetchRoomEvent(roomId, sent.at(-1).event_id);
        assert.equal(lastEv.content.body, "the very last message");
    });

    test("room state is intact: name, topic, members, alias, and the last state write", async () => {
        const state = await alice.roomState(roomId);
        const get = (type, key = "") => state.find((e) => e.type === type && e.state_key === key)?.content;
        assert.equal(get("m.room.name")?.name, "Records");
        assert.equal(get("m.room.topic")?.topic, "Kept forever");
        assert.equal(get("m.room.member", alice.getUserId())?.membership, "join");
        assert.equal(get("m.room.member", bob.getUserId())?.membership, "join");
        assert.equal(get("m.room.canonical_alias")?.alias, alias);
        assert.equal(get("m.room.create")?.creator ?? alice.getUserId(), alice.getUserId());

        assert.equal((await bob.getRoomIdForAlias(alias)).room_id, roomId);
        const joined = (await alice.getJoinedRooms()).joined_rooms.sort();
        assert.deepEqual(joined, [roomId, otherRoomId].sort());
        const members = await alice.getJoinedRoomMembers(roomId);
        const keeper = `@records:${srv.hsName}`;  // the records keeper, still there after the restart
        assert.deepEqual(Object.keys(members.joined).sort(), [alice.getUserId(), bob.getUserId(), keeper].sort());

        const topic = await alice.getStateEvent(otherRoomId, "m.room.topic", "");
        assert.equal(topic.topic, "written just before the kill");
    });

    test("profile is intact: the display name set just before the kill", async () => {
        const profile = await bob.getProfileInfo(alice.getUserId());
        assert.equal(profile.displayname, DISPLAY_NAME);
        const name = await srv.fetch(`/_matrix/client/v3/profile/${encodeURIComponent(alice.getUserId())}/displayname`);
        assert.equal(name.json?.displayname, DISPLAY_NAME);
    });

    test("account data is intact: global and per-room", async () => {
        const global = await alice.getAccountDataFromServer("org.despatch.settings");
        assert.deepEqual(global, ACCOUNT_DATA["org.despatch.settings"]);
        const res = await srv.fetch(
            `/_matrix/client/v3/user/${encodeURIComponent(alice.getUserId())}/rooms/${encodeURIComponent(roomId)}` +
                `/account_data/org.despatch.room_prefs`,
            { token: alice.getAccessToken() },
        );
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(res.json, ROOM_ACCOUNT_DATA["org.despatch.room_prefs"]);
        // And in a fresh initial sync.
        const sync = await srv.fetch("/_matrix/client/v3/sync", { token: alice.getAccessToken(), query: { timeout: 0 } });
        const globalEvents = sync.json.account_data?.events ?? [];
        assert.deepEqual(
            globalEvents.find((e) => e.type === "org.despatch.settings")?.content,
            ACCOUNT_DATA["org.despatch.settings"],
        );
        const roomEvents = sync.json.rooms?.join?.[roomId]?.account_data?.events ?? [];
        assert.deepEqual(
            roomEvents.find((e) => e.type === "org.despatch.room_prefs")?.content,
            ROOM_ACCOUNT_DATA["org.despatch.room_prefs"],
        );
    });

    test("a since token from before the kill still works for incremental sync", async () => {
        const res = await srv.fetch("/_matrix/client/v3/sync", {
            token: bob.getAccessToken(),
            query: { since: bobSinceBeforeKill, timeout: 0 },
        });
        assert.equal(res.status, 200, res.text);
        const events = res.json.rooms?.join?.[roomId]?.timeline?.events ?? [];
        assert.deepEqual(
            events.filter((e) => e.type === "m.room.message").map((e) => e.event_id),
            [sent.at(-1).event_id],
            "exactly what happened after the token: the last message",
        );
    });

    test("new writes after the restart follow the old ones; the syncing client resumes by itself", async () => {
        const { event_id: eventId } = await alice.sendTextMessage(roomId, "after the restart");
        const page = await alice.createMessagesRequest(roomId, null, 3, "b");
        assert.deepEqual(
            page.chunk.filter((e) => e.type === "m.room.message").map((e) => e.event_id).slice(0, 2),
            [eventId, sent.at(-1).event_id],
            "the new message sorts after the last pre-kill message",
        );
        // Bob's client kept its sync loop (and its since token) through the outage.
        const ev = await waitForEvent(bob, (e) => e.getId() === eventId, {
            timeout: 20000,
            what: "the post-restart message on Bob's resumed sync",
        });
        assert.equal(ev.getContent().body, "after the restart");
    });

    test("a graceful SIGTERM restart also keeps everything", async () => {
        const { event_id: eventId } = await bob.sendTextMessage(roomId, "before graceful restart");
        const res = await srv.restart({ signal: "SIGTERM" });
        assert.equal(res.code, 0, "clean exit on SIGTERM");
        assert.equal((await alice.whoami()).user_id, alice.getUserId());
        const fetched = await alice.fetchRoomEvent(roomId, eventId);
        assert.equal(fetched.content.body, "before graceful restart");
    });
});
