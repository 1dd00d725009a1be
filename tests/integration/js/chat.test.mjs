// Two users chatting through matrix-js-sdk: private and public rooms, names and topics,
// edits and direct chats.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { useServer, startClient, waitForEvent, waitForMembership, waitUntil, liveMessages } from "./harness.mjs";

describe("chat", () => {
    const srv = useServer();

    test("private room: invite, join, and messages both ways arrive through sync", async () => {
        const alice = await srv.syncedClient("alice");
        const bob = await srv.syncedClient("bob");

        const { room_id: roomId } = await alice.createRoom({ preset: "private_chat", name: "Private chat" });
        assert.match(roomId, /^!.+:localhost$/);

        await alice.invite(roomId, bob.getUserId());

        // Bob's client learns about the invite from his own sync, with Alice as the inviter.
        const invited = await waitForMembership(bob, roomId, bob.getUserId(), "invite");
        assert.equal(invited.events.member.getSender(), alice.getUserId());
        assert.equal(bob.getRoom(roomId).getMyMembership(), "invite");
        // The invite carries stripped state so the client can show the room name.
        assert.equal(bob.getRoom(roomId).name, "Private chat");

        // Alice sees the invite too.
        await waitForMembership(alice, roomId, bob.getUserId(), "invite");

        const joined = await bob.joinRoom(roomId);
        assert.equal(joined.roomId, roomId);
        await waitForMembership(bob, roomId, bob.getUserId(), "join");
        await waitForMembership(alice, roomId, bob.getUserId(), "join");

        const { joined_rooms: bobRooms } = await bob.getJoinedRooms();
        assert.ok(bobRooms.includes(roomId), "room is in Bob's /joined_rooms");

        // Alice -> Bob
        const sent1 = await alice.sendTextMessage(roomId, "hello bob");
        const got1 = await waitForEvent(bob, (e) => e.getId() === sent1.event_id, { what: "Alice's message" });
        assert.equal(got1.getSender(), alice.getUserId());
        assert.equal(got1.getType(), "m.room.message");
        assert.equal(got1.getContent().msgtype, "m.text");
        assert.equal(got1.getContent().body, "hello bob");
        assert.equal(got1.getRoomId(), roomId);

        // Bob -> Alice
        const sent2 = await bob.sendTextMessage(roomId, "hi alice");
        const got2 = await waitForEvent(alice, (e) => e.getId() === sent2.event_id, { what: "Bob's message" });
        assert.equal(got2.getSender(), bob.getUserId());
        assert.equal(got2.getContent().body, "hi alice");

        // A quick back-and-forth arrives complete and in order on both sides.
        for (let i = 0; i < 5; i++) {
            await alice.sendTextMessage(roomId, `a${i}`);
            await bob.sendTextMessage(roomId, `b${i}`);
        }
        const expected = ["hello bob", "hi alice"];
        for (let i = 0; i < 5; i++) expected.push(`a${i}`, `b${i}`);
        // Each client received every message through its sync. (A client shows its own local
        // echoes where it sent them, so compare per sender, not the interleaving.)
        for (const c of [alice, bob]) {
            await waitUntil(() => liveMessages(c, roomId).length >= expected.length, {
                what: `${c.getUserId()} to have ${expected.length} messages`,
            });
            const msgs = liveMessages(c, roomId);
            const bodiesFrom = (u) => msgs.filter((e) => e.getSender() === u).map((e) => e.getContent().body);
            assert.deepEqual(bodiesFrom(alice.getUserId()), expected.filter((b) => /^(hello bob|a\d)$/.test(b)));
            assert.deepEqual(bodiesFrom(bob.getUserId()), expected.filter((b) => /^(hi alice|b\d)$/.test(b)));
            assert.equal(msgs.length, expected.length, `${c.getUserId()} has no duplicates`);
        }
        // The room's history on the server has the exact interleaving in which they were sent.
        const page = await bob.createMessagesRequest(roomId, null, 50, "b");
        const serverOrder = page.chunk
            .filter((e) => e.type === "m.room.message")
            .map((e) => e.content.body)
            .reverse();
        assert.deepEqual(serverOrder, expected);
    });

    test("public room joined by alias: both users see each other's messages", async () => {
        const alice = await srv.syncedClient("alice");
        const bob = await srv.syncedClient("bob");
        const aliasLocal = `lobby_${srv.runId}`;
        const alias = `#${aliasLocal}:localhost`;

        const { room_id: roomId } = await alice.createRoom({
            preset: "public_chat",
            visibility: "public",
            room_alias_name: aliasLocal,
            name: "Lobby",
        });

        // The alias resolves to the room, and the canonical alias is in the room state.
        const resolved = await bob.getRoomIdForAlias(alias);
        assert.equal(resolved.room_id, roomId);
        const canonical = await alice.getStateEvent(roomId, "m.room.canonical_alias", "");
        assert.equal(canonical.alias, alias);

        // Bob is not invited: he joins by alias.
        const room = await bob.joinRoom(alias);
        assert.equal(room.roomId, roomId);
        await waitForMembership(bob, roomId, bob.getUserId(), "join");
        await waitForMembership(alice, roomId, bob.getUserId(), "join");
        assert.equal(bob.getRoom(roomId).name, "Lobby");

        const s1 = await bob.sendTextMessage(roomId, "hello from bob");
        const g1 = await waitForEvent(alice, (e) => e.getId() === s1.event_id, { what: "Bob's message" });
        assert.equal(g1.getContent().body, "hello from bob");
        assert.equal(g1.getSender(), bob.getUserId());

        const s2 = await alice.sendTextMessage(roomId, "welcome bob");
        const g2 = await waitForEvent(bob, (e) => e.getId() === s2.event_id, { what: "Alice's message" });
        assert.equal(g2.getContent().body, "welcome bob");
        assert.equal(g2.getSender(), alice.getUserId());

        // A third user joins by alias too and can read the room's recent history via sync.
        const carol = await srv.registerClient("carol");
        await carol.joinRoom(alias);
        await startClient(carol);
        await waitForEvent(carol, (e) => e.getId() === s2.event_id, { what: "history for a newly joined user" });
    });

    test("room name and topic: set at creation and changed later, seen by the other member", async () => {
        const alice = await srv.syncedClient("alice");
        const bob = await srv.syncedClient("bob");

        const { room_id: roomId } = await alice.createRoom({
            preset: "private_chat",
            name: "Budget 2027",
            topic: "Planning the budget",
            invite: [bob.getUserId()],
        });
        await waitForMembership(bob, roomId, bob.getUserId(), "invite");
        await bob.joinRoom(roomId);
        await waitForMembership(bob, roomId, bob.getUserId(), "join");

        const bobRoom = () => bob.getRoom(roomId);
        const topicOf = (r) => r.currentState.getStateEvents("m.room.topic", "")?.getContent().topic;
        await waitUntil(() => bobRoom().name === "Budget 2027" && topicOf(bobRoom()) === "Planning the budget", {
            what: "initial name and topic on Bob's side",
        });

        // Alice renames the room and changes the topic.
        const nameRes = await alice.setRoomName(roomId, "Budget 2027 (final)");
        const topicRes = await alice.setRoomTopic(roomId, "Signed off");
        assert.ok(nameRes.event_id && topicRes.event_id);

        const nameEv = await waitForEvent(bob, (e) => e.getId() === nameRes.event_id, { what: "m.room.name event" });
        assert.equal(nameEv.getType(), "m.room.name");
        assert.equal(nameEv.getStateKey(), "");
        assert.equal(nameEv.getContent().name, "Budget 2027 (final)");
        assert.equal(nameEv.getPrevContent().name, "Budget 2027", "prev_content carries the old name");
        const topicEv = await waitForEvent(bob, (e) => e.getId() === topicRes.event_id, { what: "m.room.topic event" });
        assert.equal(topicEv.getContent().topic, "Signed off");

        await waitUntil(() => bobRoom().name === "Budget 2027 (final)" && topicOf(bobRoom()) === "Signed off", {
            what: "Bob's room model to show the new name and topic",
        });

        // Server-side state agrees (GET /rooms/{roomId}/state and /state/{type}/{key}).
        const state = await bob.roomState(roomId);
        const find = (type) => state.find((e) => e.type === type && e.state_key === "");
        assert.equal(find("m.room.name")?.content.name, "Budget 2027 (final)");
        assert.equal(find("m.room.topic")?.content.topic, "Signed off");
        assert.equal((await bob.getStateEvent(roomId, "m.room.name", "")).name, "Budget 2027 (final)");

        // Bob's display name change is visible to Alice in the member list.
        await bob.setDisplayName("Bob the Builder");
        await waitUntil(() => alice.getRoom(roomId)?.getMember(bob.getUserId())?.name === "Bob the Builder", {
            what: "Alice to see Bob's new display name",
        });
    });

    test("editing a message: the m.replace edit reaches the other user and replaces the shown text", async () => {
        const alice = await srv.syncedClient("alice");
        const bob = await srv.syncedClient("bob");
        const { room_id: roomId } = await alice.createRoom({ preset: "private_chat", invite: [bob.getUserId()] });
        await waitForMembership(bob, roomId, bob.getUserId(), "invite");
        await bob.joinRoom(roomId);

        const orig = await alice.sendTextMessage(roomId, "the meeting is at 10");
        const origEv = await waitForEvent(bob, (e) => e.getId() === orig.event_id, { what: "original message" });
        assert.equal(origEv.getContent().body, "the meeting is at 10");

        const edit = await alice.sendMessage(roomId, {
            msgtype: "m.text",
            body: "* the meeting is at 11",
            "m.new_content": { msgtype: "m.text", body: "the meeting is at 11" },
            "m.relates_to": { rel_type: "m.replace", event_id: orig.event_id },
        });

        const editEv = await waitForEvent(bob, (e) => e.getId() === edit.event_id, { what: "edit event" });
        assert.equal(editEv.getSender(), alice.getUserId());
        const rel = editEv.getWireContent()["m.relates_to"];
        assert.equal(rel?.rel_type, "m.replace");
        assert.equal(rel?.event_id, orig.event_id);
        assert.equal(editEv.getWireContent()["m.new_content"]?.body, "the meeting is at 11");

        // Bob's client applies the edit to the original event.
        await waitUntil(() => origEv.replacingEventId() === edit.event_id, { what: "original to be marked replaced" });
        assert.equal(origEv.getContent().body, "the meeting is at 11");
        assert.equal(origEv.getOriginalContent().body, "the meeting is at 10");
    });

    async function aliceEdits() {
        const alice = await srv.syncedClient("alice");
        const { room_id: roomId } = await alice.createRoom({ preset: "private_chat" });
        const orig = await alice.sendTextMessage(roomId, "draft v1");
        const edit = await alice.sendMessage(roomId, {
            msgtype: "m.text",
            body: "* draft v2",
            "m.new_content": { msgtype: "m.text", body: "draft v2" },
            "m.relates_to": { rel_type: "m.replace", event_id: orig.event_id },
        });
        return { alice, roomId, orig, edit };
    }

    test("editing a message: GET /relations lists the edit as a child of the original", async () => {
        const { alice, roomId, orig, edit } = await aliceEdits();
        // GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType} (relations.yaml)
        const rels = await alice.fetchRelations(roomId, orig.event_id, "m.replace", null);
        assert.deepEqual(
            rels.chunk.map((e) => e.event_id),
            [edit.event_id],
        );
    });

    test("editing a message: the original event bundles its latest edit in unsigned.m.relations", async () => {
        const { alice, roomId, orig, edit } = await aliceEdits();
        // GET /rooms/{roomId}/event/{eventId}: content left intact, most recent edit bundled under
        // unsigned.m.relations.m.replace (event_replacements.md, "Server-side aggregation").
        const fetched = await alice.fetchRoomEvent(roomId, orig.event_id);
        assert.equal(fetched.content.body, "draft v1", "server must not replace the original content");
        assert.equal(fetched.unsigned?.["m.relations"]?.["m.replace"]?.event_id, edit.event_id);
    });

    test("direct chat: created with is_direct, the invitee sees a direct invite", async () => {
        const alice = await srv.syncedClient("alice");
        const bob = await srv.syncedClient("bob");

        const { room_id: roomId } = await alice.createRoom({
            preset: "trusted_private_chat",
            is_direct: true,
            invite: [bob.getUserId()],
        });

        const invite = await waitForMembership(bob, roomId, bob.getUserId(), "invite");
        const memberEv = invite.events.member;
        assert.equal(memberEv.getSender(), alice.getUserId());
        assert.equal(memberEv.getContent().membership, "invite");
        assert.equal(memberEv.getContent().is_direct, true, "invite membership event carries is_direct: true");
        assert.equal(bob.getRoom(roomId).getDMInviter(), alice.getUserId(), "sdk recognises the room as a DM invite");

        // The inviter's own member event state also records the direct invite.
        const aliceSideInvite = await alice.getStateEvent(roomId, "m.room.member", bob.getUserId());
        assert.equal(aliceSideInvite.membership, "invite");
        assert.equal(aliceSideInvite.is_direct, true);

        // Clients record DMs in m.direct account data; it round-trips through the server.
        await alice.setAccountData("m.direct", { [bob.getUserId()]: [roomId] });
        const direct = await alice.getAccountDataFromServer("m.direct");
        assert.deepEqual(direct, { [bob.getUserId()]: [roomId] });

        await bob.joinRoom(roomId);
        const s = await bob.sendTextMessage(roomId, "hi, direct");
        const g = await waitForEvent(alice, (e) => e.getId() === s.event_id, { what: "DM message" });
        assert.equal(g.getContent().body, "hi, direct");

        // trusted_private_chat gives the invitee the same power level as the creator.
        const pl = await alice.getStateEvent(roomId, "m.room.power_levels", "");
        assert.equal(pl.users?.[bob.getUserId()], pl.users?.[alice.getUserId()]);
    });
});
