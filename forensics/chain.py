"""Hash-chained audit records and their canonical encoding.

A record is (seq, ts, type, actor, subject, data, prev_hash). Its canonical bytes are
the RFC 8785 (JSON Canonicalization Scheme) encoding of the object

    {"actor": str|null, "data": {...}, "prev": <64 lowercase hex>, "seq": int,
     "subject": str|null, "ts": "YYYY-MM-DDTHH:MM:SS.ffffffZ", "type": str}

(written by the ``rfc8785`` library), that is: members sorted by the UTF-16 code units
of their names, no insignificant whitespace, strings escaped only where JSON requires
(``\\b \\t \\n \\f \\r``, other controls as lowercase ``\\u00xx``, ``\\"`` and
``\\\\``), UTF-8 output. ``data`` holds only null, booleans, integers within
+-(2**53 - 1), strings, arrays and objects: floats are refused because their text form
is not stable across implementations, and the integer bound keeps every JCS
implementation on the same digits. ``ts`` is UTC with exactly six fraction digits.

record hash = SHA-256(canonical bytes). The first record has seq 1 and a prev of 32
zero bytes; each later record's prev is the hash of the record before it. The
Merkle leaf of a record is its record hash, so its leaf hash is
SHA-256(0x00 || record hash). In exports each record is one line: the canonical
encoding of the same object plus a ``"hash"`` member (the record hash in hex), and
nothing else spells it: verifiers refuse any other text of it. See ENCODING.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from binascii import hexlify
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any, TypeAlias

import rfc8785

JSONValue: TypeAlias = "bool | int | str | Sequence[JSONValue] | Mapping[str, JSONValue] | None"

GENESIS_PREV = bytes(32)
MAX_INT = 2**53 - 1
FIELDS = frozenset({"seq", "ts", "type", "actor", "subject", "data", "prev"})
LINE_FIELDS = FIELDS | {"hash"}
# In a canonical export line the top-level "hash" member sits between "data" and "prev".
_HASH_MEMBER = ',"hash":"'
_HASH_MEMBER_LEN = len(_HASH_MEMBER) + 64 + 1

_TS_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_HEX_RE = re.compile(r"[0-9a-f]{64}")
# Characters whose UTF-16 order differs from code point order: json's sort_keys is
# RFC 8785 order only for objects whose keys have none of them.
_HIGH_RE = re.compile("[\ue000-\U0010ffff]")


def _sorted_encoder() -> Callable[[object], str]:
    """Return a compact, key-sorted, non-ASCII-preserving JSON encoder for parsed values."""
    try:
        from _json import make_encoder
    except ImportError:  # not CPython: the public encoder gives the same text
        return json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode
    # Calling the C encoder directly skips JSONEncoder.encode's per-call set-up, a
    # third of the cost for records this small. Parsed JSON holds no floats or cycles.
    encode = make_encoder(None, repr, encode_basestring, None, ":", ",", True, False, False)
    return lambda value: "".join(encode(value, 0))


# For float-free values whose keys are all below U+E000 this gives exactly the RFC 8785
# text (tests hold it to rfc8785's output); the verifier uses it on that common case only.
_dumps_sorted = _sorted_encoder()


class EncodingError(ValueError):
    """A value or record has no canonical encoding (a float, a huge int, a bad field)."""


def _no_float(text: str) -> Any:
    """Refuse a JSON float or NaN/Infinity while parsing."""
    raise EncodingError(f"non-integer number {text} in record")


def _int53(text: str) -> int:
    """Parse a JSON integer, refusing those that JCS cannot reproduce exactly."""
    value = int(text)
    if not -MAX_INT <= value <= MAX_INT:
        raise EncodingError(f"integer {text} is outside +-(2**53 - 1)")
    return value


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build a parsed object, refusing a member name that occurs twice."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        names = [k for k, _ in pairs]
        dup = next(k for i, k in enumerate(names) if k in names[:i])
        raise EncodingError(f"duplicate member {dup!r}")
    return obj


_DECODER = json.JSONDecoder(
    parse_float=_no_float,
    parse_constant=_no_float,
    parse_int=_int53,
    object_pairs_hook=_unique_members,
)
# The decoder's scanner skips decode's Python wrapper, about a third of parse time.
_scan: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def loads_strict(text: str) -> Any:
    """Parse a JSON text, refusing duplicate member names, floats and huge integers."""
    return _DECODER.decode(text)


@dataclass(frozen=True)
class Record:
    """One audit record; prev_hash is the record hash of its predecessor."""

    seq: int
    ts: datetime
    type: str
    actor: str | None
    subject: str | None
    data: Mapping[str, JSONValue] = field(default_factory=dict)
    prev_hash: bytes = GENESIS_PREV


@dataclass(frozen=True)
class ChainBreak:
    """The first record at which a chain fails, and why."""

    seq: int
    reason: str

    def __str__(self) -> str:
        """Return 'seq N: reason'."""
        return f"seq {self.seq}: {self.reason}"


def _plain(value: object) -> Any:
    """Return a JSON value with mappings as dicts; refuse floats and non-JSON types.

    rfc8785 would encode floats, but records hold none: their text form is not stable
    across implementations.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        raise EncodingError(f"float {value!r} is not allowed; use integers")
    if isinstance(value, Mapping):
        for k in value:
            if not isinstance(k, str):
                raise EncodingError(f"object key {k!r} is not a string")
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    raise EncodingError(f"{type(value).__name__} is not a JSON value")


