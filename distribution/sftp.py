"""SFTP to a DSP with paramiko: pinned host keys, resumable uploads, atomic renames.

Everything here blocks; callers run it in an executor (`run`), never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import posixpath
import socket
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import paramiko

from distribution.targets import Target, fingerprint

T = TypeVar("T")
CHUNK = 256 * 1024
PART = ".part"
# Acknowledgements are small XML messages; anything larger is not one.
MAX_SMALL_FILE = 4 * 1024 * 1024


class SftpError(Exception):
    """A delivery step failed in a way a later attempt may not (network, server, a short file)."""


class HostKeyMismatch(Exception):
    """The server offered a host key other than the pinned one: nothing is sent to it."""

    def __init__(self, target: Target, offered: paramiko.PKey) -> None:
        super().__init__(
            f"host key mismatch for {target.code} at {target.host}:{target.port}: the server "
            f"offered {offered.get_name()} {fingerprint(offered)}, the pinned key is "
            f"{target.host_key.get_name()} {target.host_key_fingerprint}; nothing was sent. "
            f"If the DSP changed its key, confirm the new one with them and update "
            f"MHC_DSP_{target.code.upper()}_HOST_KEY"
        )


async def run(func: Callable[..., T], *args: object) -> T:
    """Run a blocking SFTP call in the default executor."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(func, *args))


def _key_types(key: paramiko.PKey) -> list[str]:
    # Offer only the pinned key's algorithms, so the server shows the key we can check.
    if key.get_name() == "ssh-rsa":
        return ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]
    return [key.get_name()]


@contextlib.contextmanager
def connect(target: Target, timeout: float) -> Iterator[paramiko.SFTPClient]:
    """An SFTP session with the target, after its host key matched the pinned one."""
    try:
        sock = socket.create_connection((target.host, target.port), timeout=timeout)
    except OSError as exc:
        raise SftpError(f"cannot reach {target.host}:{target.port}: {exc}") from None
    transport = paramiko.Transport(sock)
    try:
        transport.get_security_options().key_types = _key_types(target.host_key)
        transport.banner_timeout = timeout
        transport.handshake_timeout = timeout
        transport.auth_timeout = timeout
        try:
            transport.start_client(timeout=timeout)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise SftpError(
                f"SSH handshake with {target.host}:{target.port} failed: {exc}"
            ) from None
        offered = transport.get_remote_server_key()
        if offered.asbytes() != target.host_key.asbytes():
            raise HostKeyMismatch(target, offered)
        try:
            pkey = paramiko.PKey.from_path(target.key_file, target.key_passphrase)
            transport.auth_publickey(target.user, pkey)
            sftp = paramiko.SFTPClient.from_transport(transport)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise SftpError(f"SFTP login to {target.host} as {target.user} failed: {exc}") from None
        if sftp is None:
            raise SftpError(f"{target.host} refused the SFTP subsystem")
        sftp.get_channel().settimeout(timeout)  # type: ignore[union-attr]
        try:
            yield sftp
        finally:
            sftp.close()
    finally:
        transport.close()


def size_of(sftp: paramiko.SFTPClient, path: str) -> int | None:
    """The size of a remote regular file, or None when there is none."""
    try:
        st = sftp.stat(path)
    except FileNotFoundError:
        return None
    if st.st_mode is not None and not stat.S_ISREG(st.st_mode):
        raise SftpError(f"{path} exists and is not a file")
    return st.st_size


def makedirs(sftp: paramiko.SFTPClient, path: str) -> None:
    """Create a remote folder and its parents (existing ones are fine)."""
    current = "/" if path.startswith("/") else ""
    for part in [p for p in path.split("/") if p]:
        current = posixpath.join(current, part)
        try:
            sftp.mkdir(current)
        except OSError:
            # Either it exists (fine) or it cannot be made (stat tells).
            try:
                st = sftp.stat(current)
            except OSError as exc:
                raise SftpError(f"cannot create {current}: {exc}") from None
            if st.st_mode is not None and not stat.S_ISDIR(st.st_mode):
                raise SftpError(f"{current} exists and is not a folder") from None


