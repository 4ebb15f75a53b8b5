"""Rendering nginx/nginx.conf.template for this deployment."""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass
from pathlib import Path

from media.videos import config as video_config
from server.config import Config

TEMPLATE = Path(__file__).resolve().parent.parent / "nginx" / "nginx.conf.template"
RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
_LEFT = re.compile(r"\$\{(\w+)\}")


@dataclass(frozen=True)
class NginxLayout:
    """Where nginx listens and keeps its files, and where it finds the app."""

    state_dir: Path
    rtmp_listen: str
    http_listen: str
    app_host: str
    app_port: int
    # The loopback port where nginx relays nginx-rtmp's heartbeat to the app (see template).
    hook_port: int = 8081
    record_dir: Path | None = None
    # An allow is reused for at most this + 1 s (nginx's clock ticks in seconds), so a revoked
    # token is refused within 4 s; README promises 5.
    gate_cache_seconds: int = 3
    # How often nginx-rtmp reports each publisher (on_update).
    heartbeat_seconds: int = 30
    daemon: bool = False
    worker_user: str | None = None


def listen_address(host: str, port: int) -> str:
    """An nginx `listen` address for `host` (IPv4 or IPv6) and `port`."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def layout_for(config: Config, state_dir: Path) -> NginxLayout:
    """The layout a deployment gets from its configuration (`mhc up`, `mhc nginx-config`)."""
    return NginxLayout(
        state_dir=state_dir,
        rtmp_listen=listen_address(config.bind_address, config.rtmp_port),
        http_listen=listen_address(config.bind_address, config.http_port),
        app_host=config.nginx_app_host,
        app_port=config.port,
        hook_port=config.nginx_hook_port,
        record_dir=config.record_dir,
        worker_user=default_worker_user(),
    )


def default_worker_user() -> str | None:
    """As root, workers drop to www-data (Debian's nginx user); otherwise they keep ours."""
    return "www-data" if os.geteuid() == 0 else None


def render(config: Config, layout: NginxLayout) -> str:
    """The nginx.conf text; raises KeyError if the template names an unknown placeholder."""
    record = ""
    if layout.record_dir is not None:
        # Recordings become replays once the stream ends (media/ remuxes them).
        record = (
            f"record all;\n            record_path {layout.record_dir};\n"
            "            record_unique on;\n            record_suffix .flv;"
        )
    rtmp_port = layout.rtmp_listen.rsplit(":", 1)[-1]
    rtmp_host = layout.rtmp_listen.rpartition(":")[0]
    # The HLS relay pushes to 127.0.0.1, so a listener on another address needs a loopback one.
    loopback = "" if rtmp_host in ("", "0.0.0.0", "127.0.0.1") else f"listen 127.0.0.1:{rtmp_port};"
    values = {
        "rtmp_module": RTMP_MODULE,
        "user_line": f"user {layout.worker_user};" if layout.worker_user else "",
        "daemon": "on" if layout.daemon else "off",
        "state_dir": str(layout.state_dir),
        "rtmp_listen": layout.rtmp_listen,
        "rtmp_port": rtmp_port,
        "rtmp_loopback_listen": loopback,
        "hook_port": str(layout.hook_port),
        "heartbeat_seconds": str(layout.heartbeat_seconds),
        "http_listen": layout.http_listen,
        "app_url": f"http://{layout.app_host}:{layout.app_port}",
        "app_host": layout.app_host,
        "app_port": str(layout.app_port),
        "hook_secret": config.hook_secret,
        "hls_dir": str(config.hls_dir),
        "replay_dir": str(config.replay_dir),
        # forensics/ writes the log under <state dir>/log; nginx maps /log/… onto it.
        "forensic_root": str(config.state_dir),
        "vod_dir": str(video_config.load(config).videos_dir),
        "upload_chunk_max": str(video_config.load(config).max_chunk_bytes),
        "record_block": record,
        "max_body": str(config.max_body_bytes),
        "gate_cache_seconds": str(layout.gate_cache_seconds),
        "real_ip_from": "\n".join(f"    set_real_ip_from {net};" for net in config.trusted_proxies),
    }
    text = string.Template(TEMPLATE.read_text()).safe_substitute(values)
    missing = _LEFT.findall(text)
    if missing:
        raise KeyError(f"nginx template placeholders without values: {', '.join(missing)}")
    return text


def prepare_dirs(config: Config, layout: NginxLayout) -> None:
    """Create nginx's state, temp, HLS and record dirs, writable by its workers."""
    dirs = [
        layout.state_dir,
        config.replay_dir,
        layout.state_dir / "tmp",
        layout.state_dir / "gate-cache",
        config.hls_dir,
    ]
    dirs += [layout.state_dir / "tmp" / n for n in ("body", "proxy", "fastcgi", "uwsgi", "scgi")]
    if layout.record_dir is not None:
        dirs.append(layout.record_dir)
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(0o755)
    # The app writes the video ladders; nginx's workers only read them.
    video_config.load(config).videos_dir.mkdir(parents=True, exist_ok=True)
    if layout.worker_user:
        import pwd

        pw = pwd.getpwnam(layout.worker_user)
        for d in dirs[2:]:
            os.chown(d, pw.pw_uid, pw.pw_gid)
