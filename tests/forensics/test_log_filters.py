"""Forensic log filters are declared: odd values are 400s, and the page size has a maximum."""

from __future__ import annotations

from urllib.parse import quote

from tests.conftest import Api, admin_token

MAX_PAGE = 1000


async def test_odd_filters_are_400_not_500(api: Api) -> None:
    token = await admin_token(api)
    for query in (
        "limit=\u00b2",
        "after=1e20",
        "after=100000000000000000000",
        "after=" + "9" * 400,
        "type=a\u0000b",
        "actor=\u0000",
        "subject=x\u0007",
        "limit=1_0",
        "limit=\u0661",
        "since=2030-01-01T00:00:00",
        "limit=5&limit=6",
        "colour=blue",
        f"limit={MAX_PAGE + 1}",
        "limit=0",
    ):
        status, body = await api.call(
            "GET", "/api/forensics/logs?" + quote(query, safe="=&"), token=token
        )
        assert status == 400 and body["error"]["code"] == "invalid_field", (query, body)


async def test_page_size_maximum_is_enforced_and_documented(api: Api) -> None:
    token = await admin_token(api)
    status, body = await api.call("GET", f"/api/forensics/logs?limit={MAX_PAGE}", token=token)
    assert status == 200 and len(body["records"]) <= MAX_PAGE
    status, doc = await api.call("GET", "/api/openapi.json")
    params = {p["name"]: p for p in doc["paths"]["/api/forensics/logs"]["get"]["parameters"]}
    assert params["limit"]["schema"]["maximum"] == MAX_PAGE
    assert params["after"]["schema"]["type"] == "integer"


async def test_proofs_beyond_the_log_are_400(api: Api) -> None:
    token = await admin_token(api)
    far = 10**12
    for query in (f"inclusion?seq=1&size={far}", f"consistency?size1=1&size2={far}"):
        status, body = await api.call("GET", f"/api/forensics/proofs/{query}", token=token)
        assert status == 400 and body["error"]["code"] == "invalid_range", (query, body)
