"""What the log keeps of a refused request: nothing of its input. A refusal is an answer, not an
incident, and its message quotes the request, a password included (found by tests/test_fuzz.py)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.graphql import Api

SECRET = "correct horse battery staple 42"
SIGN_IN = "mutation SignIn($input: SignInInput!) { signIn(input: $input) { user { id } } }"


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        pytest.param(
            SIGN_IN,
            {"input": {"email": "erika@example.com", "password": SECRET, "remember": True}},
            id="a variable with an unknown field",
        ),
        pytest.param(
            f'mutation {{ signIn(input: {{ email: "erika@example.com", password: "{SECRET}", remember: 1 }})'
            " { user { id } } }",
            None,
            id="an inline input with an unknown field",
        ),
        pytest.param(
            f'mutation {{ signIn(input: {{ email: "e@x.at", password: "{SECRET}" }}) {{ nosuchfield }} }}',
            None,
            id="a valid input beside an unknown field",
        ),
    ],
)
async def test_a_refused_request_leaves_nothing_of_its_input_in_the_log(
    api: Api, caplog: pytest.LogCaptureFixture, query: str, variables: dict[str, Any] | None
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = await api(query, variables)

    assert response.codes == ["BAD_USER_INPUT"]
    assert SECRET not in caplog.text
