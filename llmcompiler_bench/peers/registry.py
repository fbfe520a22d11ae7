"""The peers: other LLMCompiler implementations, each pinned, with what it cannot run and why.

Two install from PyPI by a pinned name. The original research code
(github.com/SqueezeAILab/LLMCompiler) is a repository of scripts, not a package: it runs from a
checkout the user names (`--original PATH`, `original`), with a venv built from the checkout's
own requirements file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llmcompiler_bench.peers.dialects import LLAMA_INDEX, ORIGINAL, PYPI, Dialect

SCRIPTS = Path(__file__).parent / "scripts"
REQUIREMENTS = "requirements.txt"


@dataclass(frozen=True)
class Peer:
    """One implementation: where it comes from, how it is driven, what it cannot run.

    `name` names its folder (`.peers/<name>/.venv`) and its results; `requirement` is what
    is installed (a pinned name on PyPI, or the checkout's requirements file); `module` is
    imported once after installation to check it; `script` is its adapter in `scripts/`.
    """

    name: str
    label: str
    requirement: str
    module: str
    script: str
    dialect: Dialect
    unsupported: Mapping[str, str] = field(default_factory=dict)
    """Workload → why this peer cannot run it (printed when skipped)."""
    source: Path | None = None
    """A checkout the peer is imported from (on the adapter's PYTHONPATH, and the import
    check's); its venv is built from the checkout's requirements file. None: from PyPI."""
    pins: tuple[str, ...] = ()
    """Installed with it: what its own pins leave open and today's releases broke."""

    @property
    def script_path(self) -> Path:
        return SCRIPTS / self.script

    @property
    def install(self) -> tuple[str, ...]:
        """The arguments of `pip install`."""
        if self.source is None:
            return (self.requirement, *self.pins)
        return ("-r", str(self.source / REQUIREMENTS), *self.pins)

    def stamp(self) -> str:
        """What the venv was made from: a change (another checkout, edited pins) rebuilds it."""
        text = " ".join(self.install)
        if self.source is not None:
            text += "\n" + (self.source / REQUIREMENTS).read_text(encoding="utf-8").strip()
        return text


PYPI_LLMCOMPILER = Peer(
    name="pypi-llmcompiler",
    label="PyPI llmcompiler 2.0.1",
    requirement="llmcompiler==2.0.1",
    module="llmcompiler.chat.run",
    script="pypi_llmcompiler.py",
    dialect=PYPI,
)

LLAMA_INDEX_PACK = Peer(
    name="llamaindex-pack",
    label="llama-index pack 0.3.1",
    requirement="llama-index-packs-agents-llm-compiler==0.3.1",
    module="llama_index.packs.agents_llm_compiler",
    script="llamaindex_pack.py",
    dialect=LLAMA_INDEX,
    unsupported={
        "nestful": "its plan language has no field access: it replaces `$N` by the text of "
        "result N (`str(observation)`), so `$1.skyId` becomes the whole result followed by "
        "`.skyId`, and its prompt allows positional arguments only",
    },
)

PEERS = (PYPI_LLMCOMPILER, LLAMA_INDEX_PACK)
"""The peers every `--peers` run installs from PyPI."""

ORIGINAL_REPOSITORY = "SqueezeAILab/LLMCompiler"
ORIGINAL_COMMIT = "a00c9d3"
"""The commit the adapter was written and run against."""
ORIGINAL_FILES = (REQUIREMENTS, "src/llm_compiler/llm_compiler.py", "configs/hotpotqa/configs.py")
"""What a folder must hold to be a checkout of the original."""
NO_CHECKOUT = (
    f"no checkout given (`--original PATH` names a checkout of github.com/{ORIGINAL_REPOSITORY}, "
    f"commit {ORIGINAL_COMMIT}; it is a repository of scripts, not a package on PyPI)"
)
ORIGINAL_NESTFUL = (
    "it has no configuration (prompts, examples) for it, and no field access: it replaces `$N` "
    "by the text of result N"
)


def not_a_checkout(folder: Path) -> str | None:
    """Why `folder` is not a checkout of the original, or None when it is one."""
    missing = [name for name in ORIGINAL_FILES if not (folder / name).is_file()]
    if missing:
        return (
            f"--original {folder} is not a checkout of {ORIGINAL_REPOSITORY}: "
            f"no {', '.join(missing)}"
        )
    return None


def original(checkout: Path) -> Peer:
    """The original research code, run from `checkout` (its venv from its own pins, plus
    `httpx<0.28`: openai 1.3.7 passes httpx a `proxies` argument that httpx 0.28 removed)."""
    return Peer(
        name="original",
        label=f"original ({ORIGINAL_REPOSITORY})",
        requirement=f"{REQUIREMENTS} of {checkout.resolve()}",
        module="src.llm_compiler.llm_compiler",
        script="original_llmcompiler.py",
        dialect=ORIGINAL,
        unsupported={"nestful": ORIGINAL_NESTFUL},
        source=checkout.resolve(),
        pins=("httpx<0.28",),
    )


def missing_original(peers: Sequence[Peer]) -> str | None:
    """Why the original is not among `peers`, or None when it is."""
    return None if any(p.source is not None for p in peers) else NO_CHECKOUT
