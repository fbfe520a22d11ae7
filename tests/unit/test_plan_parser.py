"""The plan language and its streaming parser (docs/protocol.md, "Plan language", "Parser API")."""

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.tools import StructuredTool, tool

from agent.plan import CUT_OFF, JOIN, NOT_CLOSED, PlanParser, Task, parse_plan, read_plan
from tests.helpers import math, search


@tool
def calc(expression: str) -> str:
    """Evaluate an expression."""
    return expression


def _lookup(key: str, limit: int = 1) -> str:
    return key


LOOKUP = StructuredTool.from_function(
    _lookup,
    name="lookup",
    description="Look up a key.",
    args_schema={  # a JSON-schema dict rather than a pydantic model
        "type": "object",
        "properties": {"key": {"type": "string"}, "limit": {"type": "integer"}},
        "required": ["key"],
    },
)

TOOLS = [search, math, calc, LOOKUP]


def stream(text: str, cuts: list[int], **kwargs: Any) -> list[Task]:
    """Feed `text` cut at the given positions, and close."""
    parser = PlanParser(TOOLS, **kwargs)
    tasks: list[Task] = []
    start = 0
    for cut in [*sorted(cuts), len(text)]:
        tasks += parser.feed(text[start:cut])
        start = cut
    return tasks + parser.close()


def parse(text: str, **kwargs: Any) -> list[Task]:
    """`parse_plan`, checked against a one-character-at-a-time stream of the same text."""
    tasks = parse_plan(text, TOOLS, **kwargs)
    assert stream(text, list(range(len(text))), **kwargs) == tasks
    return tasks


def join(idx: int, deps: list[int], thought: str | None = None) -> Task:
    return Task(idx=idx, tool=JOIN, args={}, deps=deps, thought=thought)


SPEC_PLAN = """Thought: optional reasoning; attaches to the next task
1. search("Mount Everest")
2. search(query="Mount Kilimanjaro")
3. math("height ratio of Everest to Kilimanjaro", context=["$1", "$2"])
4. join()
<END_OF_PLAN>
"""


def test_spec_example() -> None:
    assert parse(SPEC_PLAN) == [
        Task(
            idx=1,
            tool="search",
            args={"query": "Mount Everest"},
            deps=[],
            thought="optional reasoning; attaches to the next task",
        ),
        Task(idx=2, tool="search", args={"query": "Mount Kilimanjaro"}, deps=[]),
        Task(
            idx=3,
            tool="math",
            args={"problem": "height ratio of Everest to Kilimanjaro", "context": ["$1", "$2"]},
            deps=[1, 2],
        ),
        join(4, [1, 2, 3]),
    ]


def test_task_value() -> None:
    task = parse('1. search("x")')[0]
    assert task == Task(1, "search", {"query": "x"}, [])
    assert not task.is_join
    assert parse("")[0].is_join
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.idx = 2  # type: ignore[misc]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_newline_styles(newline: str) -> None:
    text = SPEC_PLAN.replace("\n", newline)
    assert parse(text) == parse_plan(SPEC_PLAN, TOOLS)
    multiline = f'1. search("""a{newline}b""")'
    assert parse(multiline)[0].args == {"query": "a\nb"}


def test_parenthesis_numbering_and_indentation() -> None:
    tasks = parse('  1) search("a")\n\t2)calc(expression="1+1")\n3 . search ("b")')
    assert [(t.idx, t.tool, t.error) for t in tasks] == [
        (1, "search", None),
        (2, "calc", None),
        (3, "search", None),
        (4, JOIN, None),
    ]


def test_task_is_emitted_when_its_line_ends() -> None:
    parser = PlanParser(TOOLS)
    assert parser.feed('Thought: look it up\n1. search("Everest"') == []
    assert parser.feed(")") == []  # the line may still say more than one call
    assert parser.feed("\n") == [
        Task(1, "search", {"query": "Everest"}, [], thought="look it up"),
    ]
    assert parser.feed('2. calc("1+1")  # a comment with ) and "quotes"') == []
    assert parser.feed("\n3. join()") == [
        Task(2, "calc", {"expression": "1+1"}, []),
        join(3, [1, 2]),
    ]
    assert parser.feed('\n4. search("ignored after join")') == []
    assert parser.close() == []


