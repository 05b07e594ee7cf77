"""How fast the training evaluator trains the paper's search network, and what one paper-budget
evaluation (5000 steps of batch 256, section 4.1) costs.

    python benchmarks/train_speed.py --data ../shared/data/cifar10-jpeg.tar.gz
    python benchmarks/train_speed.py                      # random 3×32×32 images, 10 classes

It times the real evaluator (``TrainEvaluator``: device-resident data, batched augmentation, bf16 and
channels-last on CUDA) on a hierarchical sample (1000 mutations of the identity chains, as the
search initialises) in the search template (C0 = 16, N = 1). A short warm-up evaluation comes first
so that cuDNN autotuning and first-call costs are not counted.

On CUDA it then runs 1, 2, 4 and 8 worker processes on the GPU at once, as the local executor's
``workers_per_gpu`` does, and reports the amortised seconds per paper-budget evaluation
(wall time / evaluations finished, scaled from K steps to 5000). On a CPU it reports images/s and
the extrapolated time per paper-budget evaluation, and says the GPU figures need a GPU.
The last line is the headline figure.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evolution.evaluation import EvalContext
from hiernas.config import DataConfig, NetworkConfig, TrainingSettings
from hiernas.data.dataset import Dataset
from hiernas.evaluators.train import TrainEvaluator
from hiernas.training import THREADS_ENV
from motifs import PRESETS, Genotype, sample

PAPER_STEPS, PAPER_BATCH, PAPER_VALIDATION = 5000, 256, 10000
# On a CPU the 10,000-image validation pass of a paper-sized network alone takes minutes, so it is
# timed on this many images and scaled up (an upper bound: build and profiling are scaled with it).
CPU_VALIDATION = 512


def random_dataset(n: int = 20000) -> Dataset:
    """CIFAR-shaped noise: throughput does not depend on what the pixels show."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.int64)
    return Dataset("random", tuple(str(k) for k in range(10)), images, labels, images[:1000], labels[:1000])


def make_evaluator(
    data: str | None, steps: int, batch: int, device: str, compile_: bool, validation: int = PAPER_VALIDATION
) -> TrainEvaluator:
    settings = TrainingSettings(
        steps=steps, batch_size=batch, lr_drop_at=(int(steps * 0.8),), device=device, compile=compile_
    )
    network = NetworkConfig(channels=16, cells_per_stage=1)
    if data:
        return TrainEvaluator(
            DataConfig(dataset="cifar10", path=data, validation=validation), network, settings
        )
    return TrainEvaluator(
        DataConfig(dataset="digits", validation=validation), network, settings, dataset=random_dataset()
    )


def search_genotype(seed: int) -> Genotype:
    return sample(PRESETS["hierarchical"], random.Random(seed), 1000)


def timed_evaluation(evaluator: TrainEvaluator, genotype: Genotype, device: str) -> dict[str, Any]:
    result = evaluator(genotype, EvalContext(seed=0, device=device))
    if not result.ok:
        raise SystemExit(f"evaluation failed: {result.error}")
    return {"fitness": result.fitness, **result.metrics}


def _worker(args: tuple[str | None, int, int, bool, int, Any, Any]) -> None:
    data, steps, batch, compile_, seed, barrier, results = args
    evaluator = make_evaluator(data, steps, batch, "cuda", compile_)
    genotype = search_genotype(seed)
    timed_evaluation(evaluator, genotype, "cuda")  # warm-up: data on the GPU, cuDNN autotuned
    barrier.wait()
    metrics = timed_evaluation(evaluator, genotype, "cuda")
    results.put((metrics["train_seconds"], metrics["seconds"] - metrics["train_seconds"]))


def concurrent(data: str | None, steps: int, batch: int, compile_: bool, workers: int, seed: int) -> float:
    """Amortised seconds per paper-budget evaluation with ``workers`` processes sharing the GPU.

    The workers start their timed evaluation together; the slowest one's training time, scaled
    from K steps to 5000, plus its per-evaluation overhead, is the wall time for ``workers``
    evaluations."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(workers + 1), context.Queue()
    processes = [
        context.Process(target=_worker, args=((data, steps, batch, compile_, seed + k, barrier, results),))
        for k in range(workers)
    ]
    for process in processes:
        process.start()
    barrier.wait()
    timings = [results.get() for _ in processes]
    for process in processes:
        process.join()
    wall = max(train * PAPER_STEPS / steps + overhead for train, overhead in timings)
    return wall / workers


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", help="CIFAR-10 tarball/folder (default: random images)")
    parser.add_argument("--steps", type=int, help="K steps to time (default: 500 on CUDA, 3 on CPU)")
    parser.add_argument("--batch", type=int, default=PAPER_BATCH)
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled genotype")
    parser.add_argument("--compile", action="store_true", help="torch.compile each network")
    parser.add_argument("--workers", default="1,2,4,8", help="concurrent GPU workers to try")
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    steps = args.steps or (500 if cuda else 3)
    validation = PAPER_VALIDATION if cuda else CPU_VALIDATION
    data = str(Path(args.data).expanduser()) if args.data else None
    genotype = search_genotype(args.seed)

    threads = os.environ.get(THREADS_ENV) or torch.get_num_threads()
    print(f"device: {torch.cuda.get_device_name() if cuda else f'cpu, {threads} thread(s)'}")
    print(
        f"data: {data or 'random 3x32x32'}; batch {args.batch}; K = {steps} steps; "
        f"validation {validation} images; compile {args.compile}",
        flush=True,
    )
    # Warm-up (data placed, kernels chosen and autotuned for this network), then the timed run.
    timed_evaluation(
        make_evaluator(data, min(steps, 20), args.batch, device, args.compile, validation), genotype, device
    )
    metrics = timed_evaluation(
        make_evaluator(data, steps, args.batch, device, args.compile, validation), genotype, device
    )
    rate = metrics["train_images_per_s"]
    overhead = metrics["seconds"] - metrics["train_seconds"]  # build, profile, validation pass
    per_eval = PAPER_STEPS * PAPER_BATCH / rate + overhead * PAPER_VALIDATION / validation
    print(
        f"network: {metrics['params']:,} parameters, {metrics['flops'] / 1e6:.1f} MFLOPs per image; "
        f"peak memory {metrics['peak_memory_mb']:.0f} MB"
    )
    print(f"train: {rate:,.0f} images/s ({metrics['train_seconds']:.2f} s for {steps} steps)")
    print(f"overhead per evaluation (build, profile, validation of {validation}): {overhead:.2f} s")
    print(
        f"one paper-budget evaluation ({PAPER_STEPS} x {PAPER_BATCH}, validation of 10000): {per_eval:.1f} s"
    )
    if not cuda:
        print("concurrent GPU workers: not measured (no GPU); run this on a CUDA machine for those figures")
        print(
            f"HEADLINE: {rate:,.0f} train images/s on CPU = {per_eval / 60:.1f} min per paper-budget evaluation"
        )
        return
    best = (1, per_eval)
    for workers in (int(w) for w in args.workers.split(",")):
        amortised = concurrent(data, steps, args.batch, args.compile, workers, args.seed)
        print(f"{workers} worker(s) on the GPU: {amortised:.1f} s per paper-budget evaluation, amortised")
        best = min(best, (workers, amortised), key=lambda b: b[1])
    print(
        f"HEADLINE: {per_eval:.1f} s per paper-budget evaluation with 1 worker, "
        f"{best[1]:.1f} s amortised with {best[0]} workers per GPU"
    )


if __name__ == "__main__":
    main()
