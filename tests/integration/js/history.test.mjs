// History: 500 messages, paginated back by a fresh client (sdk scrollback and raw /messages
// via createMessagesRequest) with nothing missing or duplicated; /context around an event.

import { describe, test, before } from "node:test";
import assert from "node:assert/strict";
import { useServer, startClient } from "./harness.mjs";

const COUNT = 500;
const range = (n) => Array.from({ length: n }, (_, i) => i);

describe("history", () => {
    const srv = useServer();
    let alice;
    let roomId;
    const sentIds = []; // event id of message i

    before(async () => {
        alice = await srv.registerClient("alice");
        ({ room_id: roomId } = await alice.createRoom({ preset: "public_chat", name: "Long history" }));
        // Alice is not syncing: these go straight out through the sdk's send path, in order.
        for (let i = 0; i < COUNT; i++) {
            const { event_id: eventId } = await alice.sendEvent(roomId, "m.room.message", {
                msgtype: "m.text",
                body: `message ${i}`,
                "org.despatch.seq": i,
            });
            sentIds.push(eventId);
        }
        assert.equal(new Set(sentIds).size, COUNT, "every send returned a distinct event id");
    });

    /** A second user who joins after the messages were sent (history_visibility shared). */
    async function freshReader() {
        const reader = await srv.registerClient("reader");
        await reader.joinRoom(roomId);
        return reader;
    }

    const seqOf = (e) => e.content?.["org.despatch.seq"];

    test("a fresh client scrolls back through all 500 messages in order (sdk scrollback)", async () => {
        const reader = await freshReader();
        await startClient(reader, { initialSyncLimit: 20 });
        const room = reader.getRoom(roomId);
        assert.ok(room, "reader's client knows the room after the initial sync");

        const timeline = room.getLiveTimeline();
        for (let i = 0; i < 100; i++) {
            const before = timeline.getEvents().length;
            await reader.scrollback(room, 97);
            const reachedStart = timeline.getEvents()[0]?.getType() === "m.room.create";
            if (reachedStart || timeline.getPaginationToken("b") === null) break;
            assert.ok(timeline.getEvents().length > before || i < 99, "scrollback made progress");
        }
        const events = timeline.getEvents();
        assert.equal(events[0].getType(), "m.room.create", "scrolled back to the room's creation");

        const msgs = events.filter((e) => e.getType() === "m.room.message");
        assert.deepEqual(
            msgs.map((e) => e.getContent()["org.despatch.seq"]),
            range(COUNT),
            "all 500 messages, in send order, none missing or duplicated",
        );
        assert.deepEqual(
            msgs.map((e) => e.getId()),
            sentIds,
        );
        const ids = events.map((e) => e.getId());
        assert.equal(new Set(ids).size, ids.length, "no event appears twice in the timeline");
    });

    test("/messages backwards from the end returns every message once, newest first", async () => {
        const reader = await freshReader();
        const seen = [];
        let from = null;
        let pages = 0;
        for (;;) {
            const res = await reader.createMessagesRequest(roomId, from, 73, "b");
            pages += 1;
            assert.ok(Array.isArray(res.chunk), "chunk is an array");
            if (from !== null) assert.equal(res.start, from, "start echoes the from token");
            assert.ok(res.chunk.length <= 73, "limit respected");
            seen.push(...res.chunk);
            if (!res.end) break;
            assert.notEqual(res.end, from, "end token advances");
            from = res.end;
            assert.ok(pages < 60, "pagination terminates");
        }
        const ids = seen.map((e) => e.event_id);
        assert.equal(new Set(ids).size, ids.length, "no duplicates across pages");
        const msgs = seen.filter((e) => e.type === "m.room.message");
        assert.deepEqual(msgs.map(seqOf), range(COUNT).reverse(), "every message, reverse-chronological");
        assert.equal(seen.at(-1).type, "m.room.create", "the oldest event is the room creation");
        for (const e of seen) {
            assert.equal(e.room_id, roomId);
            assert.ok(e.sender && e.origin_server_ts, "events are in client format");
        }
        // Timestamps never go backwards when reading forwards.
        const ts = msgs.map((e) => e.origin_server_ts).reverse();
        for (let i = 1; i < ts.length; i++) assert.ok(ts[i] >= ts[i - 1], "origin_server_ts is monotonic");
    });

    test("/messages in small pages keeps giving an end token until the room's first event", async () => {
        // A new, short room: every page of 2 but the last must carry `end` (message_pagination.yaml:
        // end is omitted only when no further events are available).
        const { room_id: small } = await alice.createRoom({ preset: "public_chat", name: "Short" });
        for (let i = 0; i < 3; i++) await alice.sendTextMessage(small, `short ${i}`);
        const state = await alice.roomState(small);
        const all = [];
        let from = null;
        for (let pages = 0; pages < 30; pages++) {
            const res = await alice.createMessagesRequest(small, from, 2, "b");
            all.push(...res.chunk);
            if (!res.end) break;
            from = res.end;
        }
        const types = all.map((e) => e.type);
        assert.equal(types.at(-1), "m.room.create", `pagination stopped early; got ${types.join(", ")}`);
        // One more: the records keeper's invite, which its join replaced in the current state.
        assert.equal(all.length, state.length + 3 + 1, "every state event and message is returned");
    });

    test("/messages forwards from the start (no from token) returns every message once, oldest first", async () => {
        const reader = await freshReader();
        const seen = [];
        let from = null;
        for (let pages = 0; ; pages++) {
            assert.ok(pages < 60, "pagination terminates");
            const res = await reader.createMessagesRequest(roomId, from, 89, "f");
            seen.push(...res.chunk);
            if (!res.end || res.chunk.length === 0) break;
            from = res.end;
        }
        const ids = seen.map((e) => e.event_id);
        assert.equal(new Set(ids).size, ids.length, "no duplicates across pages");
        assert.equal(seen[0]?.type, "m.room.create", "starts at the room creation");
        const msgs = seen.filter((e) => e.type === "m.room.message");
        assert.deepEqual(msgs.map(seqOf), range(COUNT), "every message, chronological");
    });

    test("/messages with a sync prev_batch continues exactly where the sync timeline stopped", async () => {
        const reader = await freshReader();
        const sync = await srv.fetch("/_matrix/client/v3/sync", {
            token: reader.getAccessToken(),
            query: { filter: JSON.stringify({ room: { timeline: { limit: 10 } } }) },
        });
        assert.equal(sync.status, 200);
        const tl = sync.json.rooms.join[roomId].timeline;
        assert.equal(tl.limited, true, "timeline is limited");
        assert.ok(tl.prev_batch, "prev_batch given");
        const syncIds = tl.events.map((e) => e.event_id);
        const page = await reader.createMessagesRequest(roomId, tl.prev_batch, 20, "b");
        const oldestInSync = tl.events[0];
        // The page must start with the event just before the sync timeline's oldest one.
        const msgsInSync = tl.events.filter((e) => e.type === "m.room.message");
        assert.ok(msgsInSync.length > 0);
        for (const e of page.chunk) assert.ok(!syncIds.includes(e.event_id), "no overlap with the sync timeline");
        const firstMsg = page.chunk.find((e) => e.type === "m.room.message");
        if (oldestInSync.type === "m.room.message" && firstMsg) {
            assert.equal(seqOf(firstMsg), seqOf(oldestInSync) - 1, "no gap between sync and /messages");
        }
    });

    test("/context around an event returns its neighbours and usable tokens", async () => {
        const reader = await freshReader();
        const target = 250;
        const res = await srv.fetch(
            `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/context/${encodeURIComponent(sentIds[target])}`,
            { token: reader.getAccessToken(), query: { limit: 10 } },
        );
        assert.equal(res.status, 200, res.text);
        const ctx = res.json;
        assert.equal(ctx.event.event_id, sentIds[target]);
        assert.equal(seqOf(ctx.event), target);
        const before = ctx.events_before.map(seqOf);
        const after = ctx.events_after.map(seqOf);
        assert.ok(before.length > 0 && after.length > 0, "events on both sides of a mid-history event");
        assert.ok(before.length + after.length <= 10, "limit applies to the sum of both arrays");
        // events_before: reverse-chronological; events_after: chronological (event_context.yaml)
        assert.deepEqual(before, range(before.length).map((i) => target - 1 - i));
        assert.deepEqual(after, range(after.length).map((i) => target + 1 + i));
        assert.ok(Array.isArray(ctx.state) && ctx.state.some((e) => e.type === "m.room.create"), "state included");

        // start paginates backwards, end forwards, from the edges of the context.
        const back = await reader.createMessagesRequest(roomId, ctx.start, 3, "b");
        assert.deepEqual(back.chunk.map(seqOf), [1, 2, 3].map((i) => target - before.length - i));
        const fwd = await reader.createMessagesRequest(roomId, ctx.end, 3, "f");
        assert.deepEqual(fwd.chunk.map(seqOf), [1, 2, 3].map((i) => target + after.length + i));
    });

    test("sdk getEventTimeline (/context) builds a timeline around an old event", async () => {
        const reader = await freshReader();
        await startClient(reader, { initialSyncLimit: 5 });
        const room = reader.getRoom(roomId);
        const target = 42;
        const tl = await reader.getEventTimeline(room.getUnfilteredTimelineSet(), sentIds[target]);
        assert.ok(tl, "timeline returned");
        const seqs = tl
            .getEvents()
            .filter((e) => e.getType() === "m.room.message")
            .map((e) => e.getContent()["org.despatch.seq"]);
        assert.ok(seqs.includes(target), "the event itself is in the timeline");
        const idx = seqs.indexOf(target);
        assert.deepEqual(seqs, range(seqs.length).map((i) => target - idx + i), "contiguous, chronological");
        // It is not the live timeline: the newest message is not there.
        assert.ok(!seqs.includes(COUNT - 1));
        // Paginating forwards from there reaches further messages without gaps.
        await reader.paginateEventTimeline(tl, { backwards: false, limit: 20 });
        const more = tl
            .getEvents()
            .filter((e) => e.getType() === "m.room.message")
            .map((e) => e.getContent()["org.despatch.seq"]);
        assert.ok(more.length > seqs.length, "forward pagination added events");
        assert.deepEqual(more, range(more.length).map((i) => more[0] + i), "still contiguous");
    });
});
