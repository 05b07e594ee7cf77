"""The RNN controller of Zoph & Le 2017 ("Neural Architecture Search with Reinforcement Learning"),
emitting hierarchical genotypes one edge at a time.

Zoph & Le, section 3.1: the controller is a recurrent network that predicts an architecture as a
sequence of tokens; "every prediction is carried out by a softmax classifier and then fed into the
next time step as input". Here a token is one entry G[i][j] of one motif (DESIGN.md, "The
hierarchical genotype"): level 2 first, motif by motif, node pairs i < j in row-major order, then
level 3 and so on up to the cell. A decision at level ℓ chooses among the K_ℓ ops of level ℓ−1 and
none, so each level has its own softmax head of K_ℓ + 1 logits and its own embedding of its decisions
as the next step's input; a learned vector is the input of the first step.

Every decision sequence of the right length with entries in range is a valid genotype (the matrices
are strictly upper-triangular by construction) and every genotype of the space is exactly one
sequence: ``DecisionLayout`` is that bijection.

Section 4.1 (and appendix A) fix the network: a two-layer LSTM of 35 units, weights initialised
uniformly in [-0.08, 0.08]. Weights are drawn from a generator seeded by the caller, never from
torch's global generator, so that a run is reproducible and leaves other code's random state alone.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from motifs.genotype import Genotype, Motif
from motifs.space import Space


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on the calling thread only, restoring the thread count afterwards.

    The controller's matrices are 35 × 140: splitting a product of that size across threads costs
    more than it saves, and on a busy machine the threads' hand-offs made a batched update of the
    NB201 controller 20-100 times slower (5 to 16 ms alone, 300+ ms with two threads, measured).
    """
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@dataclass(frozen=True, slots=True)
class DecisionLayout:
    """The order of the controller's decisions for a space, and decisions <-> genotype."""

    space: Space

    @property
    def choices(self) -> tuple[int, ...]:
        """Per level (level 2 first): the number of choices of one decision, none included."""
        below = (len(self.space.primitives), *self.space.motifs[:-1])
        return tuple(k + 1 for k in below)

    @property
    def steps(self) -> tuple[int, ...]:
        """Per level: the number of decisions, one per node pair of every motif."""
        return tuple(m * n * (n - 1) // 2 for m, n in zip(self.space.motifs, self.space.nodes, strict=True))

    @property
    def length(self) -> int:
        return sum(self.steps)

    def to_genotype(self, decisions: Sequence[int]) -> Genotype:
        """The genotype whose matrix entries, in decision order, are ``decisions``."""
        if len(decisions) != self.length:
            raise ValueError(f"expected {self.length} decisions for this space, got {len(decisions)}")
        position = 0
        levels = []
        for k, (m, n, c) in enumerate(zip(self.space.motifs, self.space.nodes, self.choices, strict=True)):
            motifs = []
            for _ in range(m):
                matrix = [[0] * n for _ in range(n)]
                for i in range(n):
                    for j in range(i + 1, n):
                        op = int(decisions[position])
                        if not 0 <= op < c:
                            raise ValueError(
                                f"decision {position} (level {k + 2}) is {op}, not in 0..{c - 1}"
                            )
                        matrix[i][j] = op
                        position += 1
                motifs.append(Motif(tuple(tuple(row) for row in matrix)))
            levels.append(tuple(motifs))
        return Genotype(self.space.primitives, tuple(levels))

    def from_genotype(self, genotype: Genotype) -> tuple[int, ...]:
        """The decisions that produce ``genotype`` (which must have this space's shape)."""
        self.space.check(genotype)
        return tuple(
            motif.matrix[i][j]
            for level in genotype.levels
            for motif in level
            for i in range(motif.nodes)
            for j in range(i + 1, motif.nodes)
        )


@dataclass(frozen=True, slots=True)
class Sample:
    """One sampled decision sequence with its log-probability and the summed entropy of the
    distributions it was drawn from."""

    decisions: tuple[int, ...]
    log_prob: float
    entropy: float


class Controller(nn.Module):
    """A multi-layer LSTM with one embedding and one softmax head per level (module docstring).

    ``choices[k]`` and ``steps[k]`` are the choices per decision and the number of decisions of
    level k+2 (``DecisionLayout`` computes both from a space).
    """

    def __init__(
        self,
        choices: Sequence[int],
        steps: Sequence[int],
        *,
        seed: int,
        hidden: int = 35,
        layers: int = 2,
        init_range: float = 0.08,
    ) -> None:
        super().__init__()
        if len(choices) != len(steps) or not choices:
            raise ValueError("choices and steps need one entry per level")
        self.choices, self.steps = tuple(choices), tuple(steps)
        # Built on the meta device and materialised empty: the default initialisers would draw
        # from torch's global generator, which a library must not touch.
        meta = "meta"
        self.start = nn.Parameter(torch.empty(hidden, device=meta))
        self.embeddings = nn.ModuleList(nn.Embedding(c, hidden, device=meta) for c in self.choices)
        # A stack of LSTM cells rather than nn.LSTM: one step at a time, nn.LSTM's CPU kernel starts
        # worker threads per call and took 5-90 ms a step on a busy 2-core machine; the cells'
        # small matrix products stay on the calling thread (0.2-0.4 ms a step, measured).
        self.cells = nn.ModuleList(nn.LSTMCell(hidden, hidden, device=meta) for _ in range(layers))
        self.heads = nn.ModuleList(nn.Linear(hidden, c, device=meta) for c in self.choices)
        self.to_empty(device="cpu")
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for parameter in self.parameters():
                # Zoph & Le, appendix A: uniform in [-0.08, 0.08], biases included.
                parameter.uniform_(-init_range, init_range, generator=generator)
        # (start, end) of each level's decisions in the sequence.
        self.segments = tuple(itertools.pairwise(itertools.accumulate(self.steps, initial=0)))

    def _step(
        self, x: torch.Tensor, state: list[tuple[torch.Tensor, torch.Tensor]] | None
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """One time step through the stacked cells: the top layer's output and the new state."""
        new_state = []
        for layer, cell in enumerate(self.cells):
            h, c = cell(x, None if state is None else state[layer])
            new_state.append((h, c))
            x = h
        return x, new_state

    @torch.no_grad()
    def sample(self, generator: torch.Generator) -> Sample:
        """Draw one decision sequence, feeding each decision back as the next input (section 3.1)."""
        x = self.start.view(1, -1)
        state = None
        drawn: list[torch.Tensor] = []
        log_prob = torch.zeros(())
        entropy = torch.zeros(())
        for level, count in enumerate(self.steps):
            head, embedding = self.heads[level], self.embeddings[level]
            for _ in range(count):
                out, state = self._step(x, state)
                logp = torch.log_softmax(head(out[0]), dim=-1)
                p = logp.exp()
                decision = torch.multinomial(p, 1, generator=generator)
                log_prob += logp[decision[0]]
                entropy -= (p * logp).sum()
                drawn.append(decision)
                x = embedding(decision)
        return Sample(tuple(torch.cat(drawn).tolist()), float(log_prob), float(entropy))

    def log_prob_and_entropy(self, decisions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per sequence of the (B, T) batch ``decisions``: the log-probability the controller gives
        it and the summed entropy of its T decision distributions, with gradients (teacher forcing:
        the given decisions are the inputs, the whole batch steps at once)."""
        batch = decisions.shape[0]
        embedded = torch.cat(
            [self.embeddings[k](decisions[:, a:b]) for k, (a, b) in enumerate(self.segments)], dim=1
        )
        inputs = torch.cat([self.start.expand(batch, 1, -1), embedded[:, :-1]], dim=1)  # (B, T, H)
        state = None
        outputs = []
        for t in range(inputs.shape[1]):
            out, state = self._step(inputs[:, t], state)
            outputs.append(out)
        out = torch.stack(outputs)  # (T, B, H)
        log_prob = torch.zeros(batch)
        entropy = torch.zeros(batch)
        for k, (a, b) in enumerate(self.segments):
            logp = torch.log_softmax(self.heads[k](out[a:b]), dim=-1)  # (steps, B, choices)
            chosen = decisions[:, a:b].transpose(0, 1).unsqueeze(-1)
            log_prob = log_prob + logp.gather(-1, chosen).squeeze(-1).sum(0)
            entropy = entropy - (logp.exp() * logp).sum(-1).sum(0)
        return log_prob, entropy
