"""A handler's JSON and every refusal are encoded by orjson: whatever a handler may return, the client parses the
same value Starlette's own encoder would have given it."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from starlette.responses import JSONResponse

from pledge.json_answer import JsonAnswer

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)  # past 64 bits too: orjson refuses those
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
keys = st.text() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=20
)


@given(values)
def test_the_client_reads_what_starlette_s_encoder_would_have_sent(value: Any) -> None:
    assert json.loads(JsonAnswer(value).body) == json.loads(JSONResponse(value).body)


def test_the_answer_is_compact_utf_8_with_its_media_type() -> None:
    answer = JsonAnswer({"error": "refused", "message": "été"}, status_code=403)
    assert answer.body == '{"error":"refused","message":"été"}'.encode()
    assert (answer.status_code, answer.media_type) == (403, "application/json")


def test_a_number_json_cannot_hold_is_sent_as_null() -> None:
    assert JsonAnswer({"ratio": float("nan"), "limit": float("inf")}).body == b'{"ratio":null,"limit":null}'