def test_quotes_may_contain_syntax_characters() -> None:
    text = (
        '1. search("a (b) , c # d )")\n'
        "2. search('it''s ) (')\n"
        '3. search("""x ) "" ")\n# y""")\n'
        "4. search('''a\n2. search(\"no\")''')\n"
        '5. search("line one\nline two")\n'
        '6. search("esc \\" ) still")\n'
        '7. search("")\n'
        "8. search('')\n"
    )
    assert [t.args.get("query") for t in parse(text)[:7]] == [
        "a (b) , c # d )",
        "its ) (",
        'x ) "" ")\n# y',
        'a\n2. search("no")',  # a string is opaque until it closes
        "line one\nline two",
        'esc " ) still',
        "",
    ]


def test_nested_brackets_and_multiline_arguments() -> None:
    text = (
        "1. lookup(\n"
        '    key=str({"a": [1, (2, 3)]}),\n'
        ")\n"
        "2. math(\n"
        '    "p",  # a comment with ) and "\n'
        '    context=[("$1"), {"k": ["${1}", 1.5]}],\n'
        ")\n"
    )
    first, second, _ = parse(text)
    assert first.error == 'argument str({"a": [1, (2, 3)]}) is not a Python literal'
    assert second == Task(2, "math", {"problem": "p", "context": ["$1", {"k": ["${1}", 1.5]}]}, [1])


def test_a_call_whose_parenthesis_never_closes_is_an_error_and_the_next_line_is_read() -> None:
    text = '1. search("a"\n2. math("b", context=["$1"\nThought: next\n3. search(query="c"\njoin(\n'
    assert parse(text) == [
        Task(1, "search", {"query": "a"}, [], error=NOT_CLOSED),
        Task(2, "math", {"problem": "b", "context": ["$1"]}, [1], error=NOT_CLOSED),
        Task(3, "search", {"query": "c"}, [], thought="next", error=NOT_CLOSED),
        join(4, [1, 2, 3]),
    ]
    assert parse('1. search("a"\n<END_OF_PLAN>\n2. search("b")') == [
        Task(1, "search", {"query": "a"}, [], error=NOT_CLOSED),
        join(2, [1]),
    ]


def test_a_call_cut_off_by_the_end_of_the_output_is_an_error() -> None:
    assert parse('1. search("unterminated') == [
        Task(1, "search", {"query": "unterminated"}, [], error=CUT_OFF),
        join(2, [1]),
    ]
    assert parse('1. search("a")\n2. search("b", ') == [
        Task(1, "search", {"query": "a"}, []),
        Task(2, "search", {"query": "b"}, [], error=CUT_OFF),
        join(3, [1, 2]),
    ]


def test_lines_that_only_look_like_tasks_continue_the_task() -> None:
    text = '1. search("""Steps:\n1. do this\n  2) then that\nthoughtful: no\n""")'
    assert parse(text)[0].args == {"query": "Steps:\n1. do this\n  2) then that\nthoughtful: no\n"}


def test_fences_prose_and_blank_lines_are_ignored() -> None:
    text = (
        "Here is the plan:\n"
        "```python\n"
        "\n"
        '1. search("a")\n'
        "Some prose (with parentheses) in between.\n"
        "2. Search for the answer\n"
        "```\n"
        "\n"
    )
    assert parse(text) == [Task(1, "search", {"query": "a"}, []), join(2, [1])]


def test_a_comment_after_a_call_is_allowed_but_other_text_makes_the_line_a_note() -> None:
    text = '1. search("a")  # 2. search("b")\n2. calc("1") trailing prose (x)\n'
    tasks, notes = read_plan(text, TOOLS)
    assert tasks == parse(text) == [Task(1, "search", {"query": "a"}, []), join(2, [1])]
    assert notes == ['2. calc("1") trailing prose (x)']


