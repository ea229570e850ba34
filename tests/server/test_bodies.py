"""Request bodies: the fast JSON reader gives what Python's reader gives, for every document and every refusal, and
refuses a lone surrogate, which no answer could write back; a step past 64 bits is refused by the metric route
rather than rounded into range."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from tests.server.conftest import People
from tests.server.test_tracking import start_run

from driftloop.entities import Role
from driftloop.server._bodies import parse_json

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()  # past 64 bits too, where a fast reader may round them into floats
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats()  # NaN and the infinities, written as Python writes them
    | st.text()  # lone surrogates included
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=20,
)


def outcome(read: Any, body: bytes) -> tuple[str, str]:
    """What a reader makes of ``body``: its result written back exactly (types, order, NaN), or its error."""
    try:
        return "read", json.dumps(read(body))
    except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return "refused", type(error).__name__


def pythons_reader(body: bytes) -> Any:
    """Python's reader, refusing what it reads into a string that is not text (a lone surrogate)."""
    read = json.loads(body)
    try:
        json.dumps(read, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise json.JSONDecodeError("a lone surrogate", "", 0) from None
    return read


@given(DOCUMENTS, st.booleans())
def test_every_document_reads_as_pythons_reader_reads_it(document: Any, ascii_only: bool) -> None:
    body = json.dumps(document, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert outcome(parse_json, body) == outcome(pythons_reader, body)


@given(st.binary(max_size=40) | st.text(alphabet='{}[]",:0123456789.eE+-NaInfitylrusn \\ud', max_size=40))
def test_any_bytes_are_read_or_refused_as_pythons_reader_does(body: bytes | str) -> None:
    body = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    assert outcome(parse_json, body) == outcome(pythons_reader, body)


def test_a_lone_surrogate_is_refused_and_the_audit_log_stays_readable(client: TestClient, people: People) -> None:
    admin = people.headers("ada", Role.ADMIN)
    body = '{"name": "price", "description": "\\udfff"}'
    answer = client.post("/api/v1/experiments", content=body, headers={**admin, "Content-Type": "application/json"})
    assert answer.status_code == 422 and "lone UTF-16 surrogate" in answer.json()["error"]["message"]
    assert client.get("/api/v1/events", headers=admin).status_code == 200
    assert client.get("/api/v1/experiments", headers=admin).json() == []


@pytest.mark.parametrize("step", [-(2**63) - 1, 2**63, 2**64])
def test_a_step_past_64_bits_is_refused_not_rounded(client: TestClient, people: People, step: int) -> None:
    editor = people.headers("ana", Role.EDITOR)
    run = start_run(client, editor)
    body = f'{{"points": [{{"key": "loss", "value": 1.0, "step": {step}}}]}}'
    answer = client.post(
        f"/api/v1/runs/{run.id}/metrics", content=body, headers={**editor, "Content-Type": "application/json"}
    )
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_data"
