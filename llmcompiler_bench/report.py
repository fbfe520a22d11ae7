"""The terminal report: what this run measured (ours, the baselines, the bound T*, and with
`--peers` other implementations on the same items), beside the paper's published figures,
which are labelled as such and were not measured here."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.console import Console
from rich.table import Table

from llmcompiler_bench.optimizations import OPTIMIZATIONS, Effect, OptimizationSummary
from llmcompiler_bench.peers import PeersResult, missing_original
from llmcompiler_bench.peers.registry import ORIGINAL_REPOSITORY
from llmcompiler_bench.peers.summary import FASTER_BY, PeerSummary, skipped
from llmcompiler_bench.personas import PERSONAS
from llmcompiler_bench.published import PAPER
from llmcompiler_bench.runner import Settings
from llmcompiler_bench.stages import StageSummary
from llmcompiler_bench.summary import Stat, WorkloadSummary
from llmcompiler_bench.systems import (
    BASELINE_SYSTEMS,
    LLMCOMPILER,
    PLAN_FIRST,
    REACT,
    REACT_PARALLEL,
    SQLITE,
    System,
)
from llmcompiler_bench.workloads import WORKLOADS
from llmcompiler_scripted.timing import CHARS_PER_TOKEN, ModelProfile

DASH = "—"


def fmt(value: Stat | float | None, spec: str = ".2f", suffix: str = "") -> str:
    """`median [min–max]` for a spread, the bare number otherwise, a dash when unmeasured."""
    if value is None:
        return DASH
    if isinstance(value, Stat):
        text = f"{value.median:{spec}}{suffix}"
        if value.n > 1 and value.low != value.high:
            text += f" [{value.low:{spec}}–{value.high:{spec}}]"
        return text
    return f"{value:{spec}}{suffix}"


def describe_profile(profile: ModelProfile) -> str:
    return (
        f"{profile.name}: {profile.ttft_s:.2f} s to first token, prefill "
        f"{profile.prefill_tok_per_s:,.0f} tok/s, decode {profile.decode_tok_per_s:,.0f} tok/s, "
        f"${profile.price_in_per_m:g} / ${profile.price_out_per_m:g} per 1M input / output "
        f"tokens; tokens ≈ characters / {CHARS_PER_TOKEN}"
    )


def header(console: Console, settings: Settings, *, live: str | None = None) -> None:
    if live:
        console.print(
            f"[bold]LLMCompiler benchmark — LIVE model {live}[/bold] (real latency, tokens "
            f"and accuracy on {settings.workloads[0]})"
        )
    else:
        console.print(
            "[bold]LLMCompiler benchmark — SIMULATED models[/bold] (scripted replies streamed "
            "with the profile's timing through the real graphs; seeded tool latencies)"
        )
        console.print(f"profile {describe_profile(settings.profile)}")
        persona = PERSONAS[settings.persona]
        console.print(f"persona {persona.name}: {persona.description}")
    console.print(
        f"time scale {settings.time_scale:g} · {settings.n} item(s) per workload × "
        f"{settings.repeats} repeat(s) · seed {settings.seed} · figures are medians "
        "\\[min–max] over items × repeats"
    )
    if settings.quick:
        console.print(
            "[bold yellow]QUICK RUN[/bold yellow]: one item per workload at time scale "
            f"{settings.time_scale:g}; fixed costs (and the peers' fixed polling intervals) "
            "weigh more at small scales, so compare figures at one scale. Full run: "
            "`llmcompiler bench`."
        )


def _columns(table: Table, *names: str) -> Table:
    for name in names:
        left = name in ("workload", "vs", "system", "target")
        table.add_column(name, justify="left" if left else "right")
    return table


def _median(values: dict[str, Stat], system: System) -> float | None:
    found = values.get(system.name)
    return found.median if found else None


def systems_table(summaries: Sequence[WorkloadSummary]) -> Table:
    """Per workload and system: latency with its spread, LLM calls, tokens, cost, answers."""
    table = _columns(
        Table(title="Per system: medians per item", title_justify="left"),
        "workload",
        "system",
        "latency (s) [min–max]",
        "first answer token (s)",
        "LLM calls",
        "input tokens",
        "output tokens",
        "cost (USD)",
        "correct",
    )
    for s in summaries:
        shown = [system for system in BASELINE_SYSTEMS if system.name in s.latency]
        for number, system in enumerate(shown):
            right, runs = s.correct.get(system.name, (0, 0))
            table.add_row(
                s.workload if number == 0 else "",
                system.label,
                fmt(s.latency.get(system.name)),
                fmt(_median(s.first_answer, system)),
                fmt(_median(s.llm_calls, system), ".0f"),
                fmt(_median(s.input_tokens, system), ",.0f"),
                fmt(_median(s.output_tokens, system), ",.0f"),
                fmt(_median(s.cost_usd, system), ".5f"),
                f"{right}/{runs}",
                end_section=number == len(shown) - 1,
            )
    table.caption = (
        "first answer token: when the final answer's first text reached a `messages` stream "
        "client (LLMCompiler: the joiner's answer stream, or the whole answer at once when "
        "join(final=…) skips the joiner; ReAct: its final turn's first token)."
    )
    return table


def bound_table(summaries: Sequence[WorkloadSummary]) -> Table:
    """LLMCompiler against its bound, and its token and cost ratios to sequential ReAct."""
    table = _columns(
        Table(title="LLMCompiler against the bound T* and ReAct's bill", title_justify="left"),
        "workload",
        "T* (s)",
        "makespan / T*",
        "overhead ms/task",
        "input tokens ÷ ReAct's",
        "cost: ReAct's ÷ ours",
        "paper",
    )
    for s in summaries:
        paper = PAPER.get(s.workload)
        table.add_row(
            s.workload,
            fmt(s.bound_s),
            fmt(s.bound_ratio),
            fmt(s.overhead_ms.get(LLMCOMPILER.name), ".1f"),
            fmt(s.input_ratio),
            fmt(s.cost_ratio, ".2f", "x"),
            fmt(paper.cost_reduction if paper else None, ".2f", "x"),
        )
    table.caption = (
        "makespan / T*: 1.00 is a run at the bound; overhead = (makespan − T*) ÷ tasks. "
        "paper: its published cost reduction vs ReAct (Table 1; not measured here)."
    )
    return table


def _tokens(tokens_in: Stat | None, tokens_out: Stat | None) -> str:
    """`input → output` medians, a dash for a stage the runs did not reach."""
    if tokens_in is None or tokens_out is None:
        return DASH
    return f"{tokens_in.median:,.0f} → {tokens_out.median:,.0f}"


def _seconds(value: Stat | None) -> str:
    return fmt(value.median if value else None)


def stages_table(summaries: Sequence[StageSummary]) -> Table:
    """Per workload and system: each stage's tokens and seconds, from this run's records."""
    table = _columns(
        Table(
            title="Where the time goes, per stage: medians per item (tokens in → out; seconds)",
            title_justify="left",
        ),
        "workload",
        "system",
        "LLM\ncalls",
        "planner\ntokens",
        "joiner\ntokens",
        "planner\nfirst token",
        "plan\ndecode",
        "tools after\nthe plan",
        "joiner",
        "latency",
    )
    for workload in dict.fromkeys(s.workload for s in summaries):
        rows = [s for s in summaries if s.workload == workload]
        for number, s in enumerate(rows):
            table.add_row(
                workload if number == 0 else "",
                s.label,
                fmt(s.llm_calls.median if s.llm_calls else None, "g"),
                _tokens(s.planner_input_tokens, s.planner_output_tokens),
                _tokens(s.joiner_input_tokens, s.joiner_output_tokens),
                _seconds(s.planner_first_token_s),
                _seconds(s.plan_decode_s),
                _seconds(s.after_plan_s),
                _seconds(s.joiner_s),
                _seconds(s.latency_s),
                end_section=number == len(rows) - 1,
            )
    table.caption = (
        "Each run's stages summed over its rounds, then medians over items (they need not add "
        "up to the latency). tokens: the planner's (joiner's) calls, input → output; — no "
        "joiner call (a direct answer). planner first token: planner start → its first token "
        "(time to first token + prefill); plan decode: first token → planner end; tools after "
        "the plan: planner end → joiner start (→ the run's end without a joiner): tools still "
        "running, plus the hand-off; joiner: its start → end. Ours: the callbacks' spans; "
        "peers: the scripted server's log (each call's arrival, and when its first and last "
        "tokens were due)."
    )
    return table


SpeedupRow = tuple[System, Stat | None, Stat | None, float | None]
"""Baseline, our speedup, its ceiling, the paper's published one."""


