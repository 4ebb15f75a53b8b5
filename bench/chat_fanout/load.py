"""Load generator: N receivers and S senders in one room, speaking Engine.IO 4 / Socket.IO 5.

Each connection is a bare asyncio Protocol that parses websocket frames in `data_received`,
so a thousand receivers cost little more than the parsing: the load side has to share a
2-core machine with the server and must not be what is measured. The receivers are split
across `procs` worker processes, each on its own uvloop, so reading every delivery can use
every core the server leaves idle; the main process connects the senders and paces the
messages. Every process stamps and reads times with time.monotonic_ns() (CLOCK_MONOTONIC,
one clock for the whole machine), so a latency is a receive time minus the send time
carried in the message text, whichever process sent and received it. Reads a JSON job
file, prints one JSON result line.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import struct
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, cast
from urllib.parse import urlsplit

import uvloop

MARK = b'"text":"b '
_ZERO_MASK = b"\x00\x00\x00\x00"  # a zero key leaves the payload as is; servers accept any key
# Concurrent handshakes in flight, over every process (split in proportion to receivers).
CONNECT_GATE = 50


@dataclass
class Stats:
    """Counters shared by every connection of one process."""

    window_ns: tuple[int, int] = (1 << 62, 1 << 62)  # deliveries received in [from, to)
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
        # without copying them (a receiver gets 20 frames a second); a receiver's chat
        # message is searched for in place, and only its send time is read out of it.
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
            end = start + n
            if size < end:
                break
            opcode = data[at] & 0x0F
            at = end
            if opcode == 0x1:
                if receiver and data.startswith(b"42", start):  # inline: the hot path
                    mark = data.find(MARK, start, end)
                    if mark >= 0:
                        now = time.monotonic_ns()
                        stats.received += 1
                        window = stats.window_ns
                        if window[0] <= now < window[1]:
                            begin = data.index(b" ", mark + len(MARK), end) + 1
                            sent_ns = int(data[begin : data.index(b'"', begin, end)])
                            stats.latencies_ns.append(now - sent_ns)
                            stats.deliveries += 1
                    continue
                self.on_frame(data[start:end])
            elif opcode == 0x9:  # websocket ping
                assert self.transport is not None
                self.transport.write(bytes([0x8A, 0x80 | n]) + _ZERO_MASK + data[start:end])
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


def process_cpu(pid: int | None = None) -> float:
    """User + system CPU seconds a process has used (Linux /proc; this one without a pid)."""
    if pid is None:
        usage = os.times()
        return usage.user + usage.system
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(ordered: list[int], q: float) -> float:
    """The q-quantile of sorted `ordered`, in milliseconds."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6


async def sleep_until(when: float) -> None:
    """Sleep until time.monotonic() reaches `when`."""
    delay = when - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def open_all(
    conns: list[tuple[Conn, str]], url: str, event_id: str, gate_size: int
) -> list[int]:
    """Connect, authenticate and join every connection, `gate_size` at a time."""
    gate = asyncio.Semaphore(gate_size)
    connect_ns: list[int] = []

    async def open_one(conn: Conn, token: str) -> None:
        async with gate:
            t0 = time.monotonic_ns()
            await conn.open(url, token, event_id)
            connect_ns.append(time.monotonic_ns() - t0)

    await asyncio.gather(*(open_one(c, t) for c, t in conns))
    return connect_ns


class Window:
    """This process's CPU time over the measured window, sampled at its two ends."""

    def __init__(self, measure_from: float, measure_to: float) -> None:
        loop = asyncio.get_running_loop()
        self.cpu = [0.0, 0.0]
        loop.call_later(measure_from - time.monotonic(), self._mark, 0)
        loop.call_later(measure_to - time.monotonic(), self._mark, 1)

    def _mark(self, i: int) -> None:
        self.cpu[i] = process_cpu()

    @property
    def seconds(self) -> float:
        return max(0.0, self.cpu[1] - self.cpu[0])


async def receive(pipe: Connection) -> Any:
    """The next message from the other end of `pipe`, without blocking the loop."""
    return await asyncio.to_thread(pipe.recv)


async def worker(pipe: Connection, job: dict[str, Any], tokens: list[str], gate: int) -> None:
    """One receiver process: connect when told, count and time deliveries, report."""
    stats = Stats()
    receivers = [(Conn(stats, True), t) for t in tokens]
    pipe.send("ready")
    start_at = await receive(pipe)
    await sleep_until(start_at)
    connect_ns = await open_all(receivers, job["url"], job["event_id"], gate)
    pipe.send(array("q", connect_ns).tobytes())
    measure_from, measure_to = await receive(pipe)
    stats.window_ns = (int(measure_from * 1e9), int(measure_to * 1e9))
    cpu = Window(measure_from, measure_to)
    expected_each, deadline = await receive(pipe)
    # Until every receiver has every message, or nothing arrived for a second.
    expected, last = expected_each * len(receivers), -1
    while stats.received < expected and time.monotonic() < deadline:
        if stats.received == last:
            break
        last = stats.received
        for _ in range(20):
            await asyncio.sleep(0.05)
            if stats.received >= expected:
                break
    for conn, _ in receivers:
        conn.close()
    summary = {
        "received": stats.received,
        "deliveries": stats.deliveries,
        "dropped": stats.dropped,
        "cpu_s": cpu.seconds,
    }
    pipe.send((summary, array("q", stats.latencies_ns).tobytes()))