def canonical_json(value: object) -> bytes:
    """Return the RFC 8785 encoding of a float-free JSON value."""
    try:
        return rfc8785.dumps(_plain(value))
    except (rfc8785.CanonicalizationError, UnicodeError) as e:  # huge ints, lone surrogates
        raise EncodingError(str(e)) from None


def format_ts(ts: datetime) -> str:
    """Return a timezone-aware datetime as UTC 'YYYY-MM-DDTHH:MM:SS.ffffffZ'."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise EncodingError("timestamp must be timezone-aware")
    return ts.astimezone(UTC).replace(tzinfo=None).isoformat("T", "microseconds") + "Z"


def parse_ts(text: str) -> datetime:
    """Parse the canonical UTC timestamp form."""
    if not _TS_RE.fullmatch(text):
        raise EncodingError(f"timestamp {text!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ")
    return datetime.fromisoformat(text)  # validates the calendar; 'Z' gives UTC


def _fields(record: Record) -> dict[str, JSONValue]:
    """Return the hashed members of a record as a JSON object."""
    if type(record.seq) is not int or record.seq < 1:
        raise EncodingError(f"seq {record.seq!r} must be a positive integer")
    if len(record.prev_hash) != 32:
        raise EncodingError("prev_hash must be 32 bytes")
    for name in ("type", "actor", "subject"):
        v = getattr(record, name)
        if not (isinstance(v, str) or (v is None and name != "type")):
            raise EncodingError(f"{name} must be a string" + ("" if name == "type" else " or None"))
    if not isinstance(record.data, Mapping):
        raise EncodingError("data must be a JSON object")
    return {
        "seq": record.seq,
        "ts": format_ts(record.ts),
        "type": record.type,
        "actor": record.actor,
        "subject": record.subject,
        "data": record.data,
        "prev": record.prev_hash.hex(),
    }


def canonical_bytes(record: Record) -> bytes:
    """Return the canonical encoding of a record, the input of its hash."""
    return canonical_json(_fields(record))


def record_hash(record: Record) -> bytes:
    """Return SHA-256 of the record's canonical bytes."""
    return hashlib.sha256(canonical_bytes(record)).digest()


def record_line(record: Record) -> str:
    """Return the export line of a record: its canonical object plus "hash"."""
    obj = _fields(record)
    obj["hash"] = record_hash(record).hex()
    return canonical_json(obj).decode()