def speedup_table(summaries: Sequence[WorkloadSummary]) -> Table:
    table = _columns(
        Table(title="Speedup of LLMCompiler (baseline latency ÷ ours)", title_justify="left"),
        "workload",
        "vs",
        "ours",
        "ceiling",
        "paper (published)",
    )
    for s in summaries:
        paper = PAPER.get(s.workload)
        rows: tuple[SpeedupRow, ...] = (
            (REACT, s.speedup_react, s.ceiling_react, paper.speedup_react if paper else None),
            (
                REACT_PARALLEL,
                s.speedup_parallel,
                s.ceiling_parallel,
                paper.speedup_parallel if paper else None,
            ),
            (PLAN_FIRST, s.streaming_gain, None, paper.streaming_gain if paper else None),
        )
        for number, (baseline, ours, ceiling, published) in enumerate(rows):
            table.add_row(
                s.workload if number == 0 else "",
                baseline.label,
                fmt(ours, ".2f", "x"),
                fmt(ceiling, ".2f", "x"),
                fmt(published, ".2f", "x"),
                end_section=number == len(rows) - 1,
            )
    table.caption = (
        "ceiling: the baseline's latency ÷ T*, i.e. our speedup if we ran exactly at the "
        "bound. paper (published): Kim et al., ICML 2024, Tables 1–2, on real GPT models, "
        "not measured here; vs parallel calls it is derived (its speedup over ReAct ÷ OpenAI "
        "parallel function calling's: 1.61x hotpotqa, 2.76x movie); vs plan-then-run it is "
        "the gain of the streaming planner. Other implementations measured in this run: "
        "`--peers`."
    )
    return table


