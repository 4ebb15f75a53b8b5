"""Rendering nginx/nginx.conf.template for this deployment."""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass
from pathlib import Path

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
    record_dir: Path | None = None
    gate_cache_seconds: int = 5
    daemon: bool = False
    worker_user: str | None = None


def default_worker_user() -> str | None:
    """As root, workers drop to www-data (Debian's nginx user); otherwise they keep ours."""
    return "www-data" if os.geteuid() == 0 else None


def render(config: Config, layout: NginxLayout) -> str:
    """The nginx.conf text; raises KeyError if the template names an unknown placeholder."""
    record = ""
    if layout.record_dir is not None:
        # Recordings become replays once the stream ends (media/ remuxes them).
        record = (f"record all;\n            record_path {layout.record_dir};\n"
                  "            record_unique on;\n            record_suffix .flv;")
    values = {
        "rtmp_module": RTMP_MODULE,
        "user_line": f"user {layout.worker_user};" if layout.worker_user else "",
        "daemon": "on" if layout.daemon else "off",
        "state_dir": str(layout.state_dir),
        "rtmp_listen": layout.rtmp_listen,
        "rtmp_port": layout.rtmp_listen.rsplit(":", 1)[-1],
        "http_listen": layout.http_listen,
        "app_url": f"http://{layout.app_host}:{layout.app_port}",
        "app_host": layout.app_host,
        "app_port": str(layout.app_port),
        "hook_secret": config.hook_secret,
        "hls_dir": str(config.hls_dir),
        "replay_dir": str(config.replay_dir),
        "record_block": record,
        "max_body": str(config.max_body_bytes),
        "gate_cache_seconds": str(layout.gate_cache_seconds),
        "real_ip_from": "\n".join(f"    set_real_ip_from {net};"
                                   for net in config.trusted_proxies),
    }
    text = string.Template(TEMPLATE.read_text()).safe_substitute(values)
    missing = _LEFT.findall(text)
    if missing:
        raise KeyError(f"nginx template placeholders without values: {', '.join(missing)}")
    return text


def prepare_dirs(config: Config, layout: NginxLayout) -> None:
    """Create nginx's state, temp, HLS and record dirs, writable by its workers."""
    dirs = [layout.state_dir, config.replay_dir, layout.state_dir / "tmp",
            layout.state_dir / "gate-cache", config.hls_dir]
    dirs += [layout.state_dir / "tmp" / n for n in ("body", "proxy", "fastcgi", "uwsgi", "scgi")]
    if layout.record_dir is not None:
        dirs.append(layout.record_dir)
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(0o755)
    if layout.worker_user:
        import pwd

        pw = pwd.getpwnam(layout.worker_user)
        for d in dirs[2:]:
            os.chown(d, pw.pw_uid, pw.pw_gid)