def record_from_json(obj: object) -> tuple[Record, bytes]:
    """Return the record and stored hash of a parsed export line, checking its shape."""
    if not isinstance(obj, dict):
        raise EncodingError("record is not a JSON object")
    if obj.keys() != LINE_FIELDS:
        missing, extra = LINE_FIELDS - obj.keys(), obj.keys() - LINE_FIELDS
        raise EncodingError(
            f"record members wrong: missing {sorted(missing)}, extra {sorted(extra)}"
        )
    for name in ("prev", "hash"):
        if not isinstance(obj[name], str) or not _HEX_RE.fullmatch(obj[name]):
            raise EncodingError(f"{name} is not 64 lowercase hex digits")
    if not isinstance(obj["ts"], str):
        raise EncodingError("ts is not a string")
    record = Record(
        seq=obj["seq"],
        ts=parse_ts(obj["ts"]),
        type=obj["type"],
        actor=obj["actor"],
        subject=obj["subject"],
        data=obj["data"],
        prev_hash=bytes.fromhex(obj["prev"]),
    )
    _fields(record)  # the same type checks the writer applies
    return record, bytes.fromhex(obj["hash"])


def verify_chain(
    records: Iterable[Record],
    expected_prev: bytes = GENESIS_PREV,
    first_seq: int = 1,
    hashes: Sequence[bytes] | None = None,
) -> ChainBreak | None:
    """Return the first break in a run of records, or None if seq, links and hashes hold.

    The run must start at first_seq with prev == expected_prev; with hashes given,
    each record's recomputed hash must also equal the stored one.
    """
    seq, prev = first_seq, expected_prev
    for i, record in enumerate(records):
        if record.seq != seq:
            return ChainBreak(seq, f"expected seq {seq}, found seq {record.seq}")
        if record.prev_hash != prev:
            return ChainBreak(seq, "prev does not match the hash of the record before")
        try:
            prev = record_hash(record)
        except ValueError as e:
            return ChainBreak(seq, f"cannot encode record: {e}")
        if hashes is not None and (i >= len(hashes) or hashes[i] != prev):
            return ChainBreak(seq, "stored hash does not match the recomputed hash")
        seq += 1
    if hashes is not None and len(hashes) != seq - first_seq:
        return ChainBreak(seq, f"{len(hashes)} stored hashes for {seq - first_seq} records")
    return None


