"""Canonical record encoding, record hashes and chain verification."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from forensics.chain import (
    GENESIS_PREV,
    EncodingError,
    Record,
    canonical_bytes,
    canonical_json,
    exact_lines,
    format_ts,
    loads_strict,
    parse_ts,
    record_from_json,
    record_hash,
    record_line,
    verify_chain,
    verify_lines,
)

T0 = datetime(2025, 3, 1, 20, 15, 0, 250000, tzinfo=UTC)


def make_chain(n: int, data: Any = None, seed: int = 0) -> list[Record]:
    """Return records 1..n correctly chained."""
    rng = random.Random(seed)
    records, prev = [], GENESIS_PREV
    for seq in range(1, n + 1):
        r = Record(
            seq=seq,
            ts=T0 + timedelta(microseconds=rng.randrange(10**9) + seq * 10**9),
            type="ticket.purchased",
            actor=f"user:{rng.randrange(100)}" if seq % 3 else None,
            subject=None if seq % 5 == 0 else f"ticket:{seq}",
            data={"amount": seq * 100, "currency": "EUR"} if data is None else data,
            prev_hash=prev,
        )
        prev = record_hash(r)
        records.append(r)
    return records


def test_rfc8785_key_order() -> None:
    """Members sort by UTF-16 code units: the emoji goes before U+FB33 (RFC 8785 3.2.3)."""
    value = {"\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001f600": 5, "\u0080": 6, "\u00f6": 7}
    keys = list(json.loads(canonical_json(value)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_rfc8785_strings() -> None:
    """Strings escape only what JSON requires, control characters in lowercase hex."""
    value = "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/\x7f\u2028"
    assert canonical_json(value) == '"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/\x7f\u2028"'.encode()
    assert canonical_json({"b": [True, None, -0, 2**53 - 1], "a": {}}) == (
        b'{"a":{},"b":[true,null,0,9007199254740991]}'
    )


@pytest.mark.parametrize("bad", [1.5, 1.0, float("nan"), 2**53, -(2**53), {1: 2}, "\ud800", {1}])
def test_unencodable_values(bad: object) -> None:
    """Floats, out-of-range integers, non-string keys, lone surrogates are refused."""
    with pytest.raises(ValueError):
        canonical_json({"x": bad})


def test_known_record_hash() -> None:
    """The worked example of ENCODING.md."""
    r = Record(
        1,
        T0,
        "ticket.purchased",
        "user:7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "ticket:16fd2706-8baf-433b-82eb-8c7fada847da",
        {"amount": 1500, "currency": "EUR", "event": "Café concert"},
    )
    assert canonical_bytes(r).startswith(b'{"actor":"user:7c9e6679')
    assert b'"ts":"2025-03-01T20:15:00.250000Z"' in canonical_bytes(r)
    assert record_hash(r).hex() == (
        "76988e3fdf96f55ed6639f33899fdeccd6164010db8c5505ae9f4a90818e114c"
    )


GOLDEN = [
    # (record, its record hash, SHA-256 of its export line): fixed when the encoder moved to
    # the rfc8785 library, so the chain's bytes can never change unnoticed.
    (
        Record(1, T0, "ticket.purchased", "user:1", "ticket:1", {
            "\ufb33": 1, "\U0001f600": [2, {"é": None}], "\u20ac": "a\x01b\tc\u2028\x7f",
            "q": "\"\\/", "\r": 0,
        }),
        "873eb953e7d168370378215bceb2efef99e1d4c73a82bc30f9983e3ee9f54edd",
        "455e5dad4240d35b34a7457d0b1572e0dccb59f355e1b46fdf685b40af7f5577",
    ),
    (
        Record(2, T0, "x", None, None, {}, bytes(range(32))),
        "c397114d87905b2e59c97c3663c342198d35fe32ad58e01416cf79897833898c",
        "cdb000e76b91bf6e03b39b094eec85d3cdfdbb29ccf938fc67e4c62e74dadf4a",
    ),
    (
        Record(3, datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=UTC), "nested", "a", None, {
            "nested": {"z": [], "a": {"k": "v"}}, "neg": -(2**53 - 1), "max": 2**53 - 1,
            "t": True, "f": False, "n": None, "e": {}, "l": [[], [{}], "\u0000\u001f"],
        }, b"\xff" * 32),
        "579afb9eb3732c2a9190484f95d7b57b393857162b09d7d9ab223d2177f4633e",
        "6ae07238afeec8e68d825d88809a7053a19d222e5b4b25f9601283595be87b0c",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("record", "digest", "line_digest"), GOLDEN)
def test_golden_vectors(record: Record, digest: str, line_digest: str) -> None:
    """The chain's bytes are the ones every existing log was hashed with."""
    assert record_hash(record).hex() == digest
    line = record_line(record)
    assert hashlib.sha256(line.encode()).hexdigest() == line_digest
    hashes, brk = verify_lines([line.encode()], record.prev_hash, record.seq)
    assert brk is None and hashes == [bytes.fromhex(digest)]


