"""The plan language: a streaming parser that turns planner text into `Task`s.

`PlanParser` reads the planner's output as it streams and hands out each task the moment its
closing `)` arrives, so the scheduler can start it while the model is still writing. It is a
character-level state machine whose decisions depend only on the characters seen so far (a
line is classified only once enough of it has arrived), so every way of cutting the text into
chunks yields the same tasks as `parse_plan` on the whole text.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.tools import BaseTool
from pydantic import BaseModel

from agent.references import find_references
from agent.references import is_exact_reference as _is_exact
from agent.toolset import JOIN, ToolLike, named_tools

_LEAD = r"[ \t>*_`#-]*"
"""What models put before a plan line: indentation, bullets, quotes, emphasis, backticks."""

_START = re.compile(
    rf"{_LEAD}(?:(?:(?i:step)[ \t]*)?([0-9]+)[*_`]*[ \t]*[.):][ \t*_`]*([A-Za-z_][\w.-]*)"
    r"|(join))[ \t]*\("
)
r"""A task line up to its `(`: `N. tool(`, `N) tool(`, `Step N: tool(`, with Markdown emphasis
or backticks around the number or the call (`**1.** \`search(`), or an unnumbered `join(`."""


def _prefixes(literal: str) -> str:
    """A regex matching every prefix of `literal` (including the empty one)."""
    pattern = ""
    for char in reversed(literal):
        pattern = f"(?:{re.escape(char)}{pattern})?"
    return pattern


_NUMBERED_PREFIX = r"[0-9]+(?:[*_`]*[ \t]*(?:[.):](?:[ \t*_`]*(?:[A-Za-z_][\w.-]*[ \t]*)?)?)?)?"
_START_PREFIX = re.compile(
    rf"{_LEAD}(?:(?i:step)[ \t]*(?:{_NUMBERED_PREFIX})?|(?i:{_prefixes('step')})"
    rf"|{_NUMBERED_PREFIX}|join[ \t]*|{_prefixes(JOIN)})"
)
"""Every beginning of a line that could still turn out to match `_START`."""

_THOUGHT = re.compile(rf"{_LEAD}(?i:thought)[*_`]*[ \t]*:[*_`]*")
_END = "<END_OF_PLAN>"

_TERMINATOR = re.compile(rf"{_START.pattern}|{_THOUGHT.pattern}|[ \t]*{re.escape(_END)}")
"""Lines that end a task whose `)` is missing, even inside brackets or quotes."""

_TERMINATOR_PREFIX = re.compile(
    rf"{_START_PREFIX.pattern}"
    rf"|{_LEAD}(?:(?i:thought)[*_`]*[ \t]*|(?i:{_prefixes('thought')}))"
    rf"|[ \t]*{_prefixes(_END)}"
)
_NOT_A_NOTE = re.compile(r"[\s>*_`#=-]*|[ \t]*```.*|[ \t]*(?i:plan)[ \t]*:?[ \t]*")
"""Lines that carry nothing for the joiner: blank or decoration, Markdown fences, `Plan:`."""

_OPENERS = {"(": ")", "[": "]", "{": "}"}
_UNQUOTED_REF = re.compile(r"\$(?:\{[0-9]+\}|[0-9]+)(?:\.[A-Za-z_]\w*|\[[0-9]+\])*")
_UNQUOTED_REF_PREFIX = re.compile(
    r"\$(?:\{[0-9]*|(?:\{[0-9]+\}|[0-9]+)(?:\.[A-Za-z_]\w*|\[[0-9]+\])*(?:\.|\[[0-9]*)?)?"
)
"""Every beginning of an unquoted reference, field path included."""

_IDLE, _TASK, _LOOKAHEAD, _TRAIL, _ENDED = range(5)


@dataclass(frozen=True)
class Task:
    """One planned tool call; `error` is set (and the task never runs) when it fails a check."""

    idx: int
    tool: str
    args: dict[str, Any]  # by parameter name, references kept as written
    deps: list[int]  # sorted indices of the earlier tasks it references
    thought: str | None = None
    error: str | None = None

    @property
    def is_join(self) -> bool:
        """The plan's final `join`, which the scheduler does not run as a tool."""
        return self.tool == JOIN


