"""The peers: other pip-installable LLMCompiler implementations, each pinned, with what it
cannot run and why.

The original research code (github.com/SqueezeAILab/LLMCompiler) is not here: it is a
repository of scripts, not a package on PyPI, so it cannot be installed by a pinned name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from llmcompiler_bench.peers.dialects import LLAMA_INDEX, PYPI, Dialect

SCRIPTS = Path(__file__).parent / "scripts"


@dataclass(frozen=True)
class Peer:
    """One implementation: where it comes from, how it is driven, what it cannot run.

    `name` names its folder (`.peers/<name>/.venv`) and its results; `module` is imported once
    after installation to check it; `script` is its adapter in `scripts/`.
    """

    name: str
    label: str
    requirement: str
    module: str
    script: str
    dialect: Dialect
    unsupported: Mapping[str, str] = field(default_factory=dict)
    """Workload → why this peer cannot run it (printed when skipped)."""

    @property
    def script_path(self) -> Path:
        return SCRIPTS / self.script


NOT_PIP_INSTALLABLE = {
    "SqueezeAILab/LLMCompiler": "the original research code is a repository of scripts, not a "
    "package on PyPI; it cannot be installed by a pinned name",
}

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
