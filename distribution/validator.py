"""ERN 4.3 validation against the XSD in the configured schema directory, loaded once.

DDEX licenses its schemas: operators download their own copy (release-notification.xsd and
allowed-value-sets.xsd beside it) and name the folder in MHC_DISTRIBUTION_SCHEMA_DIR.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

from lxml import etree

from distribution.errors import DistributionError

SCHEMA_FILE = "release-notification.xsd"
_lock = threading.Lock()


class Validator:
    """One loaded schema; lxml's XMLSchema is not thread-safe, so calls are serialized."""

    def __init__(self, schema_dir: Path) -> None:
        path = schema_dir / SCHEMA_FILE
        if not path.is_file():
            raise DistributionError("no_schema", f"no {SCHEMA_FILE} in {schema_dir}")
        self._schema = etree.XMLSchema(etree.parse(str(path)))
        self._lock = threading.Lock()

    def errors(self, doc: etree._ElementTree | etree._Element) -> list[str]:
        """What the schema finds wrong with `doc` (empty when valid)."""
        with self._lock:
            if self._schema.validate(doc):
                return []
            return [f"line {e.line}: {e.message}" for e in self._schema.error_log]

    def check(self, doc: etree._ElementTree | etree._Element) -> None:
        """Raise DistributionError("invalid_message") naming the first problems."""
        found = self.errors(doc)
        if found:
            raise DistributionError("invalid_message", "; ".join(found[:5]))

    def check_file(self, path: Path) -> list[str]:
        """Parse a message file (no network, no entities) and return its schema errors."""
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
        try:
            doc = etree.parse(str(path), parser)
        except etree.XMLSyntaxError as exc:
            return [f"not well-formed XML: {exc}"]
        return self.errors(doc)


@functools.cache
def _load(schema_dir: Path) -> Validator:
    return Validator(schema_dir)


def load(schema_dir: Path) -> Validator:
    """The validator of `schema_dir`, parsed on first use (a few seconds) and kept."""
    with _lock:
        return _load(schema_dir.resolve())