def _signature(tool: BaseTool) -> tuple[tuple[str, ...], frozenset[str]]:
    """Parameter names in order and the required ones, from the schema the model sees."""
    schema = tool.tool_call_schema
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        fields = schema.model_fields
        return tuple(fields), frozenset(n for n, f in fields.items() if f.is_required())
    json_schema = schema if isinstance(schema, dict) else schema.schema()  # dict or pydantic v1
    return tuple(json_schema.get("properties", {})), frozenset(json_schema.get("required", ()))


def _source(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


class PlanParser:
    """Incremental parser of one plan; feed it chunks, then `close()` it once."""

    def __init__(
        self,
        tools: Iterable[ToolLike] | Mapping[str, ToolLike],
        *,
        known: Iterable[int] = (),
        max_tasks: int | None = None,
    ) -> None:
        self._signatures = {name: _signature(t) for name, t in named_tools(tools).items()}
        self._earlier = set(known)  # valid reference targets: known plus this plan's tasks
        self._top = max(self._earlier, default=0)
        self._plan_indices: list[int] = []  # this plan's tasks so far, errors included
        self._max_tasks = max_tasks
        self._out: list[Task] = []
        self._mode = _IDLE
        self.notes: list[str] = []
        self.notes_emitted = 0  # how many notes a caller has reported so far
        """Lines that were neither a task, a `Thought:` nor the plan's end, in order (prose,
        an unreadable line): never dropped in silence, the joiner sees them."""
        self._skip_lf = False  # the previous character was a `\r`
        self._thought: str | None = None  # pending, for the next task
        # IDLE: the current line; `_head` grows only while the line may still start a task.
        self._line: list[str] = []
        self._head: str | None = ""
        # TASK: the line's index, tool and thought, and the argument text seen so far.
        self._idx: int | None = None  # None: an unnumbered `join(`
        self._tool = ""
        self._task_thought: str | None = None
        self._text: list[str] = []
        self._brackets: list[str] = []
        self._quote: str | None = None  # the open string's quote character
        self._triple = False
        self._escape = False
        self._string_start = 0  # where the open string's content starts in `_text`
        self._run = 0  # consecutive quote characters inside a triple-quoted string
        self._maybe_triple = False  # an empty string just closed: `""` + `"` opens `"""`
        self._comment = False
        self._dollar: str | None = None  # an unquoted `$N` / `${N}` being read
        # LOOKAHEAD: the start of the line after a newline inside an unclosed task.
        self._lookahead = ""

    def feed(self, chunk: str) -> list[Task]:
        """Consume more text; return the tasks it completed, in order."""
        for char in chunk:
            if char == "\r":
                self._skip_lf = True
                self._step("\n")
            elif char == "\n" and self._skip_lf:
                self._skip_lf = False
            else:
                self._skip_lf = False
                self._step(char)
        return self._take()

    @property
    def ended(self) -> bool:
        """The plan has ended (`join()` or `<END_OF_PLAN>`): whatever follows is ignored."""
        return self._mode == _ENDED

    def close(self) -> list[Task]:
        """End of stream: finish the last line and task, and add `join` if it never came."""
        while self._mode == _LOOKAHEAD:
            self._continue_task()
        if self._mode == _TASK:
            self._finish_task(closed=False)
        elif self._mode == _IDLE:
            self._end_line()
        if self._mode != _ENDED:
            self._join(None)
        return self._take()

    def _take(self) -> list[Task]:
        out, self._out = self._out, []
        return out

    def _step(self, char: str) -> None:
        if self._mode == _TASK:
            self._task_char(char)
        elif self._mode == _IDLE:
            self._idle_char(char)
        elif self._mode == _LOOKAHEAD:
            self._lookahead_char(char)
        elif self._mode == _TRAIL and char == "\n":
            self._mode = _IDLE  # the rest of a task's line (comment or prose) is ignored

    # -- between tasks ---------------------------------------------------------------------

    def _idle_char(self, char: str) -> None:
        if char == "\n":
            self._end_line()
            return
        self._line.append(char)
        if self._head is None:
            return
        self._head += char
        match = _START.fullmatch(self._head)
        if match is not None:
            self._line, self._head = [], ""
            self._start(match)
        elif not _START_PREFIX.fullmatch(self._head):
            self._head = None

    def _end_line(self) -> None:
        line = "".join(self._line)
        self._line, self._head = [], ""
        thought = _THOUGHT.match(line)
        if thought is not None:
            text = line[thought.end() :].strip()
            if text:
                self._thought = f"{self._thought} {text}" if self._thought else text
        elif _END not in line and not _NOT_A_NOTE.fullmatch(line):
            self.notes.append(line.strip())
        if _END in line:
            self._join(None)

    def _start(self, match: re.Match[str]) -> None:
        self._mode = _TASK
        self._idx = None if match[1] is None else int(match[1])
        self._tool = JOIN if match[2] is None else match[2]
        self._task_thought, self._thought = self._thought, None
        self._text, self._brackets, self._quote = [], [], None
        self._escape = self._maybe_triple = self._comment = False
        self._dollar = None

    def _join(self, idx: int | None, text: str = "", thought: str | None = None) -> None:
        """End the plan; a `join` index that does not increase is renumbered (it never runs).

        `join` takes one optional argument, `final="$N"`: task N's result *is* the answer, so
        the joiner model call can be skipped when it succeeds. Anything else is ignored.
        """
        if idx is None or idx <= self._top:
            idx = self._top + 1
        deps = sorted(set(self._plan_indices))
        if thought is None:
            thought, self._thought = self._thought, None
        args = {"final": final} if (final := self._final_reference(text)) else {}
        self._out.append(Task(idx=idx, tool=JOIN, args=args, deps=deps, thought=thought))
        self._mode = _ENDED

    def _final_reference(self, text: str) -> str | None:
        positional, keywords, errors = _parse_arguments(text)
        values = [value for name, value in keywords if name == "final"] or positional[:1]
        if errors or len(values) != 1 or not isinstance(values[0], str):
            return None
        refs, ref_errors = find_references(values[0], self._plan_indices)
        return values[0] if len(refs) == 1 and not ref_errors and _is_exact(values[0]) else None

    # -- inside a task's parentheses -------------------------------------------------------

    def _task_char(self, char: str) -> None:
        if self._maybe_triple:
            self._maybe_triple = False
            if char == self._text[-1]:
                self._open_string(char, triple=True)
                return
        if self._dollar is not None:
            if self._extends_dollar(char):
                self._dollar += char
                return
            self._flush_dollar()
        if char == "\n":
            self._mode, self._lookahead = _LOOKAHEAD, ""
        elif self._quote is not None:
            self._string_char(char)
        elif self._comment:
            return
        elif char == "#":
            self._comment = True
        elif char == "$":
            self._dollar = char
        elif char in "'\"":
            self._open_string(char, triple=False)
        elif char == ")" and not self._brackets:
            self._finish_task(closed=True)
            if self._mode != _ENDED:
                self._mode = _TRAIL
        else:
            self._text.append(char)
            if char in _OPENERS:
                self._brackets.append(char)
            elif char in ")]}" and self._brackets:
                self._brackets.pop()

    def _open_string(self, quote: str, *, triple: bool) -> None:
        self._text.append(quote)
        self._quote, self._triple, self._escape, self._run = quote, triple, False, 0
        self._string_start = len(self._text)

    def _string_char(self, char: str) -> None:
        empty = len(self._text) == self._string_start
        self._text.append(char)
        if self._escape:
            self._escape = False
        elif char == "\\":
            self._escape, self._run = True, 0
        elif char != self._quote:
            self._run = 0
        elif not self._triple:
            self._quote, self._maybe_triple = None, empty
        else:
            self._run += 1
            if self._run == 3:
                self._quote = None

    def _extends_dollar(self, char: str) -> bool:
        """Whether `char` continues an unquoted reference: `$N`, `${N}`, then a field path
        (`.name`, `[0]`), so that `$1.celsius` reads as `"$1.celsius"`."""
        return _UNQUOTED_REF_PREFIX.fullmatch((self._dollar or "") + char) is not None

    def _flush_dollar(self) -> None:
        """Quote an unquoted `$N` / `${N}` (lenient for models that forget the quotes)."""
        token, self._dollar = self._dollar or "", None
        match = _UNQUOTED_REF.match(token)
        if match is None:
            self._text.append(token)
        else:  # a trailing `.` or `[` that led nowhere is text again
            self._text.append(f'"{match.group(0)}"{token[match.end() :]}')

    def _lookahead_char(self, char: str) -> None:
        self._lookahead += char
        if _TERMINATOR.fullmatch(self._lookahead):
            line, self._lookahead = self._lookahead, ""
            self._finish_task(closed=False)
            if self._mode == _ENDED:
                return
            self._mode = _IDLE
            for queued in line:
                self._step(queued)
        elif not _TERMINATOR_PREFIX.fullmatch(self._lookahead):
            self._continue_task()

    def _continue_task(self) -> None:
        """The line after a newline belongs to the task: take the newline, replay the line."""
        line, self._lookahead = self._lookahead, ""
        if self._quote is not None and not self._triple and not self._escape:
            self._text.append("\\n")  # lenient: a raw newline inside a one-line string literal
        else:
            self._text.append("\n")
        self._escape = self._comment = False
        self._run = 0
        self._mode = _TASK
        for queued in line:
            self._step(queued)

    def _finish_task(self, *, closed: bool) -> None:
        """Turn the collected argument text into a Task; an unclosed one is closed for it."""
        if self._dollar is not None:
            self._flush_dollar()
        text = "".join(self._text)
        if not closed:
            if self._quote is not None:
                text += self._quote * (3 if self._triple else 1)
            text += "".join(_OPENERS[b] for b in reversed(self._brackets))
        if self._tool == JOIN:
            self._join(self._idx, text, self._task_thought)
        else:
            assert self._idx is not None  # only `join` may come without a number
            self._out.append(self._build(self._idx, self._tool, text, self._task_thought))

    # -- static checks ---------------------------------------------------------------------

    def _build(self, idx: int, tool: str, text: str, thought: str | None) -> Task:
        errors: list[str] = []
        if idx in self._earlier:
            errors.append(f"duplicate index {idx}")
        elif idx < self._top:
            errors.append(f"index {idx} does not increase (an earlier task has index {self._top})")
        signature = self._signatures.get(tool)
        if signature is None:
            known_tools = ", ".join(sorted(self._signatures)) or "none"
            errors.append(f"unknown tool '{tool}' (known tools: {known_tools})")

        positional, keywords, parse_errors = _parse_arguments(text)
        errors.extend(parse_errors)
        args: dict[str, Any] = {}
        if not parse_errors:
            args, bind_errors = _bind(tool, signature, positional, keywords)
            errors.extend(bind_errors)
        values = [*positional, *(value for _, value in keywords)]
        refs, ref_errors = find_references(values, self._earlier)
        errors.extend(ref_errors)

        self._plan_indices.append(idx)
        self._earlier.add(idx)
        self._top = max(self._top, idx)
        if self._max_tasks is not None and len(self._plan_indices) > self._max_tasks:
            errors = [f"plan exceeds max_tasks_per_plan ({self._max_tasks})"]
        return Task(
            idx=idx,
            tool=tool,
            args=args,
            deps=sorted(refs),
            thought=thought,
            error="; ".join(errors) or None,
        )


def _parse_arguments(text: str) -> tuple[list[Any], list[tuple[str, Any]], list[str]]:
    """Literal values of the call's arguments, via `ast` only (never eval)."""
    try:
        with warnings.catch_warnings():  # models write odd escapes ("\("); not our warning
            warnings.simplefilter("ignore")
            call = ast.parse(f"_({text})", mode="eval").body
    except (SyntaxError, ValueError) as exc:
        reason = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        return [], [], [f"cannot parse the arguments ({reason})"]
    if not isinstance(call, ast.Call):
        return [], [], ["cannot parse the arguments (not a single call)"]
    positional: list[Any] = []
    keywords: list[tuple[str, Any]] = []
    errors: list[str] = []
    nodes: list[tuple[str | None, ast.expr]] = [(None, node) for node in call.args]
    for keyword in call.keywords:
        if keyword.arg is None:
            errors.append(f"argument unpacking (**{_source(keyword.value)}) is not supported")
        else:
            nodes.append((keyword.arg, keyword.value))
    for name, node in nodes:
        if isinstance(node, ast.Starred):
            errors.append(f"argument unpacking ({_source(node)}) is not supported")
            continue
        try:
            value = ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            errors.append(f"argument {_source(node)} is not a Python literal")
            continue
        try:
            value = _json_value(value)
        except TypeError as exc:
            errors.append(f"argument {_source(node)} is not JSON data ({exc} is not supported)")
            continue
        if name is None:
            positional.append(value)
        else:
            keywords.append((name, value))
    return positional, keywords, errors


def _json_value(value: Any) -> Any:
    """`value` with tuples as lists, so args are plain JSON data for state, events and resumes.

    Raises TypeError naming what JSON cannot hold (sets, bytes, complex numbers, tuple keys).
    """
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {_json_key(key): _json_value(item) for key, item in value.items()}
    if value is None or isinstance(value, str | int | float):
        return value
    raise TypeError(f"a {type(value).__name__} value")


def _json_key(key: Any) -> Any:
    if key is None or isinstance(key, str | int | float):
        return key
    raise TypeError(f"a {type(key).__name__} dict key")


def _bind(
    tool: str,
    signature: tuple[tuple[str, ...], frozenset[str]] | None,
    positional: list[Any],
    keywords: list[tuple[str, Any]],
) -> tuple[dict[str, Any], list[str]]:
    """Arguments by parameter name, like a Python call would bind them."""
    if signature is None:  # unknown tool: positional arguments keep their place as a name
        return {**{f"arg{i}": value for i, value in enumerate(positional, 1)}, **dict(keywords)}, []
    params, required = signature
    errors: list[str] = []
    if len(positional) > len(params):
        errors.append(
            f"{tool} takes {len(params)} positional argument(s) but {len(positional)} were given"
        )
    args = dict(zip(params, positional, strict=False))
    for name, value in keywords:
        if name in args:
            errors.append(f"{tool} got multiple values for argument '{name}'")
            continue
        if name not in params:
            errors.append(
                f"{tool} has no parameter '{name}' (parameters: {', '.join(params) or 'none'})"
            )
        args[name] = value
    missing = [name for name in params if name in required and name not in args]
    if missing:
        errors.append(f"{tool} is missing required argument(s): {', '.join(missing)}")
    return args, errors


def parse_plan(
    text: str,
    tools: Iterable[ToolLike] | Mapping[str, ToolLike],
    *,
    known: Iterable[int] = (),
    max_tasks: int | None = None,
) -> list[Task]:
    """Parse a whole plan; the same machinery as streaming, so the results always agree."""
    return read_plan(text, tools, known=known, max_tasks=max_tasks)[0]


def read_plan(
    text: str,
    tools: Iterable[ToolLike] | Mapping[str, ToolLike],
    *,
    known: Iterable[int] = (),
    max_tasks: int | None = None,
) -> tuple[list[Task], list[str]]:
    """A whole plan's tasks and its notes (the lines that were none of task, `Thought:` or
    the plan's end)."""
    parser = PlanParser(tools, known=known, max_tasks=max_tasks)
    tasks = parser.feed(text) + parser.close()
    return tasks, parser.notes
