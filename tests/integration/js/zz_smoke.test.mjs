import { test } from "node:test";
import assert from "node:assert/strict";
import { useServer, startClient, waitForEvent, sdk } from "/work/main/tests/integration/js/harness.mjs";
const srv = useServer();
test("smoke", async () => {
  const a = await srv.syncedClient("alice");
  const b = await srv.syncedClient("bob");
  const { room_id } = await a.createRoom({ name: "x", invite: [b.getUserId()] });
  await new Promise(r=>setTimeout(r,300));
  await b.joinRoom(room_id);
  const r = await a.sendTextMessage(room_id, "hi");
  const ev = await waitForEvent(b, (e) => e.getId() === r.event_id);
  assert.equal(ev.getContent().body, "hi");
});
import { after } from "node:test";
after(() => { setTimeout(() => { console.log(process._getActiveHandles().map(h => h.constructor.name + " " + (h._idleTimeout ?? "") + " " + (h._onTimeout?.toString().slice(0,200) ?? ""))); }, 2000).unref(); });