def test_thoughts_attach_to_the_next_task_including_join() -> None:
    text = "thought: first\nThought :  second  \n1. calc('1')\nThought: finish\n"
    tasks = parse(text)
    assert [t.thought for t in tasks] == ["first second", "finish"]


def test_join_ends_the_plan() -> None:
    assert parse('1. calc("1")\njoin()\n3. calc("2")') == [
        Task(1, "calc", {"expression": "1"}, []),
        join(2, [1]),
    ]
    assert parse('1. calc("1")\n2. join("ignored", x=1)') == [
        Task(1, "calc", {"expression": "1"}, []),
        join(2, [1]),
    ]
    assert parse('1. calc("1")\n1. join()')[-1] == join(2, [1])  # renumbered: join never runs


def test_empty_plan_is_only_join() -> None:
    assert parse("") == [join(1, [])]
    assert parse("Nothing to do.\n<END_OF_PLAN>") == [join(1, [])]
    assert parse("", known=[1, 2, 3]) == [join(4, [])]


def test_known_indices_for_replans() -> None:
    text = '5. math("m", context=["$1", "$5"])\n6. search("under $2 and $4 not $9")\n'
    assert parse(text, known=[1, 2, 3, 4]) == [
        Task(
            5,
            "math",
            {"problem": "m", "context": ["$1", "$5"]},
            [1],
            error="reference $5 does not name an earlier task",
        ),
        Task(6, "search", {"query": "under $2 and $4 not $9"}, [2, 4]),
        join(7, [5, 6]),
    ]
    assert parse('4. search("x")', known=[1, 2, 3, 4])[0].error == "duplicate index 4"


def test_references_in_arguments() -> None:
    text = (
        '1. search("a")\n'
        '2. math("$1 and ${1}", context=["x $1", "$1"])\n'
        "3. lookup(key=$2, limit=${1})\n"
        '4. search("pay under $5, or $12")\n'
        '5. search("${9}")\n'
        '6. search("$2.name")\n'
    )
    tasks = parse(text)
    assert tasks[1].deps == [1]
    assert tasks[2] == Task(3, "lookup", {"key": "$2", "limit": "${1}"}, [1, 2])
    assert tasks[3] == Task(4, "search", {"query": "pay under $5, or $12"}, [])
    assert tasks[4].error == "reference ${9} does not name an earlier task"
    assert tasks[5].error is None  # field access: checked when the task runs
    assert tasks[5].deps == [2]


def test_index_must_increase() -> None:
    tasks = parse('2. calc("a")\n2. calc("b")\n1. calc("c")\n3. calc("$1")')
    assert [(t.idx, t.error) for t in tasks] == [
        (2, None),
        (2, "duplicate index 2"),
        (1, "index 1 does not increase (an earlier task has index 2)"),
        (3, None),
        (4, None),
    ]
    assert tasks[3].deps == [1]  # tasks with errors are still reference targets
    assert tasks[4].deps == [1, 2, 3]


def test_unknown_tool_keeps_its_arguments_for_the_joiner() -> None:
    task = parse('1. browse("x", depth=2)')[0]
    assert task == Task(
        1,
        "browse",
        {"arg1": "x", "depth": 2},
        [],
        error="unknown tool 'browse' (known tools: calc, lookup, math, search)",
    )


