"""``check_values``'s quick walk refuses exactly what the walk that names the place does."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.types import MAX_DEPTH, _clean, _refuse, check_values

LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities included
    | st.text(max_size=8)  # lone surrogates included
    | st.sampled_from(["\ud800", "é\udfff", "ok", "ünïcode", math.nan, -math.inf])
)
KEYS = st.text(max_size=6) | st.sampled_from(["\udc80", "clé", "k"]) | st.integers(0, 3)


def documents() -> st.SearchStrategy[Any]:
    return st.recursive(
        LEAVES,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.lists(inner, max_size=3).map(tuple)
            | st.dictionaries(KEYS, inner, max_size=4)
        ),
        max_leaves=30,
    )


def outcome(check: Any, data: Any) -> str | None:
    try:
        check(data)
    except ValueError as exc:
        return str(exc)
    return None


@settings(max_examples=600, deadline=None)
@given(documents())
def test_the_quick_walk_refuses_exactly_what_the_naming_walk_refuses(data: Any) -> None:
    named = outcome(_refuse, data)
    assert _clean(data, 0) is (named is None)
    assert outcome(check_values, data) == named


def nested(levels: int, leaf: Any = "x") -> Any:
    data = leaf
    for i in range(levels):
        data = [data] if i % 2 else {"k": data}
    return data


@pytest.mark.parametrize("levels", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 10 * MAX_DEPTH])
@pytest.mark.parametrize("leaf", ["x", math.nan, "\ud800", [], {}])
def test_nesting_at_and_past_the_limit(levels: int, leaf: Any) -> None:
    data = nested(levels, leaf)
    named = outcome(_refuse, data)
    assert outcome(check_values, data) == named
    if levels + isinstance(leaf, list | dict) > MAX_DEPTH:
        assert named is not None
        assert f"nested deeper than {MAX_DEPTH} levels" in named


def test_a_list_that_holds_itself_is_refused_as_too_deep() -> None:
    loop: list[Any] = []
    loop.append(loop)
    assert outcome(check_values, loop) == outcome(_refuse, loop)
    assert f"nested deeper than {MAX_DEPTH} levels" in str(outcome(check_values, loop))


def test_the_first_problem_named_is_the_naming_walk_s() -> None:
    data = {"messages": [{"content": "\ud800"}], "temperature": math.inf, "clé\udc80": 1}
    assert outcome(check_values, data) == outcome(_refuse, data) is not None
