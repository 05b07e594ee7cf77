"""Search with an RNN controller trained by REINFORCE (Zoph & Le 2017), as an ask/tell strategy.

Zoph & Le, section 3.2: the controller's parameters θ follow the policy gradient

    ∇J(θ) ≈ 1/m Σ_k Σ_t ∇ log P(a_t | a_(t-1):1; θ) (R_k − b)

over m sampled architectures with rewards R_k (validation accuracy), where the baseline b is "an
exponential moving average of the previous architecture accuracies", which lowers the variance of
the estimate without biasing it. Appendix A: Adam with learning rate 0.0006. Section 3.3: many
architectures train at once and the controller learns from them asynchronously.

How it sits in the engine:

- ``ask`` samples one architecture from the current controller with a generator seeded by
  (run seed, "ask", n), so a resumed run draws what an uninterrupted one would.
- ``tell`` turns the result into an advantage at once (against the baseline of the architectures
  told before it, as in the paper) and keeps it; every ``update_every`` told results make one Adam
  step on those samples (m = ``update_every``). Updates happen as results arrive, never waiting for
  a generation; with several workers some samples were drawn by a slightly older controller, as with
  the paper's asynchronous replicas.
- Cached results count: the controller did sample that architecture, and the policy gradient is an
  expectation over its samples, duplicates included. A failed evaluation (a diverged training, a
  row missing from a table) gets the worst reward seen so far: it cost a slot of the budget and is
  no better than the worst working network; before any evaluation succeeded there is no scale to
  place it on, and it is skipped.
- Successive halving: the controller is rewarded whenever a result arrives, each rung's result
  of a promoted architecture included. A promotion is itself evidence of quality (the candidate
  ranked in its rung's top 1/eta), and its longer-trained fitness is usually higher, so promoted
  architectures are reinforced more, as they should be.
- ``reject`` (dedup "resample") does nothing: a duplicate says nothing about quality, and the next
  ask draws from a fresh stream.

The reward scale. Rewards are the fitness, an accuracy in [0, 1] for hiernas' evaluators
(``evolution.objectives``), but their spread differs by orders of magnitude between a table whose
cells range from 0.1 to 0.85 and a late search whose rewards differ in the third decimal. Each
advantage R − b is divided by a running standard deviation of the same deviations (an exponential
moving average of (R − b)² with the baseline's decay), so advantages are in units of "typical
deviation from the baseline": scaling every reward or adding a constant leaves them unchanged, and
the learning rate and entropy bonus mean the same thing whatever the evaluator. Adam alone would
absorb a constant gradient scale, but not the balance between the policy term and the entropy
bonus, nor rewards whose spread shrinks as the controller improves. Standardising within each update instead would need more than the default five
samples to estimate a spread, and would replace the paper's baseline by the batch mean. The current
deviation is part of the variance before dividing, which bounds |advantage| by 1/√(1 − decay)
(4.5 for the default 0.95): one outlier cannot produce a huge step.

``reward="paper"`` is Zoph & Le's reward instead (section 4.1: the maximum validation accuracy
of the last 5 epochs, cubed, "for the controller to focus on models with high accuracy"): the one
fitness value, a fraction in [0, 1], is cubed, and the advantage is R − b unscaled. Its advantages
are hundredths where the scaled ones are about 1, so it wants a larger learning rate.

The snapshot holds everything (counters, baseline, spread, the waiting samples, and the controller's
weights and Adam state as ``torch.save`` bytes, re-serialised only after an update), so ``restore``
needs no history.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from evolution.controller import Controller, DecisionLayout, one_thread
from evolution.evaluation import EvalResult
from evolution.seeding import derive_seed
from evolution.strategy import Proposal, Told
from motifs import Space


class ReinforceStrategy:
    name = "rl"

    def __init__(
        self,
        space: Space,
        *,
        seed: int,
        hidden: int = 35,
        layers: int = 2,
        lr: float = 6e-4,
        baseline_decay: float = 0.95,
        entropy: float = 0.0,
        update_every: int = 5,
        init_range: float = 0.08,
        reward: str = "scaled",
    ) -> None:
        if update_every < 1:
            raise ValueError(f"update_every must be at least 1, got {update_every}")
        if not 0 <= baseline_decay < 1:
            raise ValueError(f"baseline_decay must be in [0, 1), got {baseline_decay}")
        if reward not in ("paper", "scaled"):
            raise ValueError(f"reward must be 'paper' or 'scaled', got {reward!r}")
        self.reward = reward
        self.seed, self.layout = seed, DecisionLayout(space)
        self.decay, self.entropy_bonus, self.update_every = baseline_decay, entropy, update_every
        self.controller = Controller(
            self.layout.choices,
            self.layout.steps,
            seed=derive_seed(seed, "controller"),
            hidden=hidden,
            layers=layers,
            init_range=init_range,
        )
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=lr)
        self.asked = 0  # numbers the random stream of each ask
        self.updates = 0
        self.baseline: float | None = None
        self.variance: float | None = None  # running mean of (R − b)²
        self.worst: float | None = None  # the lowest reward of a successful evaluation so far
        self.buffer: list[tuple[tuple[int, ...], float]] = []  # (decisions, advantage) to learn from
        self._blob: bytes | None = None  # the serialised controller and optimizer, until the next update

    # Ask/tell ----------------------------------------------------------------------------------

    def ask(self) -> Proposal:
        generator = torch.Generator().manual_seed(derive_seed(self.seed, "ask", self.asked))
        with one_thread():
            drawn = self.controller.sample(generator)
        self.asked += 1
        return Proposal(
            self.layout.to_genotype(drawn.decisions),
            "controller",
            extra={"decisions": list(drawn.decisions), "log_prob": drawn.log_prob},
        )

    def tell(
        self, proposal_id: int, proposal: Proposal, result: EvalResult, cached: bool = False, rung: int = 0
    ) -> None:
        if result.ok:
            reward = self._reward(float(result.fitness))  # type: ignore[arg-type]
            self.worst = reward if self.worst is None else min(self.worst, reward)
        elif self.worst is not None:
            reward = self.worst
        else:
            return  # a failure before any success: no scale to place it on (module docstring)
        # The genotype determines the decisions (DecisionLayout is a bijection); the extra's copy
        # is for people reading the journal.
        self.buffer.append((self.layout.from_genotype(proposal.genotype), self._advantage(reward)))
        if len(self.buffer) >= self.update_every:
            self._update()

    def reject(self, proposal: Proposal) -> None:
        """Nothing to learn from a duplicate; the next ask draws from a fresh stream."""

    # Learning ----------------------------------------------------------------------------------

    def _reward(self, fitness: float) -> float:
        """The fitness itself ("scaled"), or the paper's accuracy cubed."""
        if self.reward == "scaled":
            return fitness
        # Accuracies are fractions in [0, 1] (objectives declare their unit), so this is Zoph & Le's R³.
        return fitness**3

    def _advantage(self, reward: float) -> float:
        """(R − b) / running std, then b and the std take R in (module docstring, "reward scale");
        with the paper's reward, R − b as it is."""
        if self.reward == "paper" and self.baseline is not None:
            deviation = reward - self.baseline
            self.baseline = self._mix(self.baseline, reward)
            return deviation
        if self.baseline is None:
            self.baseline = reward  # the first reward has nothing before it to be compared with
            return 0.0
        deviation = reward - self.baseline
        square = deviation * deviation
        self.variance = square if self.variance is None else self._mix(self.variance, square)
        self.baseline = self._mix(self.baseline, reward)
        return deviation / math.sqrt(self.variance) if self.variance > 0 else 0.0

    def _mix(self, average: float, value: float) -> float:
        return self.decay * average + (1 - self.decay) * value

    def _update(self) -> None:
        """One Adam step on the buffered samples (section 3.2), plus the optional entropy bonus."""
        decisions = torch.tensor([d for d, _ in self.buffer])
        advantages = torch.tensor([a for _, a in self.buffer])
        with one_thread():
            log_prob, entropy = self.controller.log_prob_and_entropy(decisions)
            loss = -(advantages * log_prob).mean() - self.entropy_bonus * entropy.mean()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        self.buffer.clear()
        self.updates += 1
        self._blob = None

    # Snapshot ----------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        if self._blob is None:
            data = io.BytesIO()
            torch.save(
                {"controller": self.controller.state_dict(), "optimizer": self.optimizer.state_dict()}, data
            )
            self._blob = data.getvalue()
        return {
            "asked": self.asked,
            "updates": self.updates,
            "baseline": self.baseline,
            "variance": self.variance,
            "worst": self.worst,
            "buffer": [(list(d), a) for d, a in self.buffer],
            "controller": self._blob,
        }

    def restore(self, state: Mapping[str, Any], history: Sequence[Told]) -> None:
        """Everything is in the snapshot; ``history`` is not needed."""
        self.asked, self.updates = state["asked"], state["updates"]
        self.baseline, self.variance, self.worst = state["baseline"], state["variance"], state["worst"]
        self.buffer = [(tuple(d), a) for d, a in state["buffer"]]
        saved = torch.load(io.BytesIO(state["controller"]), weights_only=True)
        self.controller.load_state_dict(saved["controller"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self._blob = state["controller"]
