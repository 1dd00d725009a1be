// Membership flows through matrix-js-sdk: invite, join, leave, kick, ban, unban, forget,
// and what the server refuses.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { useServer, waitForEvent, waitForMembership, waitUntil, matrixError } from "./harness.mjs";

describe("membership", () => {
    const srv = useServer();

    /** The membership event that put `userId` into `membership`, as seen by `client`'s sync. */
    function waitForMemberEvent(client, roomId, userId, membership, extra = () => true) {
        return waitForEvent(
            client,
            (e) =>
                e.getRoomId() === roomId &&
                e.getType() === "m.room.member" &&
                e.getStateKey() === userId &&
                e.getContent().membership === membership &&
                extra(e),
            { what: `${userId} ${membership} event in ${client.getUserId()}'s timeline` },
        );
    }

    /** A raw /sync (no since) for `token` with a filter; returns the JSON. */
    async function rawSync(token, filter) {
        const res = await srv.fetch("/_matrix/client/v3/sync", {
            token,
            query: { filter: JSON.stringify(filter), timeout: 0 },
        });
        assert.equal(res.status, 200, `sync failed: ${res.text}`);
        return res.json;
    }

    test("invite, join and leave: both clients see each membership change", async () => {
        const alice = await srv.syncedClient("alice");
        const bob = await srv.syncedClient("bob");
        const { room_id: roomId } = await alice.createRoom({ preset: "private_chat", name: "Members" });

        await alice.invite(roomId, bob.getUserId(), "join us");
        const inviteForBob = await waitForMembership(bob, roomId, bob.getUserId(), "invite");
        assert.equal(inviteForBob.events.member.getSender(), alice.getUserId());
        assert.equal(inviteForBob.events.member.getContent().reason, "join us");
        await waitForMemberEvent(alice, roomId, bob.getUserId(), "invite");

        await bob.joinRoom(roomId);
        await waitForMemberEvent(alice, roomId, bob.getUserId(), "join");
        await waitForMembership(bob, roomId, bob.getUserId(), "join");
        // The records keeper is a member of every room from its creation.
        const keeper = `@records:${srv.hsName}`;
        const members = await alice.getJoinedRoomMembers(roomId);
        assert.deepEqual(Object.keys(members.joined).sort(), [alice.getUserId(), bob.getUserId(), keeper].sort());

        await bob.leave(roomId);
        const leaveEv = await waitForMemberEvent(alice, roomId, bob.getUserId(), "leave");
        assert.equal(leaveEv.getSender(), bob.getUserId());
        assert.equal(leaveEv.getPrevContent().membership, "join");
        await waitForMembership(bob, roomId, bob.getUserId(), "leave");

        const { joined_rooms: bobRooms } = await bob.getJoinedRooms();
        assert.ok(!bobRooms.includes(roomId), "left room is not in /joined_rooms");
        const after = await alice.getJoinedRoomMembers(roomId);
        assert.deepEqual(Object.keys(after.joined).sort(), [alice.getUserId(), keeper].sort());

        // The room is invite-only: having left, Bob cannot come back uninvited.
        await assert.rejects(bob.joinRoom(roomId), matrixError("M_FORBIDDEN", 403));
    });

    test("rejecting an invite with leave: the inviter sees the rejection", async () => {
        const alice = await srv.syncedClient("alice");
        const bob = await srv.syncedClient("bob");
        const { room_id: roomId } = await alice.createRoom({ preset: "private_chat", invite: [bob.getUserId()] });
        await waitForMembership(bob, roomId, bob.getUserId(), "invite");

        await bob.leave(roomId);
        const ev = await waitForMemberEvent(alice, roomId, bob.getUserId(), "leave");
        assert.equal(ev.getSender(), bob.getUserId());
        assert.equal(ev.getPrevContent().membership, "invite");
        await waitUntil(() => bob.getRoom(roomId)?.getMyMembership() === "leave", { what: "Bob's room to be 'leave'" });
    });

    test("kick: the kicked user sees the kick with its reason and may rejoin a public room", async () => {
        const alice = await srv.syncedClient("alice");
        const bob = await srv.syncedClient("bob");
        const { room_id: roomId } = await alice.createRoom({ preset: "public_chat" });
        await bob.joinRoom(roomId);
        await waitForMembership(alice, roomId, bob.getUserId(), "join");
        await waitForMembership(bob, roomId, bob.getUserId(), "join");

        await alice.kick(roomId, bob.getUserId(), "off topic");

        const seenByBob = await waitForMemberEvent(bob, roomId, bob.getUserId(), "leave");
        assert.equal(seenByBob.getSender(), alice.getUserId(), "a kick is a leave sent by someone else");
        assert.equal(seenByBob.getContent().reason, "off topic");
        const seenByAlice = await waitForMemberEvent(alice, roomId, bob.getUserId(), "leave");
        assert.equal(seenByAlice.getId(), seenByBob.getId());
        await waitForMembership(bob, roomId, bob.getUserId(), "leave");

        // A kicked user no longer receives the room's messages.
        const hidden = await alice.sendTextMessage(roomId, "said after the kick");
        const marker = await alice.sendTextMessage(roomId, "marker");
        await waitForEvent(alice, (e) => e.getId() === marker.event_id);
        await assert.rejects(
            waitForEvent(bob, (e) => e.getId() === hidden.event_id, { timeout: 700 }),
            /timed out/,
            "kicked user must not receive new events",
        );

        // Kick is not ban: the room is public, so Bob can come back.
        await bob.joinRoom(roomId);
        await waitForMemberEvent(alice, roomId, bob.getUserId(), "join", (e) => e.getPrevContent().membership === "leave");
        await waitForMembership(bob, roomId, bob.getUserId(), "join");
    });

    test("a member without the power level cannot kick (M_FORBIDDEN)", async () => {
        const alice = await srv.syncedClient("alice");
        const bob = await srv.syncedClient("bob");
        const carol = await srv.registerClient("carol");
        const { room_id: roomId } = await alice.createRoom({ preset: "public_chat" });
        await bob.joinRoom(roomId);
        await carol.joinRoom(roomId);

        await assert.rejects(bob.kick(roomId, carol.getUserId(), "no"), matrixError("M_FORBIDDEN", 403));
        await assert.rejects(bob.ban(roomId, alice.getUserId(), "no"), matrixError("M_FORBIDDEN", 403));
        const members = await alice.getJoinedRoomMembers(roomId);
        assert.ok(members.joined[carol.getUserId()], "Carol is still joined");
        assert.ok(members.joined[alice.getUserId()], "Alice is still joined");
    });

    test("ban and unban: banned user cannot rejoin (M_FORBIDDEN); after unban they can", async () => {
        const alice = await srv.syncedClient("alice");
        const bob = await srv.syncedClient("bob");
        const { room_id: roomId } = await alice.createRoom({ preset: "public_chat", name: "Banning" });
        await bob.joinRoom(roomId);
        await waitForMembership(alice, roomId, bob.getUserId(), "join");
        await waitForMembership(bob, roomId, bob.getUserId(), "join");

        await alice.ban(roomId, bob.getUserId(), "spam");
        const banSeenByBob = await waitForMemberEvent(bob, roomId, bob.getUserId(), "ban");
        assert.equal(banSeenByBob.getSender(), alice.getUserId());
        assert.equal(banSeenByBob.getContent().reason, "spam");
        await waitForMemberEvent(alice, roomId, bob.getUserId(), "ban");
        await waitForMembership(bob, roomId, bob.getUserId(), "ban");
        assert.equal((await alice.getStateEvent(roomId, "m.room.member", bob.getUserId())).membership, "ban");

        // joining.yaml 403: "The user has been banned from the room."
        await assert.rejects(bob.joinRoom(roomId), matrixError("M_FORBIDDEN", 403));
        // Nor can a banned user be invited back in without an unban.
        await assert.rejects(alice.invite(roomId, bob.getUserId()), matrixError("M_FORBIDDEN", 403));
        // Banned: cannot send.
        await assert.rejects(
            srv.fetch(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1`, {
                method: "PUT",
                token: bob.getAccessToken(),
                body: { msgtype: "m.text", body: "let me in" },
            }).then((r) => {
                if (r.status !== 200) throw Object.assign(new Error(r.text), { errcode: r.json?.errcode, httpStatus: r.status });
            }),
            matrixError("M_FORBIDDEN", 403),
        );

        await alice.unban(roomId, bob.getUserId());
        const unbanEv = await waitForMemberEvent(bob, roomId, bob.getUserId(), "leave");
        assert.equal(unbanEv.getSender(), alice.getUserId());
        assert.equal(unbanEv.getPrevContent().membership, "ban");
        await waitForMemberEvent(alice, roomId, bob.getUserId(), "leave");

        await bob.joinRoom(roomId);
        await waitForMemberEvent(alice, roomId, bob.getUserId(), "join");
        await waitForMembership(bob, roomId, bob.getUserId(), "join");
        const s = await bob.sendTextMessage(roomId, "thanks for the unban");
        await waitForEvent(alice, (e) => e.getId() === s.event_id);
    });

    test("banning a user who never joined prevents a later join", async () => {
        const alice = await srv.syncedClient("alice");
        const bob = await srv.registerClient("bob");
        const { room_id: roomId } = await alice.createRoom({ preset: "public_chat" });
        await alice.ban(roomId, bob.getUserId(), "pre-emptive");
        await waitForMemberEvent(alice, roomId, bob.getUserId(), "ban");
        await assert.rejects(bob.joinRoom(roomId), matrixError("M_FORBIDDEN", 403));
    });

    test("a non-member cannot send to a room (M_FORBIDDEN)", async () => {
        const alice = await srv.syncedClient("alice");
        const mallory = await srv.registerClient("mallory");
        const { room_id: roomId } = await alice.createRoom({ preset: "public_chat" });

        await assert.rejects(mallory.sendTextMessage(roomId, "I am not here"), matrixError("M_FORBIDDEN", 403));
        await assert.rejects(
            mallory.sendStateEvent(roomId, "m.room.topic", { topic: "hijacked" }, ""),
            matrixError("M_FORBIDDEN", 403),
        );
        // Nothing from Mallory landed in the room.
        const page = await alice.createMessagesRequest(roomId, null, 50, "b");
        assert.ok(!page.chunk.some((e) => e.sender === mallory.getUserId()), "no event from the non-member");
        const topic = await alice.getStateEvent(roomId, "m.room.topic", "").catch(() => null);
        assert.notEqual(topic?.topic, "hijacked");
    });

    test("leave then forget: the room disappears from the user's sync and history", async () => {
        const alice = await srv.syncedClient("alice");
        const bob = await srv.syncedClient("bob");
        const { room_id: roomId } = await alice.createRoom({ preset: "public_chat", name: "Forgettable" });
        await bob.joinRoom(roomId);
        const msg = await alice.sendTextMessage(roomId, "remember me?");
        await waitForEvent(bob, (e) => e.getId() === msg.event_id);

        // leaving.yaml /forget 400: "The user has not left the room" (M_UNKNOWN).
        await assert.rejects(bob.forget(roomId), matrixError("M_UNKNOWN", 400));

        await bob.leave(roomId);
        await waitForMembership(bob, roomId, bob.getUserId(), "leave");
        await waitForMemberEvent(alice, roomId, bob.getUserId(), "leave");

        const leaveFilter = { room: { include_leave: true, timeline: { limit: 5 } } };
        const before = await rawSync(bob.getAccessToken(), leaveFilter);
        assert.ok(before.rooms?.leave?.[roomId], "left room appears under rooms.leave with include_leave");
        // Having left, Bob may still read the history he could see (leaving.yaml).
        const hist = await bob.createMessagesRequest(roomId, null, 20, "b");
        assert.ok(hist.chunk.some((e) => e.event_id === msg.event_id), "history readable after leave");

        await bob.forget(roomId, false);

        // "Rooms which have been forgotten will never appear in the response to /sync" (CS API, Leaving rooms)
        const afterForget = await rawSync(bob.getAccessToken(), leaveFilter);
        for (const section of ["join", "invite", "leave", "knock"]) {
            assert.ok(!afterForget.rooms?.[section]?.[roomId], `forgotten room must not appear in rooms.${section}`);
        }
        // "After this API is called ... a user will no longer be able to retrieve history for this room."
        const res = await srv.fetch(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages`, {
            token: bob.getAccessToken(),
            query: { dir: "b", limit: 20 },
        });
        const leaked = res.status === 200 && (res.json?.chunk ?? []).some((e) => e.event_id === msg.event_id);
        assert.ok(!leaked, `history still readable after forget: HTTP ${res.status}`);

        // The room still exists for Alice, and Bob can come back (public room), which brings it back.
        await bob.joinRoom(roomId);
        const again = await rawSync(bob.getAccessToken(), { room: { timeline: { limit: 1 } } });
        assert.ok(again.rooms?.join?.[roomId], "rejoined room is back in sync");
    });
});