def worker_main(pipe: Connection, job: dict[str, Any], tokens: list[str], gate: int) -> None:
    """Entry point of a receiver process."""
    uvloop.run(worker(pipe, job, tokens, gate))


async def run(job: dict[str, Any], pipes: list[Connection], shares: list[int]) -> dict[str, Any]:
    """Connect everyone, send at a steady rate, gather deliveries and latency from workers."""
    stats = Stats()
    url, event_id = job["url"], job["event_id"]
    senders = [(Conn(stats, False), t) for t in job["sender_tokens"]]
    n = sum(shares)
    for pipe in pipes:
        assert await receive(pipe) == "ready"

    # The join storm: every receiver process starts at once; the senders come last, as the
    # tail of one shared queue would.
    began = time.monotonic() + 0.2
    for pipe in pipes:
        pipe.send(began)
    await sleep_until(began)
    server_began = process_cpu(job.get("server_pid"))
    connected = await asyncio.gather(*(receive(p) for p in pipes))
    connect_ns: list[int] = []
    for raw in connected:
        connect_ns.extend(array("q", raw))
    connect_ns.extend(await open_all(senders, url, event_id, CONNECT_GATE))
    connect_s = time.monotonic() - began
    server_connect_s = process_cpu(job.get("server_pid")) - server_began

    rate, warmup, duration = job["rate"], job["warmup"], job["duration"]
    interval = 1.0 / rate
    start = time.monotonic() + 0.1
    measure_from, measure_to = start + warmup, start + warmup + duration
    for pipe in pipes:
        pipe.send((measure_from, measure_to))
    cpu = Window(measure_from, measure_to)
    server_pid = job.get("server_pid")
    server_from: float | None = None
    seq = 0
    while True:
        now = time.monotonic()
        if now >= measure_to:
            break
        target = start + seq * interval
        if target > now:
            await asyncio.sleep(target - now)
            now = time.monotonic()
        measuring = measure_from <= now
        if measuring and server_from is None:
            server_from = process_cpu(server_pid)
        senders[seq % len(senders)][0].send_message(event_id, seq)
        stats.sent += 1
        if measuring:
            stats.sent_measured += 1
        seq += 1
    server_to = process_cpu(server_pid)
    # Every ack (30 s at most), then each receiver process waits for what it should get.
    deadline = time.monotonic() + 30
    while sum(stats.acks.values()) < stats.sent:
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.05)
    refused = sum(count for outcome, count in stats.acks.items() if outcome != "ok")
    for pipe in pipes:
        pipe.send((stats.sent - refused, deadline))
    reports = await asyncio.gather(*(receive(p) for p in pipes))
    for conn, _ in senders:
        conn.close()

    received = deliveries = dropped = 0
    load_cpu_s = cpu.seconds
    latencies: list[int] = []
    for summary, raw in reports:
        received += summary["received"]
        deliveries += summary["deliveries"]
        dropped += summary["dropped"]
        load_cpu_s += summary["cpu_s"]
        latencies.extend(array("q", raw))
    latencies.sort()
    connect_ns.sort()
    window = measure_to - measure_from
    expected = (stats.sent - refused) * n  # every message not refused, to every receiver
    return {
        "clients": n + len(senders),
        "receivers": n,
        "senders": len(senders),
        "load_processes": len(pipes),
        "rate": rate,
        "connect_s": round(connect_s, 2),
        "connects_per_s": round((n + len(senders)) / connect_s, 1),
        "connect_p99_ms": round(percentile(connect_ns, 0.99), 1),
        "lost": expected - received,
        "sent": stats.sent,
        "acks": dict(stats.acks),
        "deliveries": deliveries,
        "window_s": round(window, 3),
        "deliveries_per_s": round(deliveries / window, 1),
        "offered_per_s": round(stats.sent_measured * n / window, 1),
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(latencies[-1] / 1e6 if latencies else 0.0, 2),
        "dropped_connections": dropped + stats.dropped,
        "server_cpu_ms_per_message": round(
            (server_to - (server_from or server_to)) * 1000 / max(1, stats.sent_measured), 2
        ),
        "server_cpu_ms_per_connect": round(server_connect_s * 1000 / (n + len(senders)), 2),
        "load_cpu_us_per_delivery": round(load_cpu_s * 1e6 / max(1, deliveries), 2),
    }


def main() -> None:
    """Run the job file given as the only argument."""
    parser = argparse.ArgumentParser()
    parser.add_argument("job")
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 1, help="receiver processes")
    args = parser.parse_args()
    with open(args.job) as f:
        job = json.load(f)
    tokens: list[str] = job["receiver_tokens"]
    procs = max(1, min(args.procs, len(tokens)))
    shares = [len(tokens[i::procs]) for i in range(procs)]
    total = len(tokens) + len(job["sender_tokens"])
    # Forked before any event loop exists; each worker starts its own.
    ctx = multiprocessing.get_context("fork")
    pipes, workers = [], []
    for i in range(procs):
        ours, theirs = ctx.Pipe()
        gate = max(1, round(CONNECT_GATE * shares[i] / total))
        proc = ctx.Process(target=worker_main, args=(theirs, job, tokens[i::procs], gate))
        proc.start()
        theirs.close()
        pipes.append(ours)
        workers.append(proc)
    try:
        # uvloop's reads cost a fraction of asyncio's: the generator has to read every
        # delivery of both servers on the cores they run on, and must not fall behind first.
        result = uvloop.run(run(job, pipes, shares))
    finally:
        for pipe in pipes:  # a worker still waiting for its next step stops at once
            pipe.close()
        for proc in workers:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
