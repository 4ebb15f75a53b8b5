"""The Docker deployment matches the tree: images can be built, compose is consistent."""

from __future__ import annotations

import fnmatch
import json
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILES = [ROOT / "Dockerfile", *sorted((ROOT / "docker").glob("*.Dockerfile"))]


def copy_sources(dockerfile: Path) -> list[str]:
    """The build-context sources of every COPY/ADD (not those copied from another stage)."""
    sources: list[str] = []
    text = dockerfile.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        words = line.strip().split(None, 1)
        if len(words) < 2 or words[0].upper() not in ("COPY", "ADD"):
            continue
        rest = words[1].strip()
        args = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
        flags = [a for a in args if a.startswith("--")]
        if any(f.startswith("--from") for f in flags):
            continue
        paths = [a for a in args if not a.startswith("--")]
        sources += paths[:-1]
    return sources


def ignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the build context."""
    ignore = ROOT / ".dockerignore"
    patterns = (
        [p.strip() for p in ignore.read_text().splitlines() if p.strip() and not p.startswith("#")]
        if ignore.exists()
        else []
    )
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path.split("/")[0], p) for p in patterns)


def project_packages() -> set[str]:
    """Top-level packages pyproject installs that exist in the tree."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = meta["tool"]["setuptools"]["packages"]["find"]["include"]
    return {
        d.name
        for d in ROOT.iterdir()
        if (d / "__init__.py").exists() and any(fnmatch.fnmatch(d.name, p) for p in include)
    }


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_every_copy_source_exists_in_the_build_context(dockerfile: Path) -> None:
    sources = copy_sources(dockerfile)
    assert sources, dockerfile
    for source in sources:
        assert list(ROOT.glob(source)), f"{dockerfile.name}: COPY {source} does not exist"
        assert not ignored(source), f"{dockerfile.name}: COPY {source} is in .dockerignore"
    # `mhc` imports every package, so each image that runs it carries them all.
    missing = project_packages() - set(sources)
    assert not missing, f"{dockerfile.name} does not copy {sorted(missing)}"
    assert "nginx" in sources and "pyproject.toml" in sources


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_compose_parses_and_its_services_are_consistent() -> None:
    doc = compose()
    services: dict[str, Any] = doc["services"]
    declared = set((doc.get("volumes") or {}).keys())
    for name, service in services.items():
        build = service.get("build")
        if build is not None:
            context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = (
                "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            )
            assert (context / dockerfile).is_file(), f"{name}: {dockerfile} missing"
        else:
            assert service.get("image"), f"{name} has neither build nor image"
        depends = service.get("depends_on") or []
        for other in depends if isinstance(depends, list) else depends.keys():
            assert other in services, f"{name} depends on unknown service {other}"
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} uses undeclared volume {source}"
    nginx = services["nginx"]["environment"]
    assert nginx["MHC_NGINX_APP_HOST"] in services
    assert nginx["MHC_BIND_ADDRESS"] == "0.0.0.0", "published ports need nginx on every address"
    assert {p.split(":")[-1] for p in services["nginx"]["ports"]} == {"1935", "8000"}
    # The hook secret in nginx's relay and the app's routes must be the same one.
    assert services["nginx"]["env_file"] == services["app"]["env_file"]


def test_compose_redis_keeps_revocations() -> None:
    redis = compose()["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command and "--maxmemory-policy noeviction" in command
    assert any(v.endswith(":/data") for v in redis["volumes"]), "the append-only file persists"
