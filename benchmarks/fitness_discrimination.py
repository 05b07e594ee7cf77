"""Does the fitness tell architectures apart? Validation accuracy of three genotypes after the same
reduced training on CIFAR-10, on a CPU.

    python benchmarks/fitness_discrimination.py --data ../shared/data/cifar10-jpeg.tar.gz

The three: the identity chain (``Space.initial()``: the cell is the stem and the reductions only),
a random initial individual (1000 mutations, as the search starts), and a hand-picked one whose
motifs stack separable and 1×1 convolutions with an identity shortcut. A useful fitness ranks them
identity < random ≲ hand-picked by a margin larger than the seed-to-seed noise.

The budget is reduced from the paper's 5000 × 256 to 150 × 32 (4,800 images, a tenth of an epoch)
and the validation set from 10,000 to 2,000 images, so that the three trainings take minutes on a
shared two-core CPU (the random individual, ~150 MFLOPs per image, costs most of it). Everything
else is the search's setting: template C0 = 16, N = 1, SGD momentum 0.9, weight decay 3e-4,
augmentation. lr 0.05 with a short warm-up suits the small batch.
"""

from __future__ import annotations

import argparse
import os
import random
import time

import torch

from evolution.evaluation import EvalContext
from hiernas.config import DataConfig, NetworkConfig, TrainingSettings
from hiernas.evaluators.train import TrainEvaluator
from hiernas.training import THREADS_ENV
from motifs import PRESETS, Genotype, Motif, sample

# Primitive indices of the paper's set (1-based; 0 = no edge).
CONV1, DW, SEP, MAX, AVG, IDENT = 1, 2, 3, 4, 5, 6


def hand_picked() -> Genotype:
    """Level 2: a residual stack of two separable convolutions, and a 1×1/depthwise branch pair
    joined by separable convolutions; level 3: the two alternated, with a shortcut around them."""
    residual = Motif(((0, SEP, 0, IDENT), (0, 0, SEP, 0), (0, 0, 0, CONV1), (0, 0, 0, 0)))
    branches = Motif(((0, CONV1, DW, 0), (0, 0, 0, SEP), (0, 0, 0, SEP), (0, 0, 0, 0)))
    chain = Motif.chain(4, IDENT)
    cell = Motif(
        (
            (0, 1, 0, 0, 3),
            (0, 0, 2, 0, 0),
            (0, 0, 0, 1, 0),
            (0, 0, 0, 0, 2),
            (0, 0, 0, 0, 0),
        )
    )
    space = PRESETS["hierarchical"]
    return Genotype(space.primitives, ((residual, branches, chain, chain, chain, chain), (cell,)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="../shared/data/cifar10-jpeg.tar.gz")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--validation", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0, help="evaluation seed (init and data order)")
    parser.add_argument("--genotypes", default="identity,random,hand", help="which of identity,random,hand")
    args = parser.parse_args()

    space = PRESETS["hierarchical"]
    candidates = {
        "identity": ("identity chain (Space.initial())", space.initial),
        "random": ("random (1000 mutations, seed 0)", lambda: sample(space, random.Random(0), 1000)),
        "hand": ("hand-picked sepconv/conv1x1", hand_picked),
    }
    genotypes = {candidates[key][0]: candidates[key][1]() for key in args.genotypes.split(",")}
    settings = TrainingSettings(
        steps=args.steps,
        batch_size=args.batch,
        lr=0.05,
        schedule="step",
        lr_drop_at=(int(args.steps * 0.8),),
        warmup_steps=min(50, args.steps // 10),
        device="cpu",
    )
    evaluator = TrainEvaluator(
        DataConfig(dataset="cifar10", path=args.data, validation=args.validation),
        NetworkConfig(channels=16, cells_per_stage=1),
        settings,
    )
    evaluator.validate()
    threads = os.environ.get(THREADS_ENV) or torch.get_num_threads()
    print(
        f"# {args.steps} steps x batch {args.batch}, lr 0.05 step/10 at 80%, validation {args.validation}, "
        f"seed {args.seed}, {threads} thread(s)"
    )
    print("| genotype | params | MFLOPs/image | validation accuracy | final train loss | seconds |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    started = time.perf_counter()
    for name, genotype in genotypes.items():
        result = evaluator(genotype, EvalContext(seed=args.seed, device="cpu"))
        m = result.metrics
        accuracy = f"{result.fitness:.4f}" if result.ok else f"failed: {result.error}"
        print(
            f"| {name} | {m.get('params', 0):,} | {m.get('flops', 0) / 1e6:.1f} | {accuracy} | "
            f"{m.get('train_loss', float('nan')):.3f} | {m.get('seconds', 0):.0f} |",
            flush=True,
        )
    print(f"# total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
