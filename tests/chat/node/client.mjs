// Drives the chat with socket.io-client, as the mobile app does, and reports each step to
// the Python test as one JSON line on stdout. Input: CHAT_URL, CHAT_TOKEN, CHAT_EVENT_ID.
import { io } from "socket.io-client";

const { CHAT_URL: url, CHAT_TOKEN: token, CHAT_EVENT_ID: eventId } = process.env;
const report = (step, data = {}) => console.log(JSON.stringify({ step, ...data }));
const fail = (why) => { report("failed", { why: String(why) }); process.exit(1); };
setTimeout(() => fail("timed out"), 20000).unref();

// A bad token is refused at connect with a machine-readable code.
const refusedCode = await new Promise((resolve) => {
  const bad = io(url, { auth: { token: "not-a-token" }, reconnection: false });
  bad.on("connect", () => fail("connected with a bad token"));
  bad.on("connect_error", (err) => { bad.close(); resolve(err.data && err.data.code); });
});
report("refused", { code: refusedCode });

// Default transports: long-polling first, then the upgrade to websocket.
const socket = io(url, { auth: { token }, reconnection: false });
socket.on("connect_error", (err) => fail(`connect_error: ${err.message}`));
await new Promise((resolve) => socket.once("connect", resolve));
report("connected", { transport: socket.io.engine.transport.name });

const received = [];
let waiter = null;
socket.on("message", (message) => {
  received.push(message);
  if (waiter) waiter();
});
const waitFor = (pred) => new Promise((resolve) => {
  const check = () => {
    const found = received.find(pred);
    if (found) { waiter = null; resolve(found); }
  };
  waiter = check;
  check();
});

const joined = await socket.timeout(5000).emitWithAck("join", { event_id: eventId });
report("joined", { ok: joined.ok, status: joined.event && joined.event.status,
                   history: (joined.messages || []).map((m) => m.text) });

const fromPython = await waitFor((m) => m.text === "from python");
report("received", { text: fromPython.text, author: fromPython.author.id });

const sent = await socket.timeout(5000).emitWithAck("send", { event_id: eventId, text: "from node ✓" });
report("sent", { ok: sent.ok, text: sent.message && sent.message.text });
await waitFor((m) => m.text === "from node ✓");

const bad = await socket.timeout(5000).emitWithAck("send", { event_id: eventId, text: "" });
report("bad_input", { code: bad.error && bad.error.code });

report("upgraded", { transport: socket.io.engine.transport.name });
socket.close();
report("done");
process.exit(0);
