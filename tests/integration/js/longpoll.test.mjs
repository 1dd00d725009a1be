// Long-poll /sync at the HTTP level: a parked request returns promptly when something
// happens, and waits out its timeout when nothing does.

import { describe, test, before } from "node:test";
import assert from "node:assert/strict";
import { useServer, sleep } from "./harness.mjs";

const WAKE_BOUND_MS = 1000;

describe("long-poll /sync", () => {
    const srv = useServer();
    let alice; // sdk client, sends things
    let bob; // raw /sync long-polls with bob's token
    let roomId;

    const FILTER = JSON.stringify({ room: { timeline: { limit: 10 } }, presence: { types: [] } });

    function sync(token, { since, timeout, signal } = {}) {
        return srv.fetch("/_matrix/client/v3/sync", {
            token,
            signal,
            query: { filter: FILTER, since, timeout },
        });
    }

    async function currentToken(token) {
        const res = await sync(token, { timeout: 0 });
        assert.equal(res.status, 200, res.text);
        assert.equal(typeof res.json.next_batch, "string");
        return res.json.next_batch;
    }

    /**
     * Starts a long-poll and checks it is still parked after `settleMs`. Returns a function
     * that resolves with the response (wrapped so that awaiting park() does not await the poll).
     */
    async function park(token, since, timeout = 30000, settleMs = 300) {
        let done = false;
        const t0 = performance.now();
        const p = sync(token, { since, timeout }).then((r) => {
            done = true;
            return { ...r, returnedAt: performance.now(), startedAt: t0 };
        });
        await sleep(settleMs);
        assert.equal(done, false, `the long-poll returned after ${settleMs} ms with nothing to report`);
        return () => p;
    }

    const timelineOf = (json, rid) => json.rooms?.join?.[rid]?.timeline?.events ?? [];

    before(async () => {
        alice = await srv.registerClient("alice");
        bob = await srv.registerClient("bob");
        ({ room_id: roomId } = await alice.createRoom({ preset: "public_chat", name: "Polling" }));
        await bob.joinRoom(roomId);
    });

    test("a parked long-poll (timeout=30000) returns promptly when a message is sent", async () => {
        const since = await currentToken(bob.getAccessToken());
        const poll = await park(bob.getAccessToken(), since);

        const sendStart = performance.now();
        const { event_id: eventId } = await alice.sendTextMessage(roomId, "wake up");
        const acked = performance.now();
        const res = await poll();
        const fromSend = res.returnedAt - sendStart;
        const fromAck = res.returnedAt - acked;
        console.log(
            `long-poll woke ${fromSend.toFixed(1)} ms after the send started ` +
                `(${fromAck.toFixed(1)} ms after the send was acknowledged; total poll ${res.ms.toFixed(0)} ms)`,
        );

        assert.equal(res.status, 200, res.text);
        assert.ok(fromSend < WAKE_BOUND_MS, `long-poll took ${fromSend.toFixed(1)} ms to return (bound ${WAKE_BOUND_MS})`);
        assert.ok(
            timelineOf(res.json, roomId).some((e) => e.event_id === eventId),
            "the woken response carries the new message",
        );
        assert.notEqual(res.json.next_batch, since, "next_batch advanced");
    });

    test("a long-poll with no activity waits about its timeout and returns an empty response", async () => {
        const since = await currentToken(bob.getAccessToken());
        const t0 = performance.now();
        const res = await sync(bob.getAccessToken(), { since, timeout: 1500 });
        const ms = performance.now() - t0;
        console.log(`idle long-poll with timeout=1500 returned after ${ms.toFixed(1)} ms`);
        assert.equal(res.status, 200, res.text);
        assert.ok(ms >= 1400, `returned after ${ms.toFixed(0)} ms, before its 1500 ms timeout`);
        assert.ok(ms < 3000, `returned after ${ms.toFixed(0)} ms, far beyond its 1500 ms timeout`);

        // Empty-ish: no room has timeline events, nothing new in invite/leave.
        assert.equal(typeof res.json.next_batch, "string", "next_batch is always present");
        for (const [rid, r] of Object.entries(res.json.rooms?.join ?? {})) {
            assert.equal((r.timeline?.events ?? []).length, 0, `no timeline events for ${rid}`);
        }
        assert.equal(Object.keys(res.json.rooms?.invite ?? {}).length, 0);
        assert.equal(Object.keys(res.json.rooms?.leave ?? {}).length, 0);

        // The empty response's next_batch is a valid position: nothing is repeated from it,
        // and a message sent afterwards is delivered from it exactly once.
        const next = res.json.next_batch;
        const again = await sync(bob.getAccessToken(), { since: next, timeout: 0 });
        assert.equal(again.status, 200);
        assert.equal(timelineOf(again.json, roomId).length, 0, "nothing replayed after an empty response");
        const { event_id: eventId } = await alice.sendTextMessage(roomId, "after the idle poll");
        const fromNext = await sync(bob.getAccessToken(), { since: next, timeout: 5000 });
        assert.deepEqual(
            timelineOf(fromNext.json, roomId).map((e) => e.event_id),
            [eventId],
            "exactly the new message follows the empty response's next_batch",
        );
        // And the old `since` sees it too (next_batch did not skip anything).
        const fromSince = await sync(bob.getAccessToken(), { since, timeout: 0 });
        assert.deepEqual(timelineOf(fromSince.json, roomId).map((e) => e.event_id), [eventId]);
    });

    test("timeout=0 returns at once even with nothing new", async () => {
        const since = await currentToken(bob.getAccessToken());
        const res = await sync(bob.getAccessToken(), { since, timeout: 0 });
        console.log(`timeout=0 incremental sync returned in ${res.ms.toFixed(1)} ms`);
        assert.equal(res.status, 200);
        assert.ok(res.ms < 500, `timeout=0 took ${res.ms.toFixed(0)} ms`);
    });

    test("a long-poll from an old token returns at once with what it missed", async () => {
        const since = await currentToken(bob.getAccessToken());
        const { event_id: eventId } = await alice.sendTextMessage(roomId, "missed while away");
        const res = await sync(bob.getAccessToken(), { since, timeout: 30000 });
        assert.equal(res.status, 200);
        assert.ok(res.ms < WAKE_BOUND_MS, `took ${res.ms.toFixed(0)} ms although events were already waiting`);
        assert.ok(timelineOf(res.json, roomId).some((e) => e.event_id === eventId));
    });

    test("a parked long-poll wakes promptly for an invite", async () => {
        const since = await currentToken(bob.getAccessToken());
        const poll = await park(bob.getAccessToken(), since);
        const t0 = performance.now();
        const { room_id: newRoom } = await alice.createRoom({ preset: "private_chat", invite: [bob.getUserId()] });
        const res = await poll();
        const ms = res.returnedAt - t0;
        console.log(`long-poll woke ${ms.toFixed(1)} ms after createRoom with invite started`);
        assert.ok(ms < WAKE_BOUND_MS, `took ${ms.toFixed(0)} ms`);
        // The invite may land in this response or, if the wake-up was for the room creation
        // in progress, in the next one; either way it arrives without waiting out the timeout.
        let json = res.json;
        if (!json.rooms?.invite?.[newRoom]) {
            const next = await sync(bob.getAccessToken(), { since: json.next_batch, timeout: 5000 });
            json = next.json;
        }
        assert.ok(json.rooms?.invite?.[newRoom], "invite delivered");
    });

    test("a parked long-poll wakes promptly for a typing notice", async () => {
        const since = await currentToken(bob.getAccessToken());
        const poll = await park(bob.getAccessToken(), since);
        const t0 = performance.now();
        await alice.sendTyping(roomId, true, 10000);
        const res = await poll();
        const ms = res.returnedAt - t0;
        console.log(`long-poll woke ${ms.toFixed(1)} ms after a typing notice`);
        assert.ok(ms < WAKE_BOUND_MS, `took ${ms.toFixed(0)} ms`);
        const typing = (res.json.rooms?.join?.[roomId]?.ephemeral?.events ?? []).find((e) => e.type === "m.typing");
        assert.ok(typing?.content?.user_ids?.includes(alice.getUserId()), "m.typing with Alice delivered");
        await alice.sendTyping(roomId, false, 0);
    });

    test("a parked long-poll wakes promptly for a read receipt", async () => {
        const { event_id: eventId } = await bob.sendTextMessage(roomId, "read this, alice");
        const since = await currentToken(bob.getAccessToken());
        const poll = await park(bob.getAccessToken(), since);
        const t0 = performance.now();
        await srv.fetch(
            `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(eventId)}`,
            { token: alice.getAccessToken(), body: {} },
        );
        const res = await poll();
        const ms = res.returnedAt - t0;
        console.log(`long-poll woke ${ms.toFixed(1)} ms after a read receipt`);
        assert.ok(ms < WAKE_BOUND_MS, `took ${ms.toFixed(0)} ms`);
        const receipt = (res.json.rooms?.join?.[roomId]?.ephemeral?.events ?? []).find((e) => e.type === "m.receipt");
        assert.ok(receipt?.content?.[eventId]?.["m.read"]?.[alice.getUserId()], "m.receipt delivered");
    });

    test("many parked long-polls all wake for one message", async () => {
        const users = [];
        for (let i = 0; i < 8; i++) {
            const u = await srv.registerClient("poller");
            await u.joinRoom(roomId);
            users.push(u);
        }
        const tokens = await Promise.all(users.map((u) => currentToken(u.getAccessToken())));
        let settled = 0;
        const t0 = performance.now();
        const polls = users.map((u, i) =>
            sync(u.getAccessToken(), { since: tokens[i], timeout: 30000 }).then((r) => {
                settled += 1;
                return { ...r, returnedAt: performance.now() };
            }),
        );
        await sleep(400);
        assert.equal(settled, 0, "no poll returned before the message");
        const sendStart = performance.now();
        const { event_id: eventId } = await alice.sendTextMessage(roomId, "everyone wake up");
        const results = await Promise.all(polls);
        const worst = Math.max(...results.map((r) => r.returnedAt - sendStart));
        console.log(`${users.length} parked polls all woke; slowest ${worst.toFixed(1)} ms after the send (parked ${(sendStart - t0).toFixed(0)} ms)`);
        assert.ok(worst < WAKE_BOUND_MS, `slowest poll took ${worst.toFixed(0)} ms`);
        for (const r of results) {
            assert.equal(r.status, 200);
            assert.ok(timelineOf(r.json, roomId).some((e) => e.event_id === eventId));
        }
    });
});