KEYS = ["a", "b", "hash", "prev", "\r", "é", "\u20ac", "\ufb33", "\U0001f600", "\ue000", "Z"]


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randint(-(2**53 - 1), 2**53 - 1)
    if kind in (2, 3, 4):
        return "".join(rng.choice('a"\\/\x00\x1f\x7f é€\u2028\ud7ff\ue000😀,:{}') for _ in range(5))
    if kind == 5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(KEYS): _random_value(rng, depth + 1) for _ in range(rng.randrange(5))}


def test_random_records_round_trip_through_the_verifier() -> None:
    """Lines written by the rfc8785 encoder verify on the verifier's fast and exact paths."""
    rng = random.Random(8785)
    records, prev = [], GENESIS_PREV
    for seq in range(1, 3001):
        data = {rng.choice(KEYS): _random_value(rng) for _ in range(rng.randrange(6))}
        record = Record(seq, T0, "t", rng.choice([None, "a", "\ue000"]), None, data, prev)
        prev = record_hash(record)
        records.append(record)
    hashes, brk = verify_lines(_lines(records))
    assert brk is None, brk
    assert hashes == [record_hash(r) for r in records]


def test_timestamps() -> None:
    """Timestamps are UTC with six fraction digits; naive ones are refused."""
    plus2 = timezone(timedelta(hours=2))
    assert format_ts(datetime(2025, 1, 1, 2, 0, tzinfo=plus2)) == "2025-01-01T00:00:00.000000Z"
    assert format_ts(datetime(5, 1, 1, tzinfo=UTC)) == "0005-01-01T00:00:00.000000Z"
    assert parse_ts("2025-03-01T20:15:00.250000Z") == T0
    with pytest.raises(EncodingError):
        format_ts(datetime(2025, 1, 1))


@pytest.mark.parametrize(
    "bad",
    [
        "2025-03-01T20:15:00.25Z",
        "2025-03-01T20:15:00.250000+00:00",
        "2025-02-30T20:15:00.250000Z",
        "2025-03-01 20:15:00.250000Z",
    ],
)
def test_noncanonical_timestamps(bad: str) -> None:
    """Only the canonical timestamp form of a real instant parses."""
    with pytest.raises(ValueError):
        parse_ts(bad)


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 0},
        {"seq": True},
        {"prev_hash": b"x"},
        {"type": None},
        {"actor": 5},
        {"data": [1]},
        {"data": {"f": 0.5}},
    ],
)
def test_record_fields_are_checked(change: dict[str, Any]) -> None:
    """Records with wrong field types cannot be encoded."""
    good = make_chain(1)[0]
    with pytest.raises(EncodingError):
        canonical_bytes(Record(**{**good.__dict__, **change}))


