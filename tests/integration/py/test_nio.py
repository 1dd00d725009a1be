"""End-to-end conversations through matrix-nio's AsyncClient (and one raw-HTTP user)."""

import time
import unittest
import uuid

from nio import (AsyncClient, AsyncClientConfig, InviteMemberEvent, JoinResponse,
                 LoginResponse, ProfileGetDisplayNameResponse, ProfileSetDisplayNameResponse,
                 ReceiptEvent, RedactedEvent, RedactionEvent, RegisterResponse,
                 RoomCreateResponse, RoomGetEventResponse, RoomInviteResponse,
                 RoomLeaveResponse, RoomMemberEvent, RoomMessageText, RoomNameEvent,
                 RoomPreset, RoomPutStateResponse, RoomRedactResponse,
                 RoomResolveAliasResponse, RoomSendResponse, RoomTopicEvent,
                 RoomTypingResponse, RoomVisibility, SyncResponse, TypingNoticeEvent)

from harness import SharedServer, q

PASSWORD = "nio test password 1"
SYNC_DEADLINE = 15.0


def uname(prefix):
    return "%s%s" % (prefix, uuid.uuid4().hex[:8])


def nio_config():
    return AsyncClientConfig(max_timeouts=2, encryption_enabled=False,
                             store_sync_tokens=False, request_timeout=20)


