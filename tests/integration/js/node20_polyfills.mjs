// Node 20 workarounds for matrix-js-sdk 37. Import this module before matrix-js-sdk.
import "./promise_polyfill.mjs";

// matrix-js-sdk leaves long timers behind after stopClient() (request timeouts of 60-80 s that
// are never cleared, a 6-hour capabilities refresh). They would keep a finished test process
// alive for minutes, so long timers do not hold the event loop open. Short ones (the tests'
// own polling) are untouched.
const LONG_TIMER_MS = 4000;
const originalSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = function setTimeoutUnrefLong(fn, ms, ...args) {
  const handle = originalSetTimeout(fn, ms, ...args);
  if (typeof ms === "number" && ms >= LONG_TIMER_MS && typeof handle?.unref === "function") handle.unref();
  return handle;
};