def test_chain_verifies() -> None:
    """A well-formed chain has no break, with or without stored hashes."""
    records = make_chain(50)
    assert verify_chain(records) is None
    assert verify_chain(records, hashes=[record_hash(r) for r in records]) is None
    assert verify_chain(records[10:], expected_prev=record_hash(records[9]), first_seq=11) is None


def test_chain_breaks_name_the_first_bad_seq() -> None:
    """Changes, gaps, reorders and wrong hashes are reported at the first bad seq."""
    records = make_chain(20)
    hashes = [record_hash(r) for r in records]
    altered = list(records)
    altered[6] = Record(**{**records[6].__dict__, "data": {"amount": 1}})
    brk = verify_chain(altered)
    assert brk is not None and brk.seq == 8 and "prev" in brk.reason  # 7's change shows at 8
    brk = verify_chain(altered, hashes=hashes)
    assert brk is not None and brk.seq == 7 and "hash" in brk.reason
    brk = verify_chain(records[:4] + records[5:])
    assert brk is not None and (brk.seq, brk.reason) == (5, "expected seq 5, found seq 6")
    brk = verify_chain([records[1], records[0], *records[2:]])
    assert brk is not None and brk.seq == 1
    brk = verify_chain(records, hashes=hashes[:-1])
    assert brk is not None and brk.seq == 20


def _lines(records: list[Record]) -> list[bytes]:
    """Return export lines as a file would give them."""
    return [(record_line(r) + "\n").encode() for r in records]


@pytest.mark.parametrize(
    "data",
    [
        {"amount": 1500, "currency": "EUR"},
        {"\ufb33": 1, "\U0001f600": [2, {"é": None}], "ctl": "a\x01b\tc"},
        {"nested": {"z": [], "a": {"k": "v\u2028"}}, "neg": -(2**53 - 1)},
        {},
    ],
)
def test_lines_round_trip(data: dict[str, Any]) -> None:
    """Export lines verify on both the fast and the exact path, to the same hashes."""
    records = make_chain(30, data)
    hashes, brk = verify_lines(_lines(records))
    assert brk is None
    assert hashes == [record_hash(r) for r in records]
    for line, r in zip(_lines(records), records, strict=True):
        assert record_from_json(json.loads(line)) == (r, record_hash(r))


def test_line_without_newline_verifies() -> None:
    """The trailing newline is the only freedom a line has."""
    line = _lines(make_chain(1))[0]
    assert verify_lines([line.rstrip(b"\n")])[1] is None


def _respaced(line: str) -> str:
    return json.dumps(json.loads(line), indent=1, ensure_ascii=False).replace("\n", " ")