@dataclass(frozen=True)
class Upload:
    """A local file and where it goes, with what it must be once there."""

    local: Path
    remote: str
    size: int
    md5: str


def _remote_md5(sftp: paramiko.SFTPClient, path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with sftp.open(path, "rb") as fh:
        fh.prefetch()
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def put(sftp: paramiko.SFTPClient, upload: Upload) -> int:
    """Upload one file exactly once: into `<name>.part`, continuing a partial one from its
    size, then checked and renamed into place. Returns the bytes sent this time."""
    if size_of(sftp, upload.remote) == upload.size:
        return 0  # renamed into place by an earlier attempt, after its checks
    part = upload.remote + PART
    offset = size_of(sftp, part)
    if offset is not None and offset > upload.size:
        sftp.remove(part)
        offset = None
    try:
        if offset is None:
            fh = sftp.open(part, "wb")
            offset = 0
        else:
            fh = sftp.open(part, "r+b")
            fh.seek(offset)
        sent = 0
        with fh, upload.local.open("rb") as src:
            fh.set_pipelined(True)
            src.seek(offset)
            while chunk := src.read(CHUNK):
                fh.write(chunk)
                sent += len(chunk)
        got = size_of(sftp, part)
        if got != upload.size:
            raise SftpError(f"{part} is {got} bytes after upload, expected {upload.size}")
        if offset > 0 and _remote_md5(sftp, part) != upload.md5:
            # The kept part was not what we sent: start this file over on the next attempt.
            sftp.remove(part)
            raise SftpError(f"{part} did not match its MD5 after resuming; it was removed")
        sftp.posix_rename(part, upload.remote)
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise SftpError(f"upload of {upload.remote} failed: {exc}") from None
    return sent


def put_bytes(sftp: paramiko.SFTPClient, remote: str, data: bytes) -> None:
    """Write a small file atomically (a temporary name, then a rename)."""
    part = remote + PART
    try:
        with sftp.open(part, "wb") as fh:
            fh.write(data)
        sftp.posix_rename(part, remote)
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise SftpError(f"writing {remote} failed: {exc}") from None


@dataclass(frozen=True)
class RemoteFile:
    """A regular file in a remote folder."""

    name: str
    size: int
    mtime: int


def listdir(sftp: paramiko.SFTPClient, folder: str) -> list[RemoteFile]:
    """The regular files in a remote folder (none when it does not exist yet)."""
    try:
        entries = sftp.listdir_attr(folder)
    except FileNotFoundError:
        return []
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise SftpError(f"listing {folder} failed: {exc}") from None
    return sorted(
        (
            RemoteFile(e.filename, e.st_size or 0, e.st_mtime or 0)
            for e in entries
            if e.st_mode is not None and stat.S_ISREG(e.st_mode)
        ),
        key=lambda f: f.name,
    )


def read_small(sftp: paramiko.SFTPClient, path: str) -> bytes:
    """A small remote file's content; SftpError when it is larger than MAX_SMALL_FILE."""
    try:
        with sftp.open(path, "rb") as fh:
            data = fh.read(MAX_SMALL_FILE + 1)
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise SftpError(f"reading {path} failed: {exc}") from None
    if len(data) > MAX_SMALL_FILE:
        raise SftpError(f"{path} is larger than {MAX_SMALL_FILE} bytes")
    return bytes(data)


def get(sftp: paramiko.SFTPClient, remote: str, local: Path) -> str:
    """Download a remote file to `local` (through a temporary name); returns its SHA-256."""
    local.parent.mkdir(parents=True, exist_ok=True)
    tmp = local.with_name(local.name + PART)
    digest = hashlib.sha256()
    try:
        with sftp.open(remote, "rb") as src, tmp.open("wb") as dst:
            src.prefetch()
            while chunk := src.read(CHUNK):
                dst.write(chunk)
                digest.update(chunk)
    except (OSError, EOFError, paramiko.SSHException) as exc:
        tmp.unlink(missing_ok=True)
        raise SftpError(f"download of {remote} failed: {exc}") from None
    tmp.replace(local)
    return digest.hexdigest()