def _change(
    values: tuple[Stat | None, Stat | None],
    spec: str = ".2f",
    saved: Stat | None = None,
    share: Stat | None = None,
) -> str:
    """`without → with`, medians, and the paired saving as a change (−0.31 s, −12%)."""
    before, after = values
    if before is None or after is None:
        return DASH
    text = f"{before.median:{spec}} → {after.median:{spec}}"
    if saved is not None:
        text += f" ({-saved.median:+{spec}}"
        text += f", {-share.median:+.0%})" if share is not None else ")"
    return text


def optimizations_table(summaries: Sequence[OptimizationSummary]) -> Table:
    """A column per optimization, per workload the figures without it → with it."""
    table = _columns(
        Table(
            title="Compiler optimizations: LLMCompiler without → with each (same items and "
            "tool latencies)",
            title_justify="left",
        ),
        "workload",
        "figure",
    )
    for optimization in OPTIMIZATIONS:
        table.add_column(f"{optimization.label}\n{optimization.what}", justify="right")
    rows: list[tuple[str, Callable[[Effect], str]]] = [
        ("items", lambda e: str(e.items)),
        (
            "latency (s)",
            lambda e: _change(e.latency, ".2f", e.latency_saved, e.latency_saved_share),
        ),
        (
            "first answer token (s)",
            lambda e: _change(e.first_answer, ".2f", e.first_answer_saved),
        ),
        ("LLM calls", lambda e: _change(e.llm_calls, ".0f")),
        ("tool calls run", lambda e: _change(e.tool_calls, ".0f")),
        ("results reused", lambda e: fmt(e.reused, ".0f")),
        ("correct", lambda e: " → ".join(f"{right}/{runs}" for right, runs in e.correct)),
    ]
    for s in summaries:
        shown = rows if s.effects else rows[:1]  # nothing measured: one line says so
        for number, (figure, cell) in enumerate(shown):
            cells = []
            for optimization in OPTIMIZATIONS:
                found = s.effects.get(optimization.field)
                cells.append(cell(found) if found else "no item applies" if number == 0 else DASH)
            table.add_row(
                s.workload if number == 0 else "",
                figure,
                *cells,
                end_section=number == len(shown) - 1,
            )
    table.caption = (
        "Medians per item; in parentheses the change (with − without), paired per item. Each "
        "optimization runs on the first items of the workload it can act on: repeated calls of "
        "a pure tool (dedup), pure tools (cache), a plan ending join(final=…) (direct answer). "
        "results reused: tasks answered from an identical call or the cache, not run."
    )
    return table