@pytest.mark.parametrize(
    ("call", "args", "error"),
    [
        (
            'search("a", "b")',
            {"query": "a"},
            "search takes 1 positional argument(s) but 2 were given",
        ),
        (
            'search(q="a")',
            {"q": "a"},
            "search has no parameter 'q' (parameters: query); "
            "search is missing required argument(s): query",
        ),
        (
            'search("a", query="b")',
            {"query": "a"},
            "search got multiple values for argument 'query'",
        ),
        ("math(context=[])", {"context": []}, "math is missing required argument(s): problem"),
        ("lookup()", {}, "lookup is missing required argument(s): key"),
        ('lookup("k", 3)', {"key": "k", "limit": 3}, None),
        ("search(query=x)", {}, "argument x is not a Python literal"),
        ('search(f"{x}")', {}, 'argument f"{x}" is not a Python literal'),
        ("search(*['a'])", {}, "argument unpacking (*['a']) is not supported"),
        ("search(**{'query': 'a'})", {}, "argument unpacking (**{'query': 'a'}) is not supported"),
        ("search('a' 'b' ,)", {"query": "ab"}, None),
        ("lookup(key=('a', ('b',)))", {"key": ["a", ["b"]]}, None),
        (
            "lookup(key={'a', 'b'})",
            {},
            "argument {'a', 'b'} is not JSON data (a set value is not supported)",
        ),
        ("lookup(key=b'x')", {}, "argument b'x' is not JSON data (a bytes value is not supported)"),
        (
            "lookup(key={(1, 2): 3})",
            {},
            "argument {(1, 2): 3} is not JSON data (a tuple dict key is not supported)",
        ),
        (
            "search(query='a', query='b')",
            {"query": "a"},
            "search got multiple values for argument 'query'",
        ),
        ("search('a',,)", {}, "cannot parse the arguments (invalid syntax)"),
        ("search(__import__('os'))", {}, "argument __import__('os') is not a Python literal"),
    ],
)
def test_argument_checks(call: str, args: dict[str, Any], error: str | None) -> None:
    task = parse(f"1. {call}")[0]
    assert (task.args, task.error) == (args, error)


def test_tools_as_mapping() -> None:
    tasks = parse_plan('1. web("x")', {"web": search})
    assert tasks[0] == Task(1, "web", {"query": "x"}, [])


def test_max_tasks() -> None:
    text = "".join(f'{i}. calc("{i}")\n' for i in range(1, 5)) + "5. join()"
    tasks = parse(text, max_tasks=2)
    assert [t.error for t in tasks] == [
        None,
        None,
        "plan exceeds max_tasks_per_plan (2)",
        "plan exceeds max_tasks_per_plan (2)",
        None,
    ]
    assert tasks[-1] == join(5, [1, 2, 3, 4])


def test_a_thousand_task_plan_streamed_a_character_at_a_time_keeps_every_task() -> None:
    # That the work grows linearly with the plan is checked in test_parser_work.py.
    text = "".join(
        f'Thought: step {i}\n{i}. math("p {i} (x)", context=["${i - 1}", "$1 m"])  # c\n'
        for i in range(2, 1002)
    )
    text = '1. search("start")\n' + text + "join()\n"
    tasks = stream(text, list(range(len(text))))
    assert len(tasks) == 1002
    assert all(t.error is None for t in tasks)
    assert tasks[-1].deps == list(range(1, 1002))


# -- every chunking gives the same tasks ----------------------------------------------------

_ARGS = [
    '"plain"',
    "'single'",
    '"with ( ) , # inside"',
    '"""triple\nwith newline )"""',
    '"raw\nnewline"',
    'query="kw"',
    '"$1"',
    '"text $2 and ${1}"',
    "[$1, ${2}]",
    '{"k": [1, (2, 3)], "v": "$3"}',
    '"a", context=["$1"]',
    "x + 1",
    '"unterminated',
    "[1, 2",
    '"esc \\" quote"',
    '""',
    '"a", "b"',
]


@st.composite
def plan_lines(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["task", "task", "task", "thought", "fence", "blank", "prose"]))
    indent = draw(st.sampled_from(["", "  ", "\t"]))
    if kind == "task":
        idx = draw(st.integers(1, 12))
        marker = draw(st.sampled_from([".", ")"]))
        name = draw(st.sampled_from(["search", "math", "calc", "lookup", "nope", JOIN]))
        args = draw(st.sampled_from(_ARGS))
        close = draw(st.sampled_from([")", ")", ")", "", ")  # note (x)"]))
        return f"{indent}{idx}{marker} {name}({args}{close}"
    return {
        "thought": f"{indent}Thought: {draw(st.sampled_from(['why', 'a (b)', '']))}",
        "fence": draw(st.sampled_from(["```", "```python"])),
        "blank": indent,
        "prose": draw(st.sampled_from(["Plan:", "join the results", "<END_OF_PLAN>", "1. x"])),
    }[kind]


