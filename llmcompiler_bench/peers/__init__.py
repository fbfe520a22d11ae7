"""Other LLMCompiler implementations measured in the same run as ours (`llmcompiler bench
--peers`): each in its own venv, driven by the same scripted models, tools and latencies."""

from llmcompiler_bench.peers.records import ModelCall, PeerRun, PeerSkip
from llmcompiler_bench.peers.registry import PEERS, Peer, missing_original, original
from llmcompiler_bench.peers.run import PeersResult, run_peers

__all__ = [
    "PEERS",
    "ModelCall",
    "Peer",
    "PeerRun",
    "PeerSkip",
    "PeersResult",
    "missing_original",
    "original",
    "run_peers",
]
