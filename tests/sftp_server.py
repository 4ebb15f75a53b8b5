"""A real OpenSSH sshd serving SFTP on a loopback port, as a DSP's ingestion server would.

Each server has its own sshd_config, host key, authorized keys and jail; one unprivileged
account (`mhc-sftp`, created once) logs in by key. The jail is a ChrootDirectory under /srv:
sshd requires every component of a chroot path to be root-owned and not group/world
writable, which /srv is on Debian (and /tmp is not). A chroot is the isolation the stores
themselves use, and unlike `ForceCommand internal-sftp -d DIR` it keeps the client out of
the rest of the file system, so paths the code gets wrong fail here as they would there.
The jail is a fresh random directory per server and is removed when the server stops.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.localstack import free_port

USER = "mhc-sftp"
SSHD = "/usr/sbin/sshd"
# Folders the account may write to inside its jail (the jail's root itself is root-owned).
FOLDERS = ("inbox", "reports")


def ensure_user() -> pwd.struct_passwd:
    """The account SFTP clients log in as; created on first use (needs root)."""
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        pass
    done = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
        capture_output=True,
        text=True,
    )
    # 9: a concurrent test run created it first.
    if done.returncode not in (0, 9):
        raise RuntimeError(f"useradd failed: {done.stderr.strip()}")
    # With PAM off, sshd refuses an account whose password is locked ('!'); '*' is no
    # password at all, so only keys let it in.
    subprocess.run(["usermod", "-p", "*", USER], check=True, capture_output=True)
    return pwd.getpwnam(USER)


@dataclass
class SftpServer:
    """One running sshd: where it listens, its keys, and its jail on the local disk."""

    host: str
    port: int
    jail: Path
    config_dir: Path
    host_key: paramiko.Ed25519Key
    client_key_file: Path
    process: subprocess.Popen[bytes]
    log_file: Path
    uid: int
    gid: int
    syslog: socket.socket
    operations: list[str] = field(default_factory=list)
    stopped: bool = field(default=False)

    def _read_syslog(self) -> None:
        while True:
            try:
                message = self.syslog.recv(65536).decode(errors="replace")
            except OSError:
                return
            # "<38>Dec  2 00:17:05 internal-sftp[16107]: close "/inbox/x" bytes read 0 …"
            head, sep, text = message.partition("]: ")
            if sep and "internal-sftp[" in head:
                self.operations.append(text.strip())

    @property
    def host_key_line(self) -> str:
        """The pinned host key as a known_hosts line."""
        return f"[{self.host}]:{self.port} {self.host_key.get_name()} {self.host_key.get_base64()}"

    def path(self, remote: str) -> Path:
        """The local file behind a path as the SFTP client sees it (absolute in the jail)."""
        return self.jail / remote.lstrip("/")

    def env(self, code: str, **extra: str) -> dict[str, str]:
        """The environment that configures DSP target `code` to deliver here."""
        prefix = f"MHC_DSP_{code.upper()}_"
        values = {
            "HOST": self.host,
            "PORT": str(self.port),
            "USER": USER,
            "KEY_FILE": str(self.client_key_file),
            "HOST_KEY": self.host_key_line,
            "ROOT": "/inbox",
            "REPORTS": "/reports",
            "PARTY_ID": f"PADPIDA{secrets.randbelow(10**10):010d}",
        }
        values.update({k.upper(): v for k, v in extra.items()})
        return {prefix + k: v for k, v in values.items()}

    def drop(self, remote: str, data: bytes) -> Path:
        """Write a file into the jail as the store would (an acknowledgement, a report)."""
        target = self.path(remote)
        target.parent.mkdir(parents=True, exist_ok=True)
        folder = target.parent
        while folder != self.jail:  # the account owns what it could have made itself
            os.chown(folder, self.uid, self.gid)
            folder = folder.parent
        target.write_bytes(data)
        os.chown(target, self.uid, self.gid)
        return target

    def sessions(self) -> list[int]:
        """PIDs of the per-connection processes sshd forked (not the listener)."""
        found: list[int] = []
        todo = [self.process.pid]
        while todo:
            pid = todo.pop()
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            for child in children:
                found.append(int(child))
                todo.append(int(child))
        return found

    def signal_sessions(self, sig: int) -> list[int]:
        """Send `sig` to every session process of this server; returns their PIDs."""
        pids = self.sessions()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        return pids

    def sftp_log(self) -> list[str]:
        """The SFTP operations the server performed, in order, as internal-sftp logs them
        (`open "/p" flags WRITE,CREATE,TRUNCATE …`, `close "/p" bytes read 0 written N`,
        `posix-rename old "/a" new "/b"`)."""
        return list(self.operations)

    def log(self) -> str:
        """What sshd and internal-sftp logged so far."""
        return self.log_file.read_text(errors="replace")

    def stop(self) -> None:
        """Stop sshd and its sessions, and remove the jail and the config."""
        if self.stopped:
            return
        self.stopped = True
        self.signal_sessions(signal.SIGKILL)
        self.syslog.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        shutil.rmtree(self.jail, ignore_errors=True)
        shutil.rmtree(self.config_dir, ignore_errors=True)


def _config(
    port: int, config_dir: Path, jail: Path, host_key: Path, authorized: Path, log_level: str
) -> str:
    return f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {config_dir / "sshd.pid"}
AuthorizedKeysFile {authorized}
# The config folder lives under /tmp, which StrictModes would refuse for the keys file.
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers {USER}
AllowTcpForwarding no
X11Forwarding no
PermitTTY no
ChrootDirectory {jail}
Subsystem sftp internal-sftp
# -l INFO logs each file closed with the bytes written, which the resume tests read.
ForceCommand internal-sftp -l {log_level}
LogLevel {log_level}
"""


