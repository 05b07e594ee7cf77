"""Parameters and FLOPs per image of a genotype's network in a template, counted once per network.

Every done result records ``params`` and ``flops`` of the network it scored, including evaluators
that never build one (a table lookup). Counting means building the network as ``hiernas.network``
does and running one image through ``FlopCounterMode`` (``hiernas.network_size``), a few to tens of
milliseconds; it is done once per distinct network and process, keyed by the canonical key, since
networks that differ only in dead edges or node numbering are the same module. torch is imported on
the first count only.
"""

from __future__ import annotations

from hiernas.config import NetworkConfig
from motifs.canonical import canonical_key
from motifs.genotype import Genotype

# Per process: (canonical key, template, input shape, classes) → (params, flops). Never pickled.
_SIZES: dict[tuple[str, NetworkConfig, tuple[int, int, int], int], tuple[int, int]] = {}


def network_size(
    genotype: Genotype, network: NetworkConfig, input_shape: tuple[int, int, int], classes: int
) -> tuple[int, int]:
    """(parameters, FLOPs of one forward pass of one ``input_shape`` image) in the template."""
    key = (canonical_key(genotype), network, tuple(input_shape), classes)
    size = _SIZES.get(key)  # type: ignore[arg-type]
    if size is None:
        import torch

        from evolution.controller import one_thread
        from hiernas.network import build_network
        from hiernas.network_size import count_parameters, flops_per_image

        # A private copy of the global RNG: initialising weights must not move the caller's stream.
        # One thread: these tensors are small, and on a busy machine thread hand-offs made a count
        # ten times slower (1 s instead of 0.1 s, measured).
        with torch.random.fork_rng(devices=[]), one_thread():
            model = build_network(genotype, network, input_shape[0], classes)
            size = (count_parameters(model), flops_per_image(model, input_shape))
        _SIZES[key] = size  # type: ignore[index]
    return size
