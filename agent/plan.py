"""The plan language: a streaming parser that turns planner text into `Task`s.

`PlanParser` reads the planner's output as it streams and hands out each task the moment its
line is complete, so the scheduler can start it while the model is still writing. It is a
character-level state machine whose decisions depend only on the characters seen so far, so
every way of cutting the text into chunks yields the same tasks as `parse_plan` on the whole
text, and its work grows linearly with the text (each character is looked at a bounded
number of times).

It never guesses in favour of running something (tools send emails and charge cards): a task
is a line that holds exactly one complete call (a trailing `# comment` aside). A string is
opaque until it closes; a line after a `#` or other comment mark is no task; a call whose `)`
never came, or that the end of the model's output cut off, is a task error, not a call; a
line with anything else beside its call is a plan note. Notes are never dropped: the joiner
sees them and can replan. docs/protocol.md states the rules with examples.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any

from langchain_core.tools import BaseTool
from pydantic import BaseModel

from agent.references import find_references
from agent.references import is_exact_reference as _is_exact
from agent.toolset import JOIN, ToolLike, named_tools

_LEAD = r"[ \t]*(?:>[ \t]*)*(?:[-*+][ \t]+)?[*_`]*"
"""What may stand before a task's number: indentation, block quotes, one list bullet, Markdown
emphasis or a backtick. Not `#`, `//`, `--`, `~~` or `<!--`: a commented-out step never runs."""

_START = re.compile(
    rf"{_LEAD}(?:(?:(?i:step)[ \t]*)?([0-9]+)[*_`]*[ \t]*[.):][ \t*_`]*([A-Za-z_][\w.-]*)"
    r"|(join))[ \t]*\("
)
r"""A task line up to its `(`: `N. tool(`, `N) tool(`, `Step N: tool(`, with Markdown emphasis
or backticks around the number or the call (`**1.** \`search(`), or an unnumbered `join(`.
It holds no `(` before its last character, so it is tried once per line, at the first `(`."""

MAX_HEAD = 200
"""A line whose task head (up to the call's `(`) is longer than this is no task (a note)."""

MAX_TASK_INDEX = 1_000_000
"""A larger task number is beyond any plan: the line is a note, never a task (indices are
stored as 64-bit integers by checkpointers)."""

_THOUGHT = re.compile(r"[ \t>*_`#-]*(?i:thought)[*_`]*[ \t]*:[*_`]*")
_END = "<END_OF_PLAN>"
_END_LINE = re.compile(rf"[ \t>*_`-]*{re.escape(_END)}")
_TRAIL_OK = re.compile(r"[ \t*_`]*(?:#.*)?")
"""What may follow a task's `)` on its line: spaces, closing emphasis or backticks, a comment."""

_NOT_A_NOTE = re.compile(r"[\s>*_`#=-]*|[ \t]*```.*|[ \t]*(?i:plan)[ \t]*:?[ \t]*")
"""Lines that carry nothing for the joiner: blank or decoration, Markdown fences, `Plan:`."""

_OPENERS = {"(": ")", "[": "]", "{": "}"}
_UNQUOTED_REF = re.compile(r"\$(?:\{[0-9]+\}|[0-9]+)(?:\.[A-Za-z_]\w*|\[[0-9]+\])*")
_UNQUOTED_REF_PREFIX = re.compile(
    r"\$(?:\{[0-9]*|(?:\{[0-9]+\}|[0-9]+)(?:\.[A-Za-z_]\w*|\[[0-9]+\])*(?:\.|\[[0-9]*)?)?"
)
"""Every beginning of an unquoted reference, field path included."""
_MAX_UNQUOTED_REF = 200

CUT_OFF = "cut off by the end of the model's output: not run"
NOT_CLOSED = "the call's closing ')' is missing (the next line started something else): not run"


class _Mode(Enum):
    IDLE = auto()  # between tasks: reading a line that may become a task
    CALL = auto()  # inside a task's parentheses
    LOOKAHEAD = auto()  # a new line inside an unclosed call: does it start something else?
    TRAIL = auto()  # after a call's `)`, up to the end of its line
    ENDED = auto()  # after `join()` or `<END_OF_PLAN>`: the rest is ignored


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


def _source(code: str, node: ast.AST) -> str:
    """The text of `node` as written, shortened for an error message (never re-rendered:
    `ast.unparse` recurses and a deep expression would overflow the stack)."""
    text = ast.get_source_segment(code, node) or type(node).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _task_head(line: str) -> re.Match[str] | None:
    """`line` (up to its first `(`) as a task's head, if it is one: a sane number (or
    `join`) and a tool name. A longer line is no task (`MAX_HEAD`), nor is an index beyond
    `MAX_TASK_INDEX` (except `join`'s, which is renumbered)."""
    if len(line) > MAX_HEAD:
        return None
    match = _START.fullmatch(line)
    if match is None or match[1] is None or match[2] == JOIN:
        return match
    return match if int(match[1]) <= MAX_TASK_INDEX else None


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
        self._mode = _Mode.IDLE
        self._notes: list[str] = []
        self._notes_taken = 0
        self._skip_lf = False  # the previous character was a `\r`
        self._thought: str | None = None  # pending, for the next task
        # IDLE: the current line, and whether it may still turn out to be a task.
        self._line: list[str] = []
        self._head_open = True
        # The task being read: its number, tool and thought, its text as written (for a
        # note) and its argument text as `ast` will read it.
        self._idx: int | None = None  # None: an unnumbered `join(`
        self._tool = ""
        self._task_thought: str | None = None
        self._raw: list[str] = []
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
        # LOOKAHEAD: the start of the line after a newline inside an unclosed call.
        self._look: list[str] = []
        self._look_from = 0  # where that line starts in `_raw`
        self._look_colon = False  # its first `:` was checked (a `Thought:`?)
        # TRAIL: what follows the call's `)` on its line.
        self._trail: list[str] = []

    def feed(self, chunk: str) -> list[Task]:
        """Consume more text; return the tasks it completed, in order."""
        for char in chunk:
            if char == "\r":
                self._skip_lf = True
                self._consume("\n")
            elif char == "\n" and self._skip_lf:
                self._skip_lf = False
            else:
                self._skip_lf = False
                self._consume(char)
        return self._take()

    def close(self, *, cut_off: bool = False) -> list[Task]:
        """End of stream: finish the last line, and add `join` if it never came.

        A call still open is cut off: a task error, never run. `cut_off=True` says the output
        stopped before the model finished (the token cap, a broken stream): then a call whose
        line had not ended is cut off too, since what followed its `)` is unknown.
        """
        if self._mode is _Mode.LOOKAHEAD:
            self._continue_call()
        if self._mode is _Mode.CALL or (self._mode is _Mode.TRAIL and cut_off):
            self._fail_call(CUT_OFF)
        elif self._mode is _Mode.TRAIL:
            self._end_task_line()
        elif self._mode is _Mode.IDLE:
            self._end_line()
        if self._mode is not _Mode.ENDED:
            self._join(None)
        return self._take()

    @property
    def ended(self) -> bool:
        """The plan has ended (`join()` or `<END_OF_PLAN>`): whatever follows is ignored."""
        return self._mode is _Mode.ENDED

    @property
    def notes(self) -> list[str]:
        """Lines that were neither a task, a `Thought:` nor the plan's end, in order (prose,
        an unreadable line, a call with other text beside it): never dropped in silence,
        the joiner sees them."""
        return list(self._notes)

    def take_notes(self) -> list[str]:
        """The notes found since the last call (for a caller that reports them as they come)."""
        new = self._notes[self._notes_taken :]
        self._notes_taken = len(self._notes)
        return new

    def _take(self) -> list[Task]:
        out, self._out = self._out, []
        return out

    def _consume(self, char: str) -> None:
        if self._mode is _Mode.CALL or self._mode is _Mode.LOOKAHEAD or self._mode is _Mode.TRAIL:
            self._raw.append(char)
        self._step(char)

    def _step(self, char: str) -> None:
        mode = self._mode
        if mode is _Mode.CALL:
            self._call_char(char)
        elif mode is _Mode.IDLE:
            self._idle_char(char)
        elif mode is _Mode.LOOKAHEAD:
            self._lookahead_char(char)
        elif mode is _Mode.TRAIL:
            if char == "\n":
                self._end_task_line()
            else:
                self._trail.append(char)

    # -- between tasks ---------------------------------------------------------------------

    def _idle_char(self, char: str) -> None:
        if char == "\n":
            self._end_line()
            return
        self._line.append(char)
        if not self._head_open:
            return
        if len(self._line) > MAX_HEAD:
            self._head_open = False
        elif char == "(":  # a task head holds no `(` but its last: decide here, once
            self._head_open = False
            line = "".join(self._line)
            match = _task_head(line)
            if match is not None:
                self._line, self._head_open = [], True  # for the line after the task's
                self._start(match, line)

    def _end_line(self) -> None:
        line = "".join(self._line)
        self._line, self._head_open = [], True
        thought = _THOUGHT.match(line)
        if thought is not None:
            text = line[thought.end() :].strip()
            if text:
                self._thought = f"{self._thought} {text}" if self._thought else text
        elif _END not in line and not _NOT_A_NOTE.fullmatch(line):
            self._notes.append(line.strip())
        if _END in line:
            self._join(None)

    def _start(self, match: re.Match[str], line: str) -> None:
        self._mode = _Mode.CALL
        self._idx = None if match[1] is None else int(match[1])
        self._tool = JOIN if match[2] is None else match[2]
        self._task_thought, self._thought = self._thought, None
        self._raw = [line]
        self._text, self._brackets, self._quote = [], [], None
        self._escape = self._maybe_triple = self._comment = False
        self._dollar = None

    def _join(self, idx: int | None, text: str = "", thought: str | None = None) -> None:
        """End the plan; a `join` index that does not increase is renumbered (it never runs).

        `join` takes one optional argument, `final="$N"`: task N's result *is* the answer, so
        the joiner model call can be skipped when it succeeds. Anything else is ignored.
        """
        if idx is None or idx <= self._top or idx > MAX_TASK_INDEX:
            idx = self._top + 1
        deps = sorted(set(self._plan_indices))
        if thought is None:
            thought, self._thought = self._thought, None
        args = {"final": final} if (final := self._final_reference(text)) else {}
        self._out.append(Task(idx=idx, tool=JOIN, args=args, deps=deps, thought=thought))
        self._mode = _Mode.ENDED

    def _final_reference(self, text: str) -> str | None:
        positional, keywords, errors = _parse_arguments(text)
        values = [value for name, value in keywords if name == "final"] or positional[:1]
        if errors or len(values) != 1 or not isinstance(values[0], str):
            return None
        refs, ref_errors = find_references(values[0], self._plan_indices)
        return values[0] if len(refs) == 1 and not ref_errors and _is_exact(values[0]) else None

    # -- inside a call's parentheses -------------------------------------------------------

    def _call_char(self, char: str) -> None:
        if self._maybe_triple:
            self._maybe_triple = False
            if char == self._text[-1]:
                self._open_string(char, triple=True)
                return
        if self._dollar is not None:
            if len(self._dollar) < _MAX_UNQUOTED_REF and self._extends_dollar(char):
                self._dollar += char
                return
            self._flush_dollar()
        if self._quote is not None:
            self._string_char(char)
        elif char == "\n":
            self._comment = False
            self._mode, self._look, self._look_from = _Mode.LOOKAHEAD, [], len(self._raw)
            self._look_colon = False
        elif self._comment:
            return
        elif char == "#":
            self._comment = True
        elif char == "$":
            self._dollar = char
        elif char in "'\"":
            self._open_string(char, triple=False)
        elif char == ")" and not self._brackets:
            if self._tool == JOIN:
                self._join(self._idx, "".join(self._text), self._task_thought)
            else:
                self._mode, self._trail = _Mode.TRAIL, []
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
        """A string is opaque until it closes: no line inside it is a task or the plan's end."""
        empty = len(self._text) == self._string_start
        if char == "\n" and not self._triple and not self._escape:
            self._text.append("\\n")  # lenient: a raw newline inside a one-line literal
            self._run = 0
            return
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
        """A newline inside brackets continues the call, unless the next line starts a task,
        a `Thought:` or the plan's end: then the call was never closed and does not run."""
        if char == "\n" or len(self._look) >= MAX_HEAD:
            self._continue_call()
            self._step(char)
            return
        self._look.append(char)
        if char == "(":  # a task head's only `(` is its last: decided here, once
            if _task_head("".join(self._look)) is not None:
                self._terminate_call()
            else:
                self._continue_call()
        elif char == ":" and not self._look_colon:
            self._look_colon = True
            if _THOUGHT.fullmatch("".join(self._look)):
                self._terminate_call()
        elif (
            char == ">"
            and "".join(self._look[-len(_END) :]) == _END
            and _END_LINE.fullmatch("".join(self._look))
        ):
            self._terminate_call()

    def _continue_call(self) -> None:
        """The line after a newline belongs to the call: take the newline, replay the line."""
        line, self._look = self._look, []
        self._text.append("\n")
        self._mode = _Mode.CALL
        for queued in line:
            self._step(queued)

    def _terminate_call(self) -> None:
        """The next line starts something else: the open call fails, the line is read anew."""
        line, self._look = self._look, []
        del self._raw[self._look_from :]
        self._fail_call(NOT_CLOSED)
        if self._mode is _Mode.ENDED:
            return
        self._mode = _Mode.IDLE
        for queued in line:
            self._step(queued)

    # -- the end of a task's line ----------------------------------------------------------

    def _end_task_line(self) -> None:
        """A task is exactly one call on its line: anything but a comment after its `)`
        makes the whole line a note (`send(...) only if $3 is late` must not run)."""
        self._mode = _Mode.IDLE
        trail = "".join(self._trail)
        if _TRAIL_OK.fullmatch(trail):
            assert self._idx is not None  # only `join` may come without a number
            self._out.append(
                self._build(self._idx, self._tool, "".join(self._text), self._task_thought)
            )
            return
        self._notes.append("".join(self._raw).strip())
        self._thought = self._task_thought  # the thought stays for the next task
        if _END in trail:  # (inside the call's strings it is text)
            self._join(None)

    def _fail_call(self, reason: str) -> None:
        """The call was not written whole: record it as a task error (the joiner sees it)."""
        if self._dollar is not None:
            self._flush_dollar()
        if self._tool == JOIN:
            self._join(self._idx, "", self._task_thought)
            return
        assert self._idx is not None
        text = "".join(self._text)
        if self._quote is not None:
            text += self._quote * (3 if self._triple else 1)
        text += "".join(_OPENERS[b] for b in reversed(self._brackets))
        task = self._build(self._idx, self._tool, text, self._task_thought)
        error = reason if task.error is None else f"{reason}; {task.error}"
        self._out.append(dataclasses.replace(task, error=error))
        self._mode = _Mode.IDLE

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
    code = f"_({text})"
    try:
        with warnings.catch_warnings():  # models write odd escapes ("\("); not our warning
            warnings.simplefilter("ignore")
            call = ast.parse(code, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        reason = exc.msg if isinstance(exc, SyntaxError) else f"{type(exc).__name__}: {exc}"
        return [], [], [f"cannot parse the arguments ({reason})"]
    if not isinstance(call, ast.Call):
        return [], [], ["cannot parse the arguments (not a single call)"]
    positional: list[Any] = []
    keywords: list[tuple[str, Any]] = []
    errors: list[str] = []
    nodes: list[tuple[str | None, ast.expr]] = [(None, node) for node in call.args]
    for keyword in call.keywords:
        if keyword.arg is None:
            errors.append(f"argument unpacking (**{_source(code, keyword.value)}) is not supported")
        else:
            nodes.append((keyword.arg, keyword.value))
    for name, node in nodes:
        if isinstance(node, ast.Starred):
            errors.append(f"argument unpacking ({_source(code, node)}) is not supported")
            continue
        try:
            value = ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            errors.append(f"argument {_source(code, node)} is not a Python literal")
            continue
        try:
            value = _json_value(value)
        except TypeError as exc:
            errors.append(
                f"argument {_source(code, node)} is not JSON data ({exc} is not supported)"
            )
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
    cut_off: bool = False,
) -> list[Task]:
    """Parse a whole plan; the same machinery as streaming, so the results always agree."""
    return read_plan(text, tools, known=known, max_tasks=max_tasks, cut_off=cut_off)[0]


def read_plan(
    text: str,
    tools: Iterable[ToolLike] | Mapping[str, ToolLike],
    *,
    known: Iterable[int] = (),
    max_tasks: int | None = None,
    cut_off: bool = False,
) -> tuple[list[Task], list[str]]:
    """A whole plan's tasks and its notes (the lines that were none of task, `Thought:` or
    the plan's end). `cut_off`: the text stopped before the model finished (see `close`)."""
    parser = PlanParser(tools, known=known, max_tasks=max_tasks)
    tasks = parser.feed(text) + parser.close(cut_off=cut_off)
    return tasks, parser.notes