def stress_table(summaries: Sequence[WorkloadSummary]) -> Table:
    table = _columns(
        Table(
            title="Engine overhead on 1,000 zero-latency tasks (models stream instantly)",
            title_justify="left",
        ),
        "workload",
        "makespan (s)",
        "overhead ms/task",
        "with AsyncSqliteSaver (s)",
        "overhead ms/task",
        "correct",
    )
    for s in summaries:
        table.add_row(
            s.workload,
            fmt(s.latency.get(LLMCOMPILER.name)),
            fmt(s.overhead_ms.get(LLMCOMPILER.name)),
            fmt(s.latency.get(SQLITE.name)),
            fmt(s.overhead_ms.get(SQLITE.name)),
            " · ".join(f"{k}/{n}" for k, n in s.correct.values()),
        )
    return table


def peers_table(
    summaries: Sequence[WorkloadSummary],
    peer_summaries: Sequence[PeerSummary],
    peers: PeersResult,
) -> Table:
    """Ours (on each path it ran) and each peer per workload: latency, speedups over this
    run's ReAct baselines (paired per item), T* from each system's own prompts, and how much
    less time our headline took."""
    table = _columns(
        Table(
            title="Peers: other LLMCompiler implementations in this run (same items, scripted "
            "models, tools and latencies)",
            title_justify="left",
        ),
        "workload",
        "system",
        "models via",
        "latency (s)",
        "vs ReAct",
        "vs parallel calls",
        "T* (s)",
        "latency / T*",
        "LLM calls",
        "input tokens",
        "correct",
        "ours: less time",
    )
    label = {peer.name: peer.label for peer in peers.peers}
    for s in summaries:
        rows: list[tuple[str, ...]] = [
            (
                p.label,
                p.path,
                fmt(p.latency),
                fmt(p.speedup_react, ".2f", "x"),
                fmt(p.speedup_parallel, ".2f", "x"),
                fmt(p.bound_s),
                fmt(p.bound_ratio),
                fmt(p.llm_calls.median if p.llm_calls else None, ".0f"),
                fmt(p.input_tokens.median if p.input_tokens else None, ",.0f"),
                f"{p.correct[0]}/{p.correct[1]}",
                "" if p.ours else fmt(p.ours_saves, ".0%"),
            )
            for p in sorted(
                (p for p in peer_summaries if p.workload == s.workload), key=lambda p: not p.ours
            )
        ]
        for skip in skipped(peers, s.workload):
            if skip.workload is not None:
                rows.append(
                    (label.get(skip.peer, skip.peer), DASH, "not run (see note)", *[DASH] * 8)
                )
        for number, row in enumerate(rows):
            table.add_row(
                s.workload if number == 0 else "", *row, end_section=number == len(rows) - 1
            )
    table.caption = (
        "models via: how each system reached its scripted models: HTTP (a ScriptedOpenAIServer "
        "on loopback, through the system's own OpenAI client; ours: langchain-openai "
        "ChatOpenAI) or in process (ScriptedChatModel). The peers are compared with ours over "
        "HTTP, the same path. latency: median \\[min–max]. vs ReAct / vs parallel calls: speedup "
        f"over this run's {REACT.label} and {REACT_PARALLEL.label} (in process). These and "
        "'ours: less time' (1 − our latency ÷ the peer's) are paired per item and repeat: every "
        "system saw the same tool latencies. T* is one bound for every system, each from its "
        "own planner prompt, plan text and joiner prompt and reply."
    )
    return table