def verify_lines(
    lines: Iterable[bytes], expected_prev: bytes = GENESIS_PREV, first_seq: int = 1
) -> tuple[list[bytes], ChainBreak | None]:
    """Check UTF-8 export lines as a chain; return the hashes verified and the first break.

    Each line must be exactly the canonical encoding of its record plus "hash" (a
    trailing newline aside): a line with a duplicate member, other spacing, escapes or
    member order is refused, so every reader of a verified line sees the same record.
    Equivalent to parsing every line with loads_strict and record_from_json, comparing
    it with record_line and calling verify_chain with the stored hashes.

    The loop is the fast path, written out in line because it runs a million times per
    bundle: it accepts a line only when it is certainly the canonical successor, and
    hands any other line to `_strict_line`, which alone refuses and says why. The fast
    path parses with the C scanner and no per-object hook (floats and NaN stop the scan)
    and rebuilds the canonical text around one C encoding of `data`, with the expected
    seq and prev and the parsed strings put in unescaped. If the line equals that text it
    is canonical: a string that needed an escape makes the rebuilt text shorter than any
    JSON text of the same values, and a wrong type, a duplicate, extra or misordered
    member, spacing or trailing text all change the text. `data`'s key order is RFC
    8785's whenever no name needs UTF-16 ordering (the `_HIGH_RE` case, left to the
    strict path); timestamps and integer bounds are checked apart.
    """
    hashes: list[bytes] = []
    append = hashes.append
    prev_hex, seq = expected_prev.hex(), first_seq
    scan, dumps, sha256 = _fast_scan, _dumps_sorted, hashlib.sha256
    ts_form, high, calendar = _TS_RE.fullmatch, _HIGH_RE.search, datetime.fromisoformat
    second = ""  # the "YYYY-MM-DDTHH:MM:SS." of the last timestamp checked in full
    for raw in lines:
        digest = None
        try:
            line = raw.decode().removesuffix("\n")
            obj, _ = scan(line, 0)
            actor, subject, kind, data, ts, stored = (
                obj["actor"],
                obj["subject"],
                obj["type"],
                obj["data"],
                obj["ts"],
                obj["hash"],
            )
            # A string member that is not a str fails the concatenation or the comparison.
            actor_text = "null" if actor is None else '"' + actor + '"'
            subject_text = "null" if subject is None else '"' + subject + '"'
            ascii_line = raw.isascii()
            if (
                type(data) is dict
                and line
                == f'{{"actor":{actor_text},"data":{(data_text := dumps(data))},'
                f'"hash":"{stored}","prev":"{prev_hex}","seq":{seq},'
                f'"subject":{subject_text},"ts":"{ts}","type":"{kind}"}}'
                and (ascii_line or high(line) is None)
                and _small_ints(data)
            ):
                # Records of one second share all of their timestamp but the fraction: the
                # rest is checked in full once (form, then calendar: no 31 April), then
                # only six ASCII digits and the Z.
                if not (
                    ascii_line and ts[:20] == second and ts[20:26].isdigit() and ts[26:] == "Z"
                ):
                    if ts_form(ts) is None:
                        raise ValueError("timestamp form")
                    calendar(ts)
                    second = ts[:20]
                # The record's canonical bytes are the line without its "hash" member,
                # which canonical order puts right after "data" (in an ASCII line characters
                # are bytes; otherwise it is the last ',"hash":"', as the members after it
                # hold no quote).
                cut = (
                    _HEAD_LEN + len(actor_text) + len(data_text)
                    if ascii_line
                    else raw.rfind(_HASH_MEMBER_BYTES)
                )
                h = sha256(raw[:cut])
                h.update(raw[cut + _HASH_MEMBER_LEN : len(raw) - raw.endswith(b"\n")])
                digest = h.digest()
                if digest.hex() == stored:
                    prev_hex = stored
                else:
                    digest = None
        except (ValueError, StopIteration, RecursionError, KeyError, TypeError):
            digest = None
        if digest is None:
            checked = _strict_line(raw, seq, prev_hex)
            if isinstance(checked, ChainBreak):
                return hashes, checked
            digest, prev_hex = checked, checked.hex()
        append(digest)
        seq += 1
    return hashes, None


def exact_lines(
    lines: Iterable[bytes], expected_prev: bytes = GENESIS_PREV, first_seq: int = 1
) -> tuple[list[bytes], bytes | None]:
    """Hash lines while each holds, byte for byte, the chain's next record; return the
    hashes and the first line that does not (None if every line did).

    A line qualifies when it is some text P, then ``,"hash":"<hex>"``, then a text R that
    is exactly the members after "hash" of a canonical line (prev, seq, subject, ts, type;
    no quote in a string, since canonical strings escape theirs), with prev and seq the
    expected ones and <hex> = SHA-256(P + R), the record hash it returns. Nothing here
    parses P, so this proves nothing about form by itself: only when a signed root covers
    the hashes are P + R the signer's canonical bytes, and then the fixed number of quotes
    in R puts the "hash" member where the canonical line has it, so the line is the
    canonical line. `verify_lines` checks form without a root.
    """
    hashes: list[bytes] = []
    append = hashes.append
    prev, seq = hexlify(expected_prev), first_seq
    tail, sha256 = _EXACT_TAIL.fullmatch, hashlib.sha256
    for raw in lines:
        cut = raw.rfind(_HASH_MEMBER_BYTES)
        rest = tail(raw, cut + _HASH_MEMBER_LEN - 1) if cut >= 0 else None
        if rest is None or rest[1] != prev or rest[2] != b"%d" % seq:
            return hashes, raw
        h = sha256(raw[:cut])
        h.update(raw[cut + _HASH_MEMBER_LEN : len(raw) - raw.endswith(b"\n")])
        digest = h.digest()
        prev = raw[cut + len(_HASH_MEMBER) : cut + _HASH_MEMBER_LEN - 1]
        if hexlify(digest) != prev:
            return hashes, raw
        append(digest)
        seq += 1
    return hashes, None


