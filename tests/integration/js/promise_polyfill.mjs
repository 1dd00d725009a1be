// matrix-js-sdk 37 calls Promise.withResolvers, which Node 20 does not have (Node 22 does).
// Import this module before matrix-js-sdk.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
