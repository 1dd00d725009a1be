// Redactions, typing notifications, read receipts and unread notification counts, each seen
// by the other user's matrix-js-sdk client.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { useServer, waitForEvent, waitForEmit, waitForMembership, waitUntil, matrixError, sdk } from "./harness.mjs";

describe("redaction, typing, receipts", () => {
    const srv = useServer();

    /**
     * Alice and Bob, both syncing, both joined to a fresh room Alice made. By default Bob is
     * invited to a private room; with `{ viaInvite: false }` he joins a public room directly.
     */
    async function pair({ viaInvite = true } = {}) {
        const alice = await srv.syncedClient("alice");
        const bob = await srv.syncedClient("bob");
        let roomId;
        if (viaInvite) {
            ({ room_id: roomId } = await alice.createRoom({ preset: "private_chat", invite: [bob.getUserId()] }));
            await waitForMembership(bob, roomId, bob.getUserId(), "invite");
        } else {
            ({ room_id: roomId } = await alice.createRoom({ preset: "public_chat" }));
        }
        await bob.joinRoom(roomId);
        await waitForMembership(alice, roomId, bob.getUserId(), "join");
        await waitForMembership(bob, roomId, bob.getUserId(), "join");
        return { alice, bob, roomId };
    }

    /** unread_notifications for `roomId` from a raw initial /sync with `token`. */
    async function unreadCounts(token, roomId) {
        const res = await srv.fetch("/_matrix/client/v3/sync", {
            token,
            query: { filter: JSON.stringify({ room: { timeline: { limit: 1 } } }), timeout: 0 },
        });
        assert.equal(res.status, 200, res.text);
        const room = res.json.rooms?.join?.[roomId];
        assert.ok(room, "room is in rooms.join");
        return room.unread_notifications ?? {};
    }

    test("redaction: the other user sees the redaction and the content is gone", async () => {
        const { alice, bob, roomId } = await pair();
        const msg = await alice.sendTextMessage(roomId, "my password is hunter2");
        const bobsCopy = await waitForEvent(bob, (e) => e.getId() === msg.event_id, { what: "message to redact" });
        assert.equal(bobsCopy.getContent().body, "my password is hunter2");

        const red = await alice.redactEvent(roomId, msg.event_id, undefined, { reason: "oops" });
        assert.ok(red.event_id, "redaction has an event id");

        const redEv = await waitForEvent(bob, (e) => e.getId() === red.event_id, { what: "m.room.redaction event" });
        assert.equal(redEv.getType(), "m.room.redaction");
        assert.equal(redEv.getSender(), alice.getUserId());
        // Room v11: `redacts` is in content (older versions: top level); the sdk exposes both.
        assert.equal(redEv.event.content?.redacts ?? redEv.event.redacts, msg.event_id);
        assert.equal(redEv.getContent().reason, "oops");

        await waitUntil(() => bobsCopy.isRedacted(), { what: "Bob's copy of the message to be redacted" });
        assert.deepEqual(bobsCopy.getContent(), {}, "content stripped on Bob's side");

        // The server now serves the redacted form to Bob (GET /rooms/{roomId}/event/{eventId}).
        const fetched = await bob.fetchRoomEvent(roomId, msg.event_id);
        assert.deepEqual(fetched.content, {}, "server strips content of a redacted event");
        assert.equal(fetched.type, "m.room.message");
        assert.equal(fetched.unsigned?.redacted_because?.event_id, red.event_id, "unsigned.redacted_because is set");

        // ... in /messages too.
        const page = await bob.createMessagesRequest(roomId, null, 10, "b");
        const inHistory = page.chunk.find((e) => e.event_id === msg.event_id);
        assert.ok(inHistory, "redacted event still present in history");
        assert.deepEqual(inHistory.content, {});
        assert.ok(!JSON.stringify(page.chunk).includes("hunter2"), "redacted text appears nowhere in /messages");

        // ... and to a client that syncs from scratch.
        const sync = await srv.fetch("/_matrix/client/v3/sync", {
            token: bob.getAccessToken(),
            query: { filter: JSON.stringify({ room: { timeline: { limit: 20 } } }) },
        });
        assert.ok(!sync.text.includes("hunter2"), "redacted text appears nowhere in /sync");
    });

    test("redaction: a member without power cannot redact someone else's message (M_FORBIDDEN)", async () => {
        const { alice, bob, roomId } = await pair();
        const msg = await alice.sendTextMessage(roomId, "keep this");
        await waitForEvent(bob, (e) => e.getId() === msg.event_id);
        await assert.rejects(bob.redactEvent(roomId, msg.event_id), matrixError("M_FORBIDDEN", 403));
        const fetched = await alice.fetchRoomEvent(roomId, msg.event_id);
        assert.equal(fetched.content.body, "keep this");

        // But Bob may redact his own.
        const own = await bob.sendTextMessage(roomId, "regret");
        await bob.redactEvent(roomId, own.event_id);
        const ownEv = await waitForEvent(alice, (e) => e.getId() === own.event_id);
        await waitUntil(() => ownEv.isRedacted(), { what: "Bob's own message redacted on Alice's side" });
    });

    test("typing: the other user sees typing start and then stop", async () => {
        const { alice, bob, roomId } = await pair();
        const aliceTypingForBob = () => bob.getRoom(roomId)?.getMember(alice.getUserId())?.typing;

        await alice.sendTyping(roomId, true, 20000);
        await waitUntil(() => aliceTypingForBob() === true, { what: "Bob to see Alice typing" });

        await alice.sendTyping(roomId, false, 0);
        await waitUntil(() => aliceTypingForBob() === false, { what: "Bob to see Alice stop typing" });
    });

    test("typing: the notice expires by itself after its timeout", async () => {
        const { alice, bob, roomId } = await pair();
        const aliceTypingForBob = () => bob.getRoom(roomId)?.getMember(alice.getUserId())?.typing;
        const t0 = Date.now();
        await alice.sendTyping(roomId, true, 1000);
        await waitUntil(() => aliceTypingForBob() === true, { what: "Bob to see Alice typing" });
        // typing.yaml: "the user is typing for the next N milliseconds" — the server must
        // stop reporting it after the timeout without another request.
        await waitUntil(() => aliceTypingForBob() === false, {
            timeout: 6000,
            what: "the typing notice to expire after its 1000 ms timeout",
        });
        const ms = Date.now() - t0;
        assert.ok(ms >= 900, `typing cleared after ${ms} ms, before its timeout`);
    });

    test("read receipt: the sender sees the reader's receipt", async () => {
        const { alice, bob, roomId } = await pair();
        const msg = await alice.sendTextMessage(roomId, "please read");
        const ev = await waitForEvent(bob, (e) => e.getId() === msg.event_id);

        const readerOf = (event, room) =>
            room.roomId === roomId && event.getContent()[msg.event_id]?.["m.read"]?.[bob.getUserId()];
        const receiptSeen = waitForEmit(alice, sdk.RoomEvent.Receipt, readerOf, { what: "Bob's m.receipt" });

        await bob.sendReadReceipt(ev, sdk.ReceiptType.Read);

        const [receiptEv, receiptRoom] = await receiptSeen;
        assert.equal(receiptEv.getType(), "m.receipt");
        const receipt = readerOf(receiptEv, receiptRoom);
        assert.equal(typeof receipt.ts, "number", "receipt carries a timestamp");
        await waitUntil(() => alice.getRoom(roomId).getEventReadUpTo(bob.getUserId()) === msg.event_id, {
            what: "Alice's room model to show Bob read up to the message",
        });
        const readers = alice
            .getRoom(roomId)
            .getReceiptsForEvent(alice.getRoom(roomId).findEventById(msg.event_id))
            .map((r) => r.userId);
        assert.ok(readers.includes(bob.getUserId()));
    });

    test("unread notification counts rise for the receiver and reset after a read receipt", async () => {
        // Bob joins without an invite, so only Alice's messages can be notifications here.
        const { alice, bob, roomId } = await pair({ viaInvite: false });
        const before = await unreadCounts(bob.getAccessToken(), roomId);
        assert.equal(before.notification_count ?? 0, 0, "nothing unread yet");

        let last;
        for (let i = 0; i < 3; i++) last = await alice.sendTextMessage(roomId, `unread ${i}`);
        const lastEv = await waitForEvent(bob, (e) => e.getId() === last.event_id);

        const during = await unreadCounts(bob.getAccessToken(), roomId);
        assert.equal(during.notification_count, 3, "three unread messages for Bob");
        assert.equal(during.highlight_count ?? 0, 0, "none of them highlights");
        // The sender's own messages never count for the sender.
        const aliceCounts = await unreadCounts(alice.getAccessToken(), roomId);
        assert.equal(aliceCounts.notification_count ?? 0, 0, "own messages are not unread");
        // Bob's syncing client got the count too.
        await waitUntil(() => bob.getRoom(roomId).getUnreadNotificationCount(sdk.NotificationCountType.Total) === 3, {
            what: "Bob's client to show 3 unread",
        });

        await bob.sendReadReceipt(lastEv, sdk.ReceiptType.Read);
        const after = await unreadCounts(bob.getAccessToken(), roomId);
        assert.equal(after.notification_count, 0, "read receipt on the latest message resets the count");
        assert.equal(after.highlight_count ?? 0, 0);

        // Counting starts again from the receipt.
        const next = await alice.sendTextMessage(roomId, "one more");
        await waitForEvent(bob, (e) => e.getId() === next.event_id);
        assert.equal((await unreadCounts(bob.getAccessToken(), roomId)).notification_count, 1);
    });

    test("unread counts: a message mentioning the user via m.mentions counts as a highlight", async () => {
        const { alice, bob, roomId } = await pair({ viaInvite: false });
        const msg = await alice.sendMessage(roomId, {
            msgtype: "m.text",
            body: "Bob, a question for you",
            "m.mentions": { user_ids: [bob.getUserId()] },
        });
        await waitForEvent(bob, (e) => e.getId() === msg.event_id);
        const counts = await unreadCounts(bob.getAccessToken(), roomId);
        assert.equal(counts.notification_count, 1);
        assert.equal(counts.highlight_count, 1, ".m.rule.is_user_mention sets the highlight tweak");
    });

    test("unread counts: joining a room marks the invite as read", async () => {
        // The invite notified Bob (.m.rule.invite_for_me), but his join is an event he sent, and
        // "when the user updates their read receipt (either by using the API or by sending an
        // event), notifications prior to and including that event MUST be marked as read"
        // (push.md, Marking notifications as read).
        const { bob, roomId } = await pair({ viaInvite: true });
        const counts = await unreadCounts(bob.getAccessToken(), roomId);
        assert.equal(counts.notification_count ?? 0, 0, "no unread notifications right after joining");
    });

    test("unread counts: sending a message marks earlier messages as read", async () => {
        const { alice, bob, roomId } = await pair({ viaInvite: false });
        const m = await alice.sendTextMessage(roomId, "question?");
        await waitForEvent(bob, (e) => e.getId() === m.event_id);
        assert.equal((await unreadCounts(bob.getAccessToken(), roomId)).notification_count, 1);
        await bob.sendTextMessage(roomId, "answer!");
        // push.md, Marking notifications as read: "... (either by using the API or by sending
        // an event), notifications prior to and including that event MUST be marked as read."
        assert.equal((await unreadCounts(bob.getAccessToken(), roomId)).notification_count, 0);
    });

    test("read receipt for an earlier event only clears the messages up to it", async () => {
        const { alice, bob, roomId } = await pair({ viaInvite: false });
        const sent = [];
        for (let i = 0; i < 4; i++) sent.push(await alice.sendTextMessage(roomId, `m${i}`));
        const second = await waitForEvent(bob, (e) => e.getId() === sent[1].event_id);
        await waitForEvent(bob, (e) => e.getId() === sent[3].event_id);
        await bob.sendReadReceipt(second, sdk.ReceiptType.Read);
        const counts = await unreadCounts(bob.getAccessToken(), roomId);
        assert.equal(counts.notification_count, 2, "two messages after the read one remain unread");
    });
});