# What follows the "hash" member's value in a canonical line, its closing quote first.
_EXACT_TAIL = re.compile(
    rb'","prev":"([0-9a-f]{64})","seq":([1-9][0-9]*),"subject":(?:null|"[^"]*"),'
    rb'"ts":"[^"]{27}","type":"[^"]*"}\n?'
)

_fast_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder(  # type: ignore[attr-defined]
    parse_float=_no_float, parse_constant=_no_float
).scan_once
_HASH_MEMBER_BYTES = _HASH_MEMBER.encode()
# A canonical line's text before its "hash" member, less the actor and data values.
_HEAD_LEN = len('{"actor":,"data":')


def _small_ints(value: Any) -> bool:
    """Whether every integer in a parsed value is within +-(2**53 - 1)."""
    items = value.values() if type(value) is dict else value
    for v in items:
        t = type(v)
        if t is int:
            if not -MAX_INT <= v <= MAX_INT:
                return False
        elif (t is dict or t is list) and not _small_ints(v):
            return False
    return True


def _strict_line(raw: bytes, seq: int, prev_hex: str) -> bytes | ChainBreak:
    """The record hash of a line that is the canonical successor, or why it is not."""
    try:
        line = raw.decode().removesuffix("\n")
        obj, end = _scan(line, 0)
        if end != len(line) or type(obj) is not dict:
            raise ValueError("line is not exactly one JSON object")
        stored = obj.get("hash")
        if obj.get("seq") != seq or type(obj["seq"]) is not int:
            return ChainBreak(seq, f"expected seq {seq}, found seq {obj.get('seq')!r}")
        if obj.get("prev") != prev_hex:
            return ChainBreak(seq, "prev does not match the hash of the record before")
        if obj.keys() != LINE_FIELDS or not _fast_shape(obj):
            record_from_json(obj)  # raises, naming what is wrong
            raise ValueError("record has the wrong shape")
        plain = raw.isascii() or _HIGH_RE.search(line) is None
        canonical = _dumps_sorted(obj) if plain else rfc8785.dumps(obj).decode()
        if canonical != line:
            return ChainBreak(seq, "line is not in canonical form (RFC 8785)")
        cut = line.rfind(_HASH_MEMBER)
        digest = hashlib.sha256((line[:cut] + line[cut + _HASH_MEMBER_LEN :]).encode()).digest()
    except StopIteration:
        return ChainBreak(seq, "line is not valid JSON")
    except (ValueError, RecursionError) as e:  # nesting too deep to parse is malformed too
        return ChainBreak(seq, f"malformed record: {e}")
    if stored != digest.hex():
        return ChainBreak(seq, "stored hash does not match the recomputed hash")
    return digest


def _fast_shape(obj: dict[str, Any]) -> bool:
    """Return whether a parsed line with the right members has the right types."""
    ts, actor, subject = obj["ts"], obj["actor"], obj["subject"]
    return (
        type(obj["type"]) is str
        and (actor is None or type(actor) is str)
        and (subject is None or type(subject) is str)
        and type(obj["data"]) is dict
        and type(ts) is str
        and _TS_RE.fullmatch(ts) is not None
        and _valid_date(ts)
        and type(obj["hash"]) is str
    )


def _valid_date(ts: str) -> bool:
    """Return whether a well-shaped timestamp names a real instant."""
    try:
        datetime.fromisoformat(ts)
    except ValueError:
        return False
    return True
