// Preloaded into firebase-tools by the stack (NODE_OPTIONS=--require). The Functions emulator
// proxies each request to a Python worker through Node's global HTTP agent, which keeps idle
// sockets for reuse (Node 20: keep-alive on, 5 s free-socket timeout), while the worker's
// gunicorn closes an idle connection after 2 s. A request sent on such a socket failed with
// "socket hang up" and was answered 500 {"code":"ECONNRESET"}: three times in one run of the
// e2e suite, whose helpers wait 2 s for breaker caches after forcing a circuit; none with this
// preload. Loopback connections are cheap: open one per request.
const http = require("node:http");

http.globalAgent = new http.Agent({ keepAlive: false });
