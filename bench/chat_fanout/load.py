"""Load generator: N receivers and S senders in one room, speaking Engine.IO 4 / Socket.IO 5.

Each connection is a bare asyncio Protocol that parses websocket frames in `data_received`,
so a thousand receivers cost little more than the parsing: the load side has to share a
2-core machine with the server and must not be what is measured. Reads a JSON job file,
prints one JSON result line.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import struct
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import uvloop

MARK = '"text":"b '
MARK_BYTES = MARK.encode()
_ZERO_MASK = b"\x00\x00\x00\x00"  # a zero key leaves the payload as is; servers accept any key


@dataclass
class Stats:
    """Counters shared by every connection of the run."""

    measuring: bool = False
    deliveries: int = 0
    received: int = 0  # every benchmark message a receiver got, measured or not
    latencies_ns: list[int] = field(default_factory=list)
    sent: int = 0
    sent_measured: int = 0
    acks: Counter[str] = field(default_factory=Counter)
    dropped: int = 0


def frame(text: str) -> bytes:
    """A masked client text frame."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x81, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
    return head + _ZERO_MASK + payload


class Conn(asyncio.Protocol):
    """One websocket connection: handshake, then text frames to `on_text`."""

    def __init__(self, stats: Stats, receiver: bool) -> None:
        self.stats = stats
        self.receiver = receiver
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiter: tuple[str, asyncio.Future[str]] | None = None
        self.closing = False
        self.next_ack = 1
        self.key = base64.b64encode(os.urandom(16)).decode()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing:
            self.stats.dropped += 1
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed during handshake"))
        if self.waiter and not self.waiter[1].done():
            self.waiter[1].set_exception(ConnectionError("closed"))

    def send_text(self, text: str) -> None:
        """Send one text frame."""
        assert self.transport is not None
        self.transport.write(frame(text))

    def data_received(self, data: bytes) -> None:
        if not self.upgraded:
            self.buf += data
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end])
            del self.buf[: end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(ConnectionError(head.split(b"\r\n")[0].decode()))
                return
            self.upgraded = True
            self.ready.set_result(None)
            data, self.buf = bytes(self.buf), bytearray()
        elif self.buf:
            data, self.buf = bytes(self.buf + data), bytearray()
        # Most reads hold whole frames and nothing left over: parse the bytes as they came,
        # without copying them into a buffer first (a receiver gets 20 frames a second).
        at, size = 0, len(data)
        receiver, stats = self.receiver, self.stats
        while size - at >= 2:
            n = data[at + 1] & 0x7F
            start = at + 2
            if n == 126:
                if size - at < 4:
                    break
                n = int.from_bytes(data[at + 2 : at + 4], "big")
                start = at + 4
            elif n == 127:
                if size - at < 10:
                    break
                n = int.from_bytes(data[at + 2 : at + 10], "big")
                start = at + 10
            if size < start + n:
                break
            opcode = data[at] & 0x0F
            payload = data[start : start + n]
            at = start + n
            if opcode == 0x1:
                if receiver and payload[:2] == b"42":  # inline: the hot path
                    mark = payload.find(MARK_BYTES)
                    if mark >= 0:
                        stats.received += 1
                        if stats.measuring:
                            begin = payload.index(b" ", mark + len(MARK_BYTES)) + 1
                            sent_ns = int(payload[begin : payload.index(b'"', begin)])
                            stats.latencies_ns.append(time.monotonic_ns() - sent_ns)
                            stats.deliveries += 1
                    continue
                self.on_frame(payload)
            elif opcode == 0x9:  # websocket ping
                assert self.transport is not None
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + _ZERO_MASK + payload)
            elif opcode == 0x8:
                self.closing = True
        if at < size:
            self.buf += data[at:]

    def on_frame(self, payload: bytes) -> None:
        """Handle one Engine.IO packet other than a receiver's event (senders ignore events)."""
        if payload[:2] != b"42":
            self.on_text(payload.decode())

    def on_text(self, data: str) -> None:
        """Handle one Engine.IO packet other than an event."""
        stats = self.stats
        if data == "2":
            self.send_text("3")
            return
        if self.waiter is not None and data.startswith(self.waiter[0]):
            fut = self.waiter[1]
            self.waiter = None
            fut.set_result(data)
            return
        if data.startswith("43"):
            reply = json.loads(data[data.index("[") :])[0]
            stats.acks["ok" if reply.get("ok") else reply["error"]["code"]] += 1
        elif data.startswith("44"):
            stats.acks["connect_refused"] += 1

    def expect(self, prefix: str, send: str | None = None) -> asyncio.Future[str]:
        """Await the next packet starting with `prefix` (armed now, before anything is sent)."""
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.waiter = (prefix, fut)
        if send is not None:
            self.send_text(send)
        return fut

    async def open(self, url: str, token: str, event_id: str) -> None:
        """Handshake, authenticate, join."""
        parts = urlsplit(url)
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_connection(
            lambda: self, parts.hostname or "127.0.0.1", parts.port or 80
        )
        self.transport = transport
        assert self.transport is not None
        first = self.expect("0")
        self.transport.write(
            (
                f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {self.key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await asyncio.wait_for(self.ready, 30)
        await asyncio.wait_for(first, 30)
        await asyncio.wait_for(self.expect("40", "40" + json.dumps({"token": token})), 30)
        reply = await asyncio.wait_for(
            self.expect("430", "420" + json.dumps(["join", {"event_id": event_id}])), 30
        )
        if not json.loads(reply[3:])[0].get("ok"):
            raise ConnectionError(f"join refused: {reply[:200]}")

    def send_message(self, event_id: str, seq: int) -> None:
        """Emit one chat message with its send time in the text."""
        ack = self.next_ack
        self.next_ack += 1
        text = f"b {seq} {time.monotonic_ns()}"
        self.send_text(f'42{ack}["send",{{"event_id":"{event_id}","text":"{text}"}}]')

    def close(self) -> None:
        """Close the connection."""
        self.closing = True
        if self.transport is not None:
            self.transport.close()


def server_cpu(pid: int | None) -> float:
    """User + system CPU seconds the server process has used (Linux /proc; 0 without a pid)."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[int], q: float) -> float:
    """The q-quantile of `values`, in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6


async def run(job: dict[str, Any]) -> dict[str, Any]:
    """Connect everyone, send at a steady rate, measure deliveries and latency."""
    stats = Stats()
    url, event_id = job["url"], job["event_id"]
    receivers = [(Conn(stats, True), t) for t in job["receiver_tokens"]]
    senders = [(Conn(stats, False), t) for t in job["sender_tokens"]]
    gate = asyncio.Semaphore(50)
    connect_ns: list[int] = []

    async def open_one(conn: Conn, token: str) -> None:
        async with gate:
            t0 = time.monotonic_ns()
            await conn.open(url, token, event_id)
            connect_ns.append(time.monotonic_ns() - t0)

    began = time.monotonic()
    await asyncio.gather(*(open_one(c, t) for c, t in receivers + senders))
    connect_s = time.monotonic() - began

    rate, warmup, duration = job["rate"], job["warmup"], job["duration"]
    interval = 1.0 / rate
    start = time.monotonic()
    measure_from, measure_to = start + warmup, start + warmup + duration
    seq = 0
    cpu_from = 0.0
    while True:
        now = time.monotonic()
        if now >= measure_to:
            break
        if measure_from <= now and not stats.measuring:
            cpu_from = server_cpu(job.get("server_pid"))
        stats.measuring = measure_from <= now
        target = start + seq * interval
        if target > now:
            await asyncio.sleep(target - now)
        senders[seq % len(senders)][0].send_message(event_id, seq)
        stats.sent += 1
        if stats.measuring:
            stats.sent_measured += 1
        seq += 1
    stats.measuring = False
    server_cpu_s = server_cpu(job.get("server_pid")) - cpu_from
    window = time.monotonic() - measure_from
    # Wait for every ack, then until no delivery arrives for a second (30 s at most).
    settle_until = time.monotonic() + 30
    last = -1
    while time.monotonic() < settle_until:
        await asyncio.sleep(1.0)
        if sum(stats.acks.values()) >= stats.sent and stats.received == last:
            break
        last = stats.received
    for conn, _ in receivers + senders:
        conn.close()

    n = len(receivers)
    refused = sum(count for outcome, count in stats.acks.items() if outcome != "ok")
    expected = (stats.sent - refused) * n  # every message not refused, to every receiver
    return {
        "clients": n + len(senders),
        "receivers": n,
        "senders": len(senders),
        "rate": rate,
        "connect_s": round(connect_s, 2),
        "connects_per_s": round((n + len(senders)) / connect_s, 1),
        "connect_p99_ms": round(percentile(connect_ns, 0.99), 1),
        "lost": expected - stats.received,
        "sent": stats.sent,
        "acks": dict(stats.acks),
        "deliveries": stats.deliveries,
        "window_s": round(window, 3),
        "deliveries_per_s": round(stats.deliveries / window, 1),
        "offered_per_s": round(stats.sent_measured * n / window, 1),
        "p50_ms": round(percentile(stats.latencies_ns, 0.50), 2),
        "p99_ms": round(percentile(stats.latencies_ns, 0.99), 2),
        "max_ms": round(max(stats.latencies_ns, default=0) / 1e6, 2),
        "dropped_connections": stats.dropped,
        "server_cpu_ms_per_message": round(server_cpu_s * 1000 / max(1, stats.sent_measured), 2),
    }


def main() -> None:
    """Run the job file given as the only argument."""
    parser = argparse.ArgumentParser()
    parser.add_argument("job")
    args = parser.parse_args()
    with open(args.job) as f:
        job = json.load(f)
    # uvloop's reads cost a fraction of asyncio's: the generator has to read every delivery
    # of both servers on the cores they run on, and must not be what falls behind first.
    print(json.dumps(uvloop.run(run(job))), flush=True)


if __name__ == "__main__":
    main()
