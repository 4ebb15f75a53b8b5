"""DSR flat files and store CSVs written the way the stores send them, for tests."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

Sale = tuple[str, str, str, str, str]  # isrc, territory, units, revenue, currency


def dsr(
    sales: list[Sale],
    *,
    sender: str = "Spotify",
    start: str = "2026-03-01",
    end: str = "2026-03-31",
    model: str = "SubscriptionModel",
    use: str = "OnDemandStream",
    lines: int | None = None,
    summary_total_delta: str = "0",
) -> str:
    """A Basic Audio Profile DSR: one summary per territory and currency, a block per sale."""
    head = [
        "HEAD",
        "dsr/4.1",
        "BasicAudioProfile",
        "1.3",
        "MSG1",
        "2026-04-02T00:00:00Z",
        "1",
        "1",
        start,
        end,
        "PADPIDA2011072101T",
        sender,
        "Premium",
        "PADPIDA0000000001X",
        "MHC",
    ]
    out = ["\t".join(head)]
    groups: dict[tuple[str, str], list[tuple[int, Sale]]] = defaultdict(list)
    for i, sale in enumerate(sales):
        groups[(sale[1], sale[4])].append((i, sale))
    summary_ids = {}
    for n, ((territory, currency), members) in enumerate(sorted(groups.items()), 1):
        total = sum((Decimal(s[3]) for _, s in members), Decimal(0)) + Decimal(summary_total_delta)
        summary_ids[(territory, currency)] = str(n)
        out.append(
            "\t".join(
                [
                    "SY02.03",
                    str(n),
                    sender,
                    model,
                    use,
                    territory,
                    "Premium",
                    "0",
                    "0",
                    currency,
                    str(total),
                ]
            )
        )
    for i, (isrc, territory, units, revenue, currency) in enumerate(sales):
        block = str(i + 1)
        out.append(
            "\t".join(
                ["RE01.03", block, "R1", f"dsp{i}", "", "", "0000000000017", "Artist", "", "Title"]
            )
        )
        out.append("\t".join(["AS02.04", block, "A1", f"res{i}", isrc, "Title", "", "Artist"]))
        out.append(
            "\t".join(
                [
                    "SU02.03",
                    block,
                    summary_ids[(territory, currency)],
                    f"T{i}",
                    "",
                    "A1",
                    "true",
                    units,
                    revenue,
                ]
            )
        )
    count = len(out) + 1 if lines is None else lines
    out.append(
        "\t".join(
            ["FOOT", str(count), str(count), str(len(groups)), str(len(sales)), str(len(sales))]
        )
    )
    return "\n".join(out) + "\n"


def store_csv(sales: list[Sale], store: str = "tidal", period: str = "2026-03") -> str:
    """The simple per-store CSV."""
    rows = ["store,period,isrc,territory,units,gross,currency"]
    rows += [f"{store},{period},{i},{t},{u},{g},{c}" for i, t, u, g, c in sales]
    return "\n".join(rows) + "\n"