@st.composite
def plans(draw: st.DrawFn) -> str:
    lines = draw(st.lists(plan_lines(), max_size=10))
    text = ""
    for line in lines:
        text += line + draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return text[: draw(st.integers(0, len(text)))] if draw(st.booleans()) else text


def _cuts(text: str) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, len(text)), max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_chunking_of_a_plan_parses_the_same(data: st.DataObject) -> None:
    text = data.draw(plans())
    whole = parse_plan(text, TOOLS, known=[1])
    assert stream(text, data.draw(_cuts(text)), known=[1]) == whole
    assert stream(text, list(range(len(text))), known=[1]) == whole
    assert [t.is_join for t in whole].count(True) == 1 and whole[-1].is_join


def test_end_of_plan_anywhere_in_a_line() -> None:
    text = '1. calc("1")\nThought: done. <END_OF_PLAN>\n2. calc("2")'
    assert parse(text) == [
        Task(1, "calc", {"expression": "1"}, []),
        join(2, [1], thought="done. <END_OF_PLAN>"),
    ]


def test_plain_functions_are_accepted_like_the_graph_accepts_them() -> None:
    def lookup_price(item: str, currency: str = "EUR") -> str:
        return item

    async def fetch(url: str) -> str:
        return url

    tasks = parse_plan(
        '1. lookup_price("tea", currency="USD")\n2. fetch(url="$1")', [lookup_price, fetch]
    )
    assert tasks[0] == Task(1, "lookup_price", {"item": "tea", "currency": "USD"}, [])
    assert tasks[1] == Task(2, "fetch", {"url": "$1"}, [1])
    assert "unknown tool" in (parse_plan("1. nope()", [fetch])[0].error or "")


# -- shapes real models write ------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        '**1.** `search("x")`\n**2.** `search("y")`\n**3.** `join()`',
        'Step 1: search("x")\nStep 2: search("y")\nStep 3: join()',
        '1) search("x")\n2) search("y")\n3) join()',
        '- 1. search("x")\n- 2. search("y")\n- 3. join()',
        'Here is my plan:\n```\n1. search("x")\n2. search("y")\n3. join()\n```',
        '`1. search("x")`\n`2. search("y")`\n`3. join()`',
    ],
    ids=["bold-backticks", "step-n", "n-paren", "bullets", "fenced", "backticked-lines"],
)
def test_markdown_and_step_shapes_read_as_tasks(text: str) -> None:
    assert parse(text) == [
        Task(1, "search", {"query": "x"}, []),
        Task(2, "search", {"query": "y"}, []),
        join(3, [1, 2]),
    ]


def test_lines_that_are_not_tasks_become_plan_notes_in_order() -> None:
    text = (
        'Here is the plan:\n```python\n1. search("x")\nI will compare them next.\n'
        '2. serch("y"\n3. join()\nThis is commentary after the plan.'
    )
    tasks, notes = read_plan(text, TOOLS)
    assert [t.tool for t in tasks] == ["search", "serch", "join"]
    assert notes == ["Here is the plan:", "I will compare them next."]


def test_unquoted_field_reference_reads_like_a_quoted_one() -> None:
    quoted = parse('1. lookup("k")\n2. math("f", context=["$1.celsius", "${1}[0]"])\n3. join()')
    bare = parse('1. lookup("k")\n2. math("f", context=[$1.celsius, ${1}[0]])\n3. join()')
    assert bare == quoted
    assert bare[1].args["context"] == ["$1.celsius", "${1}[0]"]