def peer_verdicts(
    summaries: Sequence[WorkloadSummary], peer_summaries: Sequence[PeerSummary]
) -> list[str]:
    """Per workload: our headline against the fastest peer (by median latency), and whether
    ours took at least `FASTER_BY` less time, paired per item."""
    lines = []
    for s in summaries:
        mine = [p for p in peer_summaries if p.workload == s.workload]
        theirs = [p for p in mine if not p.ours and p.latency]
        ours = next((p for p in mine if p.ours), None)
        if not theirs or ours is None or ours.latency is None:
            continue
        fastest = min(theirs, key=lambda p: p.latency.median if p.latency else float("inf"))
        saves = fastest.ours_saves
        verdict = (
            "n/a"
            if saves is None
            else f"{'yes' if saves.median >= FASTER_BY else 'NO'} ({saves.median:.0%} less time)"
        )
        lines.append(
            f"{s.workload}: ours ({ours.path}) {ours.latency.median:.2f} s vs fastest peer "
            f"{fastest.label} {fastest.latency.median if fastest.latency else 0:.2f} s; "
            f"ours at least {FASTER_BY:.0%} faster: {verdict}"
        )
    return lines


def peer_notes(peers: PeersResult, peer_summaries: Sequence[PeerSummary]) -> list[str]:
    """Why a peer or a workload was not run, and the errors of the runs that were."""
    label = {peer.name: peer.label for peer in peers.peers}
    lines = [
        f"{label.get(s.peer, s.peer)} not run"
        + (f" on {s.workload}" if s.workload else "")
        + f": {s.reason}"
        for s in peers.skips
    ]
    if why := missing_original(peers.peers):
        lines.append(f"{ORIGINAL_REPOSITORY} not run: {why}")
    for p in peer_summaries:
        lines += [f"{p.label} on {p.workload}, {error}" for error in p.errors]
    return lines


def notes(summaries: Sequence[WorkloadSummary]) -> list[str]:
    lines = []
    for s in summaries:
        if s.field_access_items:
            lines.append(
                f"{s.workload}: {s.field_access_items} of {s.items} item(s) pass fields of "
                "earlier results (`$N.field`, from NESTFUL's `$varN.field$`); LLMCompiler "
                + (
                    "task failures are listed below"
                    if any("llmcompiler" in n for n in s.notes)
                    else "ran every such task"
                )
            )
        lines += [f"{s.workload}: {note}" for note in s.notes]
    return lines


def render(
    console: Console,
    summaries: Sequence[WorkloadSummary],
    settings: Settings,
    *,
    live: str | None = None,
    optimizations: Sequence[OptimizationSummary] = (),
    peers: PeersResult | None = None,
    peer_summaries: Sequence[PeerSummary] = (),
    stages: Sequence[StageSummary] = (),
) -> None:
    """Print the whole report for `summaries` (stress workloads get their own table; with
    `peers`, the other implementations beside ours; `stages`, where each system's time goes)."""
    header(console, settings, live=live)
    main = [s for s in summaries if not WORKLOADS[s.workload].stress]
    stress = [s for s in summaries if WORKLOADS[s.workload].stress]
    if main:
        console.print(systems_table(main))
        console.print(speedup_table(main))
        if not live:
            console.print(bound_table(main))
    if stages:
        console.print(stages_table(stages))
    if optimizations:
        console.print(optimizations_table(optimizations))
    if stress:
        console.print(stress_table(stress))
    if peers is not None:
        console.print(peers_table(main, peer_summaries, peers))
        for line in peer_verdicts(main, peer_summaries):
            console.print(line, highlight=False, markup=False)
        for line in peer_notes(peers, peer_summaries):
            console.print(f"note: {line}", highlight=False, markup=False)
    for line in notes(summaries):
        console.print(f"note: {line}", highlight=False, markup=False)
