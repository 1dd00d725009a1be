import * as h from "./e2ee_helpers.mjs";
const srv = await h.startServer();
try {
  const b = await h.register(srv.baseUrl, h.uniqueName("bob"));
  const cb = await h.startCryptoClient(srv.baseUrl, b);
  console.log("PREPARED");
  cb.on(h.sdk.ClientEvent.Sync, (s, p, d) => console.log("bob sync", s, d?.error?.message));
  await h.sleep(5000);
  h.stopClient(cb);
} finally { await srv.stop(); }
