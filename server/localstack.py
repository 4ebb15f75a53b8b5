"""Private PostgreSQL, Redis and nginx processes for `mhc up` and the tests.

Used only when DATABASE_URL / REDIS_URL are not given: each part runs from a state dir on a
free loopback port and stops with the process that started it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path


class StackError(RuntimeError):
    """A private service could not be started; the message says what to install or check."""


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 30) -> None:
    """Block until something accepts on `port`, or fail if `proc` died or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"{what} exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise StackError(f"{what} did not listen on port {port} within {timeout:.0f}s")


def _pg_bindir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise StackError("PostgreSQL server binaries not found: apt-get install postgresql")


class Service:
    """A child process we started and must stop."""

    def __init__(self, name: str, proc: subprocess.Popen[bytes], port: int) -> None:
        self.name = name
        self.proc = proc
        self.port = port

    def stop(self) -> None:
        """Terminate politely, then kill."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_postgres(
    data_dir: Path, port: int | None = None, durable: bool = True
) -> tuple[Service, str]:
    """initdb (once) and start a cluster on loopback; returns it and a DSN for database `mhc`."""
    bindir = _pg_bindir()
    port = port or free_port()
    # PostgreSQL refuses to run as root; as root we hand the cluster to the `postgres` user.
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise StackError(
                "running as root needs the 'postgres' system user (apt-get install postgresql)"
            ) from None
        as_user = ["runuser", "-u", "postgres", "--"]
    data_dir.mkdir(parents=True, exist_ok=True)
    sock_dir = data_dir.parent / (data_dir.name + "-sock")
    sock_dir.mkdir(exist_ok=True)
    if as_user:
        for d in (data_dir, sock_dir):
            os.chown(d, pw.pw_uid, pw.pw_gid)
        # The postgres user must be able to reach the directory it lives in.
        for parent in data_dir.parents:
            if parent == Path("/"):
                break
            parent.chmod(parent.stat().st_mode | 0o011)
    if not (data_dir / "PG_VERSION").exists():
        subprocess.run(
            [
                *as_user,
                str(bindir / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    opts = [
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        f"unix_socket_directories={sock_dir}",
        "-c",
        "max_connections=200",
    ]
    if not durable:
        opts += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    # The server keeps writing to its log after this function returns, so no `with`.
    log = open(data_dir.parent / (data_dir.name + ".log"), "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [*as_user, str(bindir / "postgres"), "-D", str(data_dir), "-p", str(port), *opts],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    service = Service("postgres", proc, port)
    wait_for_port(port, proc, "postgres")
    _wait_pg_accepts(bindir, port, proc)
    dsn_base = f"postgresql://postgres@127.0.0.1:{port}"
    exists = subprocess.run(
        [
            str(bindir / "psql"),
            f"{dsn_base}/postgres",
            "-qAtc",
            "SELECT 1 FROM pg_database WHERE datname='mhc'",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if exists != "1":
        subprocess.run(
            [str(bindir / "psql"), f"{dsn_base}/postgres", "-qc", "CREATE DATABASE mhc"],
            check=True,
            capture_output=True,
        )
    return service, f"{dsn_base}/mhc"


def _wait_pg_accepts(bindir: Path, port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"postgres exited with code {proc.returncode}")
        ok = subprocess.run(
            [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
            capture_output=True,
            check=False,  # not ready yet is an answer, not an error
        )
        if ok.returncode == 0:
            return
        time.sleep(0.1)
    raise StackError("postgres did not accept connections within 30s")


def start_redis(work_dir: Path, port: int | None = None) -> tuple[Service, str]:
    """A redis-server on loopback keeping nothing on disk; returns it and its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise StackError("redis-server not found: apt-get install redis-server")
    port = port or free_port()
    work_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(work_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    service = Service("redis", proc, port)
    wait_for_port(port, proc, "redis-server")
    return service, f"redis://127.0.0.1:{port}/0"


async def fresh_database(dsn: str, prefix: str) -> str:
    """Create an empty database on the server `dsn` points at; returns its DSN."""
    import uuid

    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{dsn.rpartition('/')[0]}/{name}"


class Stack:
    """The services one run uses: DATABASE_URL / REDIS_URL when set, else private ones.

    Everything started through it stops, in reverse order, when the `with` block ends.
    """

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self._started: list[Service] = []

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop everything started here, newest first."""
        for service in reversed(self._started):
            service.stop()
        self._started.clear()

    def add(self, service: Service) -> Service:
        """Stop `service` with the rest."""
        self._started.append(service)
        return service

    def database_url(self, durable: bool = False) -> str:
        """DATABASE_URL, or a private cluster's DSN."""
        given = os.environ.get("DATABASE_URL")
        if given:
            return given
        pg, dsn = start_postgres(self.work_dir / "pg", durable=durable)
        self.add(pg)
        return dsn

    def redis_url(self) -> str:
        """REDIS_URL, or a private redis-server's URL."""
        given = os.environ.get("REDIS_URL")
        if given:
            return given
        rd, url = start_redis(self.work_dir / "redis")
        self.add(rd)
        return url


def start_nginx(conf_path: Path, probe_port: int) -> Service:
    """Start nginx in the foreground on a rendered config."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise StackError("nginx not found: apt-get install nginx libnginx-mod-rtmp")
    test = subprocess.run(
        [binary, "-t", "-c", str(conf_path)], capture_output=True, text=True, check=False
    )
    if test.returncode != 0:
        raise StackError(f"nginx rejected its config: {test.stderr.strip()}")
    proc = subprocess.Popen(
        [binary, "-c", str(conf_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    service = Service("nginx", proc, probe_port)
    wait_for_port(probe_port, proc, "nginx")
    return service