def _reordered(line: str) -> str:
    obj = json.loads(line)
    return json.dumps(dict(reversed(obj.items())), separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize(
    "rewrite",
    [
        pytest.param(_respaced, id="spacing"),
        pytest.param(_reordered, id="member order"),
        pytest.param(lambda s: s.replace("é", "\\u00e9"), id="needless escape"),
        pytest.param(lambda s: s.replace('"n":0', '"n":-0'), id="minus zero"),
        pytest.param(lambda s: s.replace("a/b", "a\\/b"), id="escaped solidus"),
    ],
)
def test_noncanonical_lines_are_refused(rewrite: Any) -> None:
    """Another spelling of the same record does not verify: readers must all see one text."""
    records = make_chain(3, {"n": 0, "s": "a/b é"})
    lines = _lines(records)
    text = lines[1].decode().rstrip("\n")
    changed = rewrite(text)
    assert changed != text and json.loads(changed) == json.loads(text)
    lines[1] = changed.encode()
    hashes, brk = verify_lines(lines)
    assert brk is not None and brk.seq == 2 and "canonical" in brk.reason, brk
    assert len(hashes) == 1


@pytest.mark.parametrize("member", ["actor", "type", "data", "subject", "ts", "hash"])
def test_duplicate_members_are_refused(member: str) -> None:
    """A forged member placed before the genuine one would fool first-wins readers."""
    records = make_chain(3)
    lines = _lines(records)
    forged = {
        "actor": '"attacker"',
        "type": '"refund.approved"',
        "data": '{"amount":1}',
        "subject": '"ticket:999"',
        "ts": '"2030-01-01T00:00:00.000000Z"',
        "hash": '"' + "0" * 64 + '"',
    }[member]
    text = lines[1].decode()
    lines[1] = text.replace("{", "{" + f'"{member}":{forged},', 1).encode()
    assert json.loads(lines[1]) == json.loads(text), "the last member wins in Python"
    hashes, brk = verify_lines(lines)
    assert brk is not None and brk.seq == 2 and f"duplicate member '{member}'" in brk.reason, brk
    assert len(hashes) == 1


def test_duplicate_members_inside_data_are_refused() -> None:
    """Nested objects are held to the same rule."""
    lines = _lines(make_chain(2, {"inner": {"a": 1}}))
    lines[0] = lines[0].replace(b'{"a":1}', b'{"a":2,"a":1}')
    brk = verify_lines(lines)[1]
    assert brk is not None and brk.seq == 1 and "duplicate member 'a'" in brk.reason


@pytest.mark.parametrize(
    ("mangle", "seq", "reason"),
    [
        (lambda s: s.replace('"amount":300', '"amount":301'), 3, "stored hash does not match"),
        (lambda s: s.replace('"amount":300', '"amount":300.0'), 3, "non-integer"),
        (lambda s: s.replace('"amount":300', f'"amount":{2**60}'), 3, "outside"),
        (lambda s: s.replace('"seq":3', '"seq":4'), 3, "expected seq 3, found seq 4"),
        (lambda s: s.replace('"currency":"EUR"}', '"currency":"EUR"', 1), 3, "malformed"),
        (lambda s: s.replace('"type":"ticket.purchased"', '"type":7'), 3, "type must be"),
        (lambda s: s.replace('"ts":"2025', '"ts":"1925'), 3, "stored hash does not match"),
        (lambda s: s.replace('Z"', '+00:00"'), 3, "timestamp"),
        (lambda s: s + "{}", 3, "malformed"),
        (lambda s: "", 3, "not valid JSON"),
        (lambda s: "[" * 100_000, 3, "malformed"),
        (lambda s: s.replace('"hash":"', '"hash":"0'), 3, "stored hash does not match"),
    ],
)
def test_bad_lines(mangle: Any, seq: int, reason: str) -> None:
    """A bad line stops verification at its seq with a reason."""
    lines = _lines(make_chain(6))
    lines[2] = mangle(lines[2].decode().rstrip("\n")).encode()
    hashes, brk = verify_lines(lines)
    assert brk is not None and brk.seq == seq and reason in brk.reason, brk
    assert len(hashes) == seq - 1


def test_lines_after_a_prefix() -> None:
    """A run may start after earlier records, given the hash before it."""
    records = make_chain(10)
    lines = _lines(records)
    assert verify_lines(lines[4:], record_hash(records[3]), 5)[1] is None
    brk = verify_lines(lines[4:], record_hash(records[2]), 5)[1]
    assert brk is not None and brk.seq == 5 and "prev" in brk.reason


def _reference_accepts(line: bytes, prev: bytes, seq: int) -> bool:
    """The definition `verify_lines` must match: strict parse, shape, exact re-encoding."""
    try:
        text = line.decode().removesuffix("\n")
        record, stored = record_from_json(loads_strict(text))
    except (ValueError, RecursionError):
        return False
    return (
        record.seq == seq
        and record.prev_hash == prev
        and record_line(record) == text
        and record_hash(record) == stored
    )


def _rehashed(text: str) -> str:
    """The line with its "hash" recomputed as a writer would from the rest of the text, so
    that only canonical form and shape decide whether it verifies."""
    import re

    found = re.search(r',"hash":"[0-9a-f]{64}"', text)
    if found is None:
        return text
    rest = text[: found.start()] + text[found.end() :]
    digest = hashlib.sha256(rest.encode()).hexdigest()
    return text[: found.start()] + f',"hash":"{digest}"' + text[found.end() :]


_MUTATIONS = [
    lambda s, r: s,
    lambda s, r: s.replace('"EUR"', '"USD \\\\ \\" \\n \\u001f é \u2028"', 1),
    lambda s, r: s[: r.randrange(len(s))] + " " + s[r.randrange(len(s)) :],
    lambda s, r: s.replace('"amount":', '"amount":1' + "0" * r.randrange(12, 18), 1),
    lambda s, r: s.replace('"amount":', '"amount":1.5,"amount":', 1),
    lambda s, r: s.replace('"currency":"EUR"', '"currency":"EUR","currency":"USD"', 1),
    lambda s, r: s.replace('"currency"', '"\\u0063urrency"', 1),
    lambda s, r: s.replace('"EUR"', '"E\\/R"', 1),
    # After "currency": UTF-16 order (RFC 8785) puts U+1F600 before U+E000, code points the
    # other way round; only the first is canonical.
    lambda s, r: s.replace('"EUR"', '"EUR","\U0001f600":1,"\ue000":2', 1),
    lambda s, r: s.replace('"EUR"', '"EUR","\ue000":2,"\U0001f600":1', 1),
    lambda s, r: s.replace('"ts":"2', '"ts":"3', 1),
    lambda s, r: s.replace("T", " ", 1),
    lambda s, r: s[: s.index('"ts":"') + 11] + "04-31" + s[s.index('"ts":"') + 16 :],
    lambda s, r: s.replace('"seq":', '"seq":true,"seq":', 1),
    lambda s, r: s.replace(',"prev"', ',"extra":null,"prev"', 1),
    lambda s, r: s.replace('"actor":"', '"actor":"\\u0000', 1),
    lambda s, r: s.replace('"actor":"', '"actor":"\\b\\u0008', 1),
    lambda s, r: s.replace("}", "}}", 1),
    lambda s, r: s[:-1],
    lambda s, r: s + " ",
    lambda s, r: s.replace('"data":{', '"data":{"deep":' + "[" * 50 + "]" * 50 + ",", 1),
    lambda s, r: s.replace('"data":{', '"data":{"n":[-9007199254740992],', 1),
    lambda s, r: s.replace('"data":{', '"data":{"n":{"m":9007199254740991},', 1),
]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("mutation", range(len(_MUTATIONS)))
def test_verifier_accepts_exactly_what_the_definition_accepts(mutation: int, seed: int) -> None:
    """Mutated lines (spacing, escapes, duplicates, floats, huge integers, key order, shape),
    re-hashed as a writer would, verify exactly when the strict definition accepts them."""
    rng = random.Random(seed)
    records = make_chain(3, {"amount": 5, "currency": "EUR"}, seed=seed)
    lines = _lines(records)
    text = lines[1].decode().removesuffix("\n")
    candidate = _rehashed(_MUTATIONS[mutation](text, rng)).encode()
    expected = _reference_accepts(candidate, record_hash(records[0]), 2)
    if mutation in (0, 1, 8):  # unchanged, and canonical changes of content
        assert expected
    hashes, brk = verify_lines([lines[0], candidate])
    assert (brk is None) == expected, (candidate, brk)
    assert len(hashes) == (2 if expected else 1)


@pytest.mark.parametrize(
    "fraction",
    ["123456Z", "12345xZ", "123456z", "1234567Z", "12345Z", "12345\u0661Z", "123456Z ", " 23456Z"],
)
def test_timestamps_within_one_second_are_checked_whole(fraction: str) -> None:
    """Records of one second share a checked timestamp prefix; the rest of each is still
    held to the canonical form."""
    records, prev = [], GENESIS_PREV
    for seq in (1, 2, 3):
        record = Record(seq, T0 + timedelta(microseconds=seq), "t", None, None, {}, prev)
        records.append(record)
        prev = record_hash(record)
    lines = _lines(records)
    text = lines[1].decode().removesuffix("\n")
    at = text.index('"ts":"') + len('"ts":"') + 20
    candidate = _rehashed(text[:at] + fraction + text[at + 7 :]).encode()
    expected = _reference_accepts(candidate, record_hash(records[0]), 2)
    assert expected == (fraction == "123456Z")
    hashes, brk = verify_lines([lines[0], candidate])
    assert (brk is None) == expected, brk
    assert len(hashes) == (2 if expected else 1)


def _with_member_at(canonical: bytes, at: int) -> bytes:
    """The record's canonical bytes with its "hash" member put in at byte offset at."""
    member = b',"hash":"' + hashlib.sha256(canonical).hexdigest().encode() + b'"'
    return canonical[:at] + member + canonical[at:]


def test_exact_lines_take_the_hash_member_only_where_the_canonical_line_has_it() -> None:
    """Given a record's canonical bytes (what a signed root pins), the "hash" member put in
    at any other offset is not taken, even where `data` holds a copy of the members that
    follow it; a line is taken only when it is the canonical line."""
    rng = random.Random(15)
    prev = bytes(range(32))
    ts = "2025-03-01T20:15:00.250000Z"
    tail = {"prev": prev.hex(), "seq": 7, "subject": None, "ts": ts, "type": "t"}
    datas: list[Any] = [{"a": 1, **tail}, {"x": {"a": 1, **tail}}, {"z": [{"a": 1, **tail}]}]
    datas += [{rng.choice(KEYS): _random_value(rng) for _ in range(3)} for _ in range(40)]
    for i, data in enumerate(datas):
        subject = rng.choice([None, "s", 'say "hi"', "a\\b"]) if i >= 3 else None
        kind = rng.choice(["t", 'a "quoted" type']) if i >= 3 else "t"
        record = Record(7, parse_ts(ts), kind, rng.choice([None, 'x"y', "é"]), subject, data, prev)
        canonical, line = canonical_bytes(record), record_line(record).encode()
        taken = [
            candidate
            for at in range(len(canonical) + 1)
            if exact_lines([candidate := _with_member_at(canonical, at)], prev, 7)[0]
        ]
        quoted = '"' in kind or '"' in (subject or "")
        assert taken == ([] if quoted else [line]), (data, taken)
        hashes, other = exact_lines([line + b"\n"], prev, 7)
        assert (hashes, other) == (([], line + b"\n") if quoted else ([record_hash(record)], None))


@pytest.mark.parametrize(
    ("mangle", "taken"),
    [
        (lambda b: b, 3),
        (lambda b: b.replace(b'"seq":2,', b'"seq":3,'), 1),
        (lambda b: b.replace(b'"seq":2,', b'"seq":02,'), 1),
        (lambda b: b.replace(b'"prev":"', b'"prev":"0', 1)[:-1], 1),
        (lambda b: b.replace(b'"amount":200', b'"amount":201'), 1),
        (lambda b: b.replace(b'"hash":"', b'"hash":"0')[:-1], 1),
        (lambda b: b.replace(b'"hash":"', b'"hash" :"'), 1),
        (lambda b: b.replace(b'","prev"', b'" ,"prev"'), 1),
        (lambda b: b.rstrip(b"\n") + b" \n", 1),
        (lambda b: b[:-2] + b"\n", 1),
        (lambda b: b"", 1),
    ],
)
def test_exact_lines_stop_at_the_first_line_that_is_not_the_next_record(
    mangle: Any, taken: int
) -> None:
    """Record 2 mangled in one place: its hash, link, seq or text; exact_lines stops there."""
    records = make_chain(3, seed=4)
    lines = _lines(records)
    lines[1] = mangle(lines[1])
    hashes = [record_hash(r) for r in records]
    assert exact_lines(lines) == (hashes[:taken], None if taken == 3 else lines[1])
    assert exact_lines(lines[2:], hashes[1], 3) == (hashes[2:], None)
