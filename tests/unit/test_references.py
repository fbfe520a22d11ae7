"""`$N` references: which ones count (parser) and how they are substituted (scheduler)."""

import re

import pytest

from agent._errors import FieldAccessError
from agent._references import find_references, resolve_references, result_text


def test_exact_strings_are_always_references() -> None:
    assert find_references("$1", {1}) == ({1}, [])
    assert find_references("${1}", {1}) == ({1}, [])
    assert find_references("$4", {1}) == (set(), ["reference $4 does not name an earlier task"])
    assert find_references("${9}", set()) == (
        set(),
        ["reference ${9} does not name an earlier task"],
    )


def test_bare_reference_in_text_counts_only_for_earlier_tasks() -> None:
    assert find_references("under $5", {1}) == (set(), [])
    assert find_references("compare $1 and $2", {1, 2}) == ({1, 2}, [])
    assert find_references("costs $12", {1}) == (set(), [])
    assert find_references("costs $12", {1, 12}) == ({12}, [])
    assert find_references(" $1", {1}) == ({1}, [])


def test_braced_reference_in_text_always_counts() -> None:
    assert find_references("about ${2}!", {2}) == ({2}, [])
    assert find_references("about ${3}!", {2}) == (
        set(),
        ["reference ${3} does not name an earlier task"],
    )


def test_references_are_found_at_any_depth() -> None:
    value = {"a": ["$1", ("x ${2}",)], "$3": {"k": {"deep": "$4"}}, "n": 5, "s": {"$5"}}
    assert find_references(value, {1, 2, 3, 4, 5}) == ({1, 2, 3, 4, 5}, [])


def test_field_access_depends_on_the_task_and_projects_at_run_time() -> None:
    for text in ("$2.name", "see $2[0]", '${2}["key"]', "${2}.items[0].name"):
        assert find_references(text, {2}) == ({2}, [])
    assert find_references("${4}.name", {2}) == (
        set(),
        ["reference ${4}.name does not name an earlier task"],
    )
    results = {2: {"items": [{"name": "x"}], "k v": [1, 2]}, 3: '{"a": {"b": 7}}'}
    assert resolve_references("${2}.items[0].name", results) == "x"
    assert resolve_references('$2["k v"][-1]', results) == 2
    assert resolve_references("$3.a.b", results) == 7  # a JSON string result is parsed
    assert resolve_references(["n=$2.items[0].name!"], results) == ["n=x!"]
    assert resolve_references("costs $2.50", {2: "1"}) == "costs 1.50"  # not a field


@pytest.mark.parametrize("path", ["$2.missing", "$2.items[3]", "$2.items.name", "$3.a.c"])
def test_missing_field_names_the_path(path: str) -> None:
    results = {2: {"items": [{"name": "x"}]}, 3: '{"a": {"b": 7}}'}
    with pytest.raises(FieldAccessError, match=re.escape(path)):
        resolve_references(path, results)


def test_dot_before_a_non_identifier_is_text() -> None:
    assert find_references("pay $1.50", {1}) == ({1}, [])
    assert find_references("it is $1.", {1}) == ({1}, [])
    assert find_references("$5.name is text", {1}) == (set(), [])


def test_errors_are_deduplicated_in_order() -> None:
    refs, errors = find_references(["$9", "${8}", "$9", {"${8}": "${7}"}], {1})
    assert refs == set()
    assert errors == [
        "reference $9 does not name an earlier task",
        "reference ${8} does not name an earlier task",
        "reference ${7} does not name an earlier task",
    ]


def test_exact_reference_receives_the_typed_result() -> None:
    results = {1: ["a", "b"], 2: 42, 3: {"k": None}}
    assert resolve_references("$1", results) == ["a", "b"]
    assert resolve_references("${2}", results) == 42
    assert resolve_references(["$1", {"x": "$3"}], results) == [["a", "b"], {"x": {"k": None}}]
    assert resolve_references("$1", results) is not results[1]  # a copy, safe to mutate


def test_reference_inside_text_is_interpolated() -> None:
    results = {1: "Everest", 2: 8849, 3: ["é", 1], 4: {"a": True}}
    assert resolve_references("height of $1: ${2} m", results) == "height of Everest: 8849 m"
    assert resolve_references("list $3", results) == 'list ["é", 1]'
    assert resolve_references("dict ${4}", results) == 'dict {"a": true}'


def test_resolution_is_nested_and_leaves_other_text_alone() -> None:
    results = {1: "x"}
    value = {"k $1": ("$1", ["under $5", "$12", "${7}"]), "n": 3}
    assert resolve_references(value, results) == {"k x": ("x", ["under $5", "$12", "${7}"]), "n": 3}
    assert resolve_references({"$1": 1}, {1: [1]}) == {"[1]": 1}  # keys are text only
    assert resolve_references({"$1"}, {1: [1]}) == {"[1]"}


def test_multi_digit_references_are_greedy() -> None:
    results = {1: "one", 12: "twelve"}
    assert resolve_references("$12 and $1", results) == "twelve and one"
    assert resolve_references("$12", {1: "one"}) == "$12"
    assert resolve_references("$1 $12", {1: "one"}) == "one $12"


def test_result_text() -> None:
    assert result_text("plain") == "plain"
    assert result_text(1.5) == "1.5"
    assert result_text(None) == "null"

    class Point:
        def __str__(self) -> str:
            return "P(1, 2)"

    assert result_text({"p": Point()}) == '{"p": "P(1, 2)"}'