def start(host: str = "127.0.0.1", log_level: str = "INFO") -> SftpServer:
    """Start a private sshd; the caller stops it."""
    if os.geteuid() != 0:
        raise RuntimeError("the SFTP test server needs root (sshd chroots and switches users)")
    if not Path(SSHD).exists():
        raise RuntimeError("sshd is missing: ./dev installs Debian's openssh-server")
    account = ensure_user()
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    config_dir = Path(tempfile.mkdtemp(prefix="mhc-sshd-"))
    config_dir.chmod(0o711)  # sshd reads the authorized keys as the account
    Path("/srv").mkdir(mode=0o755, exist_ok=True)
    jail = Path("/srv") / f"mhc-sftp-{secrets.token_hex(6)}"
    jail.mkdir(mode=0o755)
    os.chown(jail, 0, 0)
    # internal-sftp logs through syslog, which inside the chroot is the jail's /dev/log: a
    # socket read here records what the server did (operators bind one the same way).
    (jail / "dev").mkdir(mode=0o755)
    syslog = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    syslog.bind(str(jail / "dev" / "log"))
    (jail / "dev" / "log").chmod(0o666)
    for name in FOLDERS:
        folder = jail / name
        folder.mkdir(mode=0o755)
        os.chown(folder, account.pw_uid, account.pw_gid)

    host_key_file = config_dir / "ssh_host_ed25519_key"
    _write_openssh_key(host_key_file)
    host_key = paramiko.Ed25519Key.from_private_key_file(str(host_key_file))
    client_key_file = config_dir / "client_ed25519"
    _write_openssh_key(client_key_file)
    client_key = paramiko.Ed25519Key.from_private_key_file(str(client_key_file))
    authorized = config_dir / "authorized_keys"
    authorized.write_text(f"{client_key.get_name()} {client_key.get_base64()}\n")
    authorized.chmod(0o644)
    port = free_port()
    conf = config_dir / "sshd_config"
    conf.write_text(_config(port, config_dir, jail, host_key_file, authorized, log_level))
    log_file = config_dir / "sshd.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(conf)], stdout=log, stderr=subprocess.STDOUT
        )
    server = SftpServer(
        host,
        port,
        jail,
        config_dir,
        host_key,
        client_key_file,
        process,
        log_file,
        account.pw_uid,
        account.pw_gid,
        syslog,
    )
    threading.Thread(target=server._read_syslog, name="sftp-syslog", daemon=True).start()
    deadline = time.monotonic() + 10
    while True:
        if process.poll() is not None:
            text = server.log()
            server.stop()
            raise RuntimeError(f"sshd exited: {text}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection((host, port), timeout=1) as sock,
        ):
            if sock.recv(4).startswith(b"SSH-"):
                return server
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"sshd did not start: {server.log()}")
        time.sleep(0.05)


def _write_openssh_key(path: Path) -> None:
    """A new Ed25519 key in OpenSSH's private key format (what sshd and stores hand out)."""
    key = Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


@contextlib.contextmanager
def running(**kwargs: str) -> Iterator[SftpServer]:
    """A server for the duration of the block."""
    server = start(**kwargs)
    try:
        yield server
    finally:
        server.stop()