class Synced:
    """Keeps a nio client's sync position and collects what each sync returned."""

    def __init__(self, client):
        self.client = client
        self.responses = []

    async def once(self, timeout_ms=500):
        resp = await self.client.sync(timeout=timeout_ms, full_state=False)
        if not isinstance(resp, SyncResponse):
            raise AssertionError("sync failed: %r" % (resp,))
        self.responses.append(resp)
        return resp

    async def until(self, predicate, what, deadline=SYNC_DEADLINE):
        """Syncs until predicate(resp) returns a truthy value, which is returned."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            resp = await self.once()
            got = predicate(resp)
            if got:
                return got
        raise AssertionError("timed out after %.0fs waiting for %s" % (deadline, what))


def timeline(resp, room_id):
    room = resp.rooms.join.get(room_id)
    return list(room.timeline.events) if room else []


def ephemeral(resp, room_id):
    room = resp.rooms.join.get(room_id)
    return list(room.ephemeral) if room else []


def find_event(resp, room_id, cls, cond=lambda e: True):
    for ev in timeline(resp, room_id):
        if isinstance(ev, cls) and cond(ev):
            return ev
    return None


class NioTests(SharedServer, unittest.IsolatedAsyncioTestCase):

    async def asyncSetUp(self):
        self.clients = []

    async def asyncTearDown(self):
        for c in self.clients:
            await c.close()

    def new_client(self, user=""):
        c = AsyncClient(self.server.base_url, user, config=nio_config())
        self.clients.append(c)
        return c

    async def registered_client(self, prefix):
        c = self.new_client()
        name = uname(prefix)
        resp = await c.register(name, PASSWORD, device_name="nio test")
        self.assertIsInstance(resp, RegisterResponse, "register %s: %r" % (name, resp))
        self.assertEqual(resp.user_id, "@%s:localhost" % name)
        self.assertTrue(c.access_token)
        return c, name

    async def logged_in_client(self, prefix):
        """Registers a user with one client, then logs in with a fresh client."""
        reg, name = await self.registered_client(prefix)
        c = self.new_client("@%s:localhost" % name)
        resp = await c.login(PASSWORD, device_name="nio login")
        self.assertIsInstance(resp, LoginResponse, "login %s: %r" % (name, resp))
        self.assertEqual(resp.user_id, "@%s:localhost" % name)
        self.assertNotEqual(resp.access_token, reg.access_token)
        self.assertTrue(resp.device_id)
        return c

    # ------------------------------------------------------------------------------

    async def test_two_users_full_conversation(self):
        alice, _ = await self.registered_client("alice")
        bob = await self.logged_in_client("bob")
        a_sync, b_sync = Synced(alice), Synced(bob)
        await a_sync.once(0)
        await b_sync.once(0)

        created = await alice.room_create(name="Planning", topic="first topic")
        self.assertIsInstance(created, RoomCreateResponse, repr(created))
        room = created.room_id
        self.assertTrue(room.startswith("!"), room)

        inv = await alice.room_invite(room, bob.user_id)
        self.assertIsInstance(inv, RoomInviteResponse, repr(inv))

        def invited(resp):
            info = resp.rooms.invite.get(room)
            if not info:
                return None
            return any(isinstance(e, InviteMemberEvent) and e.membership == "invite"
                       and e.state_key == bob.user_id for e in info.invite_state)
        await b_sync.until(invited, "bob's invite in /sync")

        joined = await bob.join(room)
        self.assertIsInstance(joined, JoinResponse, repr(joined))
        self.assertEqual(joined.room_id, room)

        await a_sync.until(
            lambda r: find_event(r, room, RoomMemberEvent,
                                 lambda e: e.state_key == bob.user_id and e.membership == "join"),
            "alice sees bob join")

        # Messages both ways.
        sent = await alice.room_send(room, "m.room.message",
                                     {"msgtype": "m.text", "body": "hello bob"})
        self.assertIsInstance(sent, RoomSendResponse, repr(sent))
        alice_msg_id = sent.event_id
        got = await b_sync.until(
            lambda r: find_event(r, room, RoomMessageText, lambda e: e.event_id == alice_msg_id),
            "bob sees alice's message")
        self.assertEqual(got.body, "hello bob")
        self.assertEqual(got.sender, alice.user_id)

        sent = await bob.room_send(room, "m.room.message",
                                   {"msgtype": "m.text", "body": "hello alice"})
        self.assertIsInstance(sent, RoomSendResponse, repr(sent))
        bob_msg_id = sent.event_id
        got = await a_sync.until(
            lambda r: find_event(r, room, RoomMessageText, lambda e: e.event_id == bob_msg_id),
            "alice sees bob's message")
        self.assertEqual(got.body, "hello alice")
        self.assertEqual(got.sender, bob.user_id)

        # Room name and topic changes.
        put = await alice.room_put_state(room, "m.room.name", {"name": "Renamed"})
        self.assertIsInstance(put, RoomPutStateResponse, repr(put))
        put = await alice.update_room_topic(room, "second topic")
        self.assertIsInstance(put, RoomPutStateResponse, repr(put))
        seen = {}

        def name_and_topic(resp):
            n = find_event(resp, room, RoomNameEvent, lambda e: e.name == "Renamed")
            t = find_event(resp, room, RoomTopicEvent, lambda e: e.topic == "second topic")
            if n:
                seen["name"] = n
            if t:
                seen["topic"] = t
            return "name" in seen and "topic" in seen
        await b_sync.until(name_and_topic, "bob sees the new room name and topic")
        self.assertEqual(seen["name"].sender, alice.user_id)
        self.assertEqual(bob.rooms[room].name, "Renamed")
        self.assertEqual(bob.rooms[room].topic, "second topic")

        # Typing notifications.
        typing = await alice.room_typing(room, True, timeout=20000)
        self.assertIsInstance(typing, RoomTypingResponse, repr(typing))

        def alice_typing(resp):
            return any(isinstance(e, TypingNoticeEvent) and alice.user_id in e.users
                       for e in ephemeral(resp, room))
        await b_sync.until(alice_typing, "bob sees alice typing")
        typing = await alice.room_typing(room, False)
        self.assertIsInstance(typing, RoomTypingResponse, repr(typing))

        def alice_stopped(resp):
            return any(isinstance(e, TypingNoticeEvent) and alice.user_id not in e.users
                       for e in ephemeral(resp, room))
        await b_sync.until(alice_stopped, "bob sees alice stop typing")

        # Read receipts.
        await bob.update_receipt_marker(room, alice_msg_id)

        def bob_read(resp):
            for e in ephemeral(resp, room):
                if isinstance(e, ReceiptEvent):
                    for rc in e.receipts:
                        if (rc.user_id == bob.user_id and rc.event_id == alice_msg_id
                                and rc.receipt_type == "m.read"):
                            return rc
            return None
        rc = await a_sync.until(bob_read, "alice sees bob's read receipt")
        self.assertIsInstance(rc.timestamp, int)

        # Bob leaves.
        left = await bob.room_leave(room)
        self.assertIsInstance(left, RoomLeaveResponse, repr(left))
        await a_sync.until(
            lambda r: find_event(r, room, RoomMemberEvent,
                                 lambda e: e.state_key == bob.user_id and e.membership == "leave"),
            "alice sees bob leave")
        await b_sync.until(lambda r: room in r.rooms.leave, "the room in bob's leave section")

        # Bob can no longer send.
        st, body = self.server.http(
            "PUT", "/_matrix/client/v3/rooms/%s/send/m.room.message/t1" % q(room),
            {"msgtype": "m.text", "body": "after leaving"}, token=bob.access_token)
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)

    async def test_redaction_seen_by_other_user(self):
        alice, _ = await self.registered_client("redalice")
        bob, _ = await self.registered_client("redbob")
        b_sync = Synced(bob)
        created = await alice.room_create(visibility=RoomVisibility.public,
                                          preset=RoomPreset.public_chat)
        self.assertIsInstance(created, RoomCreateResponse, repr(created))
        room = created.room_id
        self.assertIsInstance(await bob.join(room), JoinResponse)
        sent = await alice.room_send(room, "m.room.message",
                                     {"msgtype": "m.text", "body": "regrettable"})
        self.assertIsInstance(sent, RoomSendResponse, repr(sent))
        alice_msg_id = sent.event_id
        await b_sync.until(
            lambda r: find_event(r, room, RoomMessageText, lambda e: e.event_id == alice_msg_id),
            "bob sees alice's message")

        # Redaction.
        red = await alice.room_redact(room, alice_msg_id, reason="oops")
        self.assertIsInstance(red, RoomRedactResponse, repr(red))
        # As served to clients, a room v11 redaction carries redacts in content and, for
        # older clients such as nio, at the top level too (spec: rooms/v11.md, "Moving the
        # redacts property of m.room.redaction events to a content property").
        st, raw = self.server.http("GET", "/_matrix/client/v3/rooms/%s/event/%s"
                                   % (q(room), q(red.event_id)), token=bob.access_token)
        self.assertEqual(st, 200, raw)
        self.assertEqual(raw.get("content", {}).get("redacts"), alice_msg_id, raw)
        self.assertEqual(raw.get("redacts"), alice_msg_id,
                         "top-level redacts missing from a v11 redaction served over the "
                         "client-server API: %r" % raw)
        ev = await b_sync.until(
            lambda r: find_event(r, room, RedactionEvent, lambda e: e.redacts == alice_msg_id),
            "bob sees the redaction")
        self.assertEqual(ev.sender, alice.user_id)
        self.assertEqual(ev.reason, "oops")
        fetched = await bob.room_get_event(room, alice_msg_id)
        self.assertIsInstance(fetched, RoomGetEventResponse, repr(fetched))
        self.assertIsInstance(fetched.event, RedactedEvent,
                              "the redacted message should come back stripped: %r" % fetched.event)

    async def test_nio_and_raw_http_user_in_public_room_by_alias(self):
        alice, _ = await self.registered_client("pubalice")
        a_sync = Synced(alice)
        await a_sync.once(0)
        alias_local = uname("lobby")
        alias = "#%s:localhost" % alias_local
        created = await alice.room_create(visibility=RoomVisibility.public, alias=alias_local,
                                          name="Lobby", preset=RoomPreset.public_chat)
        self.assertIsInstance(created, RoomCreateResponse, repr(created))
        room = created.room_id

        resolved = await alice.room_resolve_alias(alias)
        self.assertIsInstance(resolved, RoomResolveAliasResponse, repr(resolved))
        self.assertEqual(resolved.room_id, room)

        # Carol talks plain HTTP.
        srv = self.server
        carol, ctoken, _ = srv.register(uname("carol"))
        st, body = srv.http("GET", "/_matrix/client/v3/directory/room/%s" % q(alias), token=ctoken)
        self.assertEqual(st, 200, body)
        self.assertEqual(body["room_id"], room)

        st, body = srv.http("GET", "/_matrix/client/v3/publicRooms", token=ctoken)
        self.assertEqual(st, 200, body)
        self.assertIn(room, [c["room_id"] for c in body.get("chunk", [])])

        st, body = srv.http("GET", "/_matrix/client/v3/sync?timeout=0", token=ctoken)
        self.assertEqual(st, 200, body)
        since = body["next_batch"]

        st, body = srv.http("POST", "/_matrix/client/v3/join/%s" % q(alias), {}, token=ctoken)
        self.assertEqual(st, 200, body)
        self.assertEqual(body["room_id"], room)

        st, body = srv.http("PUT", "/_matrix/client/v3/rooms/%s/send/m.room.message/%s"
                            % (q(room), uuid.uuid4().hex),
                            {"msgtype": "m.text", "body": "hi from raw http"}, token=ctoken)
        self.assertEqual(st, 200, body)
        carol_event = body["event_id"]

        got = await a_sync.until(
            lambda r: find_event(r, room, RoomMessageText, lambda e: e.event_id == carol_event),
            "nio user sees the raw user's message")
        self.assertEqual(got.sender, carol)
        self.assertEqual(got.body, "hi from raw http")
        self.assertIn(carol, alice.rooms[room].users)

        sent = await alice.room_send(room, "m.room.message",
                                     {"msgtype": "m.text", "body": "hi from nio"})
        self.assertIsInstance(sent, RoomSendResponse, repr(sent))

        end = time.monotonic() + SYNC_DEADLINE
        found = None
        while time.monotonic() < end and not found:
            st, body = srv.http("GET", "/_matrix/client/v3/sync?timeout=1000&since=%s" % q(since),
                                token=ctoken)
            self.assertEqual(st, 200, body)
            since = body["next_batch"]
            events = body.get("rooms", {}).get("join", {}).get(room, {}) \
                         .get("timeline", {}).get("events", [])
            for ev in events:
                if ev.get("event_id") == sent.event_id:
                    found = ev
        self.assertIsNotNone(found, "raw user never saw the nio user's message")
        self.assertEqual(found["sender"], alice.user_id)
        self.assertEqual(found["content"]["body"], "hi from nio")
        self.assertEqual(found["type"], "m.room.message")

        st, body = srv.http("GET", "/_matrix/client/v3/rooms/%s/joined_members" % q(room),
                            token=ctoken)
        self.assertEqual(st, 200, body)
        # The records keeper is a member of every room.
        self.assertEqual(set(body["joined"]), {alice.user_id, carol, "@records:localhost"})

    async def test_display_name_change(self):
        alice, _ = await self.registered_client("dnalice")
        bob, _ = await self.registered_client("dnbob")
        b_sync = Synced(bob)
        created = await alice.room_create(visibility=RoomVisibility.public,
                                          preset=RoomPreset.public_chat)
        self.assertIsInstance(created, RoomCreateResponse, repr(created))
        room = created.room_id
        self.assertIsInstance(await bob.join(room), JoinResponse)
        await b_sync.once(0)

        resp = await alice.set_displayname("Alice Example")
        self.assertIsInstance(resp, ProfileSetDisplayNameResponse, repr(resp))
        got = await alice.get_displayname()
        self.assertIsInstance(got, ProfileGetDisplayNameResponse, repr(got))
        self.assertEqual(got.displayname, "Alice Example")
        got = await bob.get_displayname(alice.user_id)
        self.assertIsInstance(got, ProfileGetDisplayNameResponse, repr(got))
        self.assertEqual(got.displayname, "Alice Example")

        st, body = self.server.http("GET", "/_matrix/client/v3/profile/%s" % q(alice.user_id),
                                    token=bob.access_token)
        self.assertEqual(st, 200, body)
        self.assertEqual(body.get("displayname"), "Alice Example")

        # The new name reaches the rooms alice is in as a member event.
        ev = await b_sync.until(
            lambda r: find_event(r, room, RoomMemberEvent,
                                 lambda e: e.state_key == alice.user_id
                                 and e.membership == "join"
                                 and (e.content or {}).get("displayname") == "Alice Example"),
            "bob sees alice's new display name in the room")
        self.assertEqual(ev.sender, alice.user_id)
        self.assertEqual(bob.rooms[room].user_name(alice.user_id), "Alice Example")


if __name__ == "__main__":
    unittest.main()
