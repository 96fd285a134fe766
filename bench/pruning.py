"""Pruning a search (issue 24): how many steps `search.pruner=hyperband` (and median) saves on
a synthetic learning curve, and how close its best value comes to the unpruned search's.

    python bench/pruning.py [--quick] [--repeat N]

The workflow logs a learning curve (`val_loss` falls from 1 toward a floor that depends on
lr and momentum, with a little noise) for STEPS steps, asking `runner.should_prune()` after
each; each search is a real launch (threads launcher, 4 trials at once, TPE with a fixed
seed) of N_TRIALS trials. Reported per pruner: the steps run in all (read from the store:
every run's val_loss count), their share of the unpruned search's, the best val_loss.min
and its gap to the unpruned best. Targets: hyperband runs at most 50% of the steps and finds
a best within 1% of the unpruned search's. Medians over --repeat seeds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

STEPS = 60
N_TRIALS = 60
# (Optuna's defaults: min_resource 1, reduction_factor 3)
HYPERBAND = "hyperband"

FLOWS = textwrap.dedent(
    '''
    import math
    import random
    import time

    import runner


    @runner.workflow
    def curve(lr: float = 0.01, momentum: float = 0.5, seed: int = 0) -> float:
        """A learning curve: val_loss falls toward a floor set by lr and momentum."""
        rng = random.Random(seed)
        floor = 0.1 + 0.2 * (math.log10(lr) + 2.5) ** 2 + 0.3 * (momentum - 0.9) ** 2
        speed = 4 + 20 * (1 - momentum)
        best = float("inf")
        for step in range({steps}):
            loss = floor + (1 - floor) * math.exp(-step / speed) + rng.gauss(0, 0.001)
            best = min(best, loss)
            runner.log(step=step, val_loss=loss)
            time.sleep({step_s})
            if runner.should_prune():
                break
        return best
    '''
)
STEP_S = 0.02  # a step's work: short beside a real epoch, long beside the 0.1-0.15 s a
# point takes to reach the pruner (a run sends its points every 0.1 s)


def search(flows: Path, home: Path, pruner: str, seed: int, trials: int) -> tuple[int, float]:
    """(steps run in all, best val_loss.min) of one search."""
    import runner

    overrides = [
        "launcher=threads",
        "search=tpe",
        f"search.seed={seed}",
        f"search.n_trials={trials}",
        "search.objective=val_loss.min",
        "params.lr=tag(log, interval(1e-5, 1))",
        "params.momentum=interval(0, 0.99)",
    ]
    if pruner != "none":
        overrides.append(f"search.pruner={pruner}")
    launch = runner.launch(
        None,
        overrides,
        root=str(flows.parent),
        home=home,
        progress=False,
        max_parallelism=4,
        workflow=_workflow(flows),
    )
    summaries = runner.metric_summaries(launch.id, ["val_loss"], home=home)
    steps = sum(s.count for s in summaries)
    best = min(s.min for s in summaries if s.min is not None)
    return steps, best


def _workflow(flows: Path):  # type: ignore[no-untyped-def]
    from runner.api import pick_workflow, workflows_in

    path, found = workflows_in(flows)
    return pick_workflow(path, found, "curve")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials and seeds")
    parser.add_argument("--repeat", type=int, default=3, help="seeds (the median is shown)")
    parser.add_argument("--first-seed", type=int, default=0, help="the seeds' first")
    parser.add_argument(
        "--step-ms", type=float, default=STEP_S * 1000, help="a step's work, in milliseconds"
    )
    parser.add_argument(
        "--pruner",
        action="append",
        help="a search.pruner value to measure as well (repeatable), e.g."
        " '{name:hyperband,min_resource:3}'",
    )
    args = parser.parse_args()
    seeds = range(args.first_seed, args.first_seed + (1 if args.quick else args.repeat))
    print(run(args.quick, seeds, args.step_ms / 1000, tuple(args.pruner or ())))


def run(
    quick: bool, seeds: range = range(3), step_s: float = STEP_S, more: tuple[str, ...] = ()
) -> str:
    trials = 24 if quick else N_TRIALS
    with tempfile.TemporaryDirectory(prefix="runner-bench-pruning-") as folder:
        root = Path(folder)
        flows = root / "curves.py"
        flows.write_text(FLOWS.format(steps=STEPS, step_s=step_s))
        sys.path.insert(0, str(root))
        os.chdir(root)
        found: dict[str, list[tuple[int, float]]] = {}
        for n, pruner in enumerate(("none", "median", HYPERBAND, *more)):
            for seed in seeds:
                home = root / f"home-{n}-{seed}"
                found.setdefault(pruner, []).append(search(flows, home, pruner, seed, trials))
    steps0 = statistics.median(s for s, _ in found["none"])
    best0 = statistics.median(b for _, b in found["none"])
    lines = [
        f"pruning: TPE, {trials} trials of {STEPS} steps of {step_s * 1000:g} ms, 4 at once"
        f" (threads); medians of {len(seeds)} seed(s) from {seeds.start}",
        f"{'pruner':<36}{'steps run':>10}{'share':>7}{'best':>8}{'gap':>7}{'worst gap':>10}",
    ]
    for pruner, results in found.items():
        steps = statistics.median(s for s, _ in results)
        best = statistics.median(b for _, b in results)
        worst = max(b for _, b in results)
        lines.append(
            f"{pruner:<36}{steps:>10,.0f}{steps / steps0:>7.0%}{best:>8.4f}"
            f"{(best - best0) / best0:>+7.1%}{(worst - best0) / best0:>+10.1%}"
        )
    steps_h = statistics.median(s for s, _ in found[HYPERBAND]) / steps0
    gap_h = (statistics.median(b for _, b in found[HYPERBAND]) - best0) / best0
    verdict = "PASS" if steps_h <= 0.5 and gap_h <= 0.01 else "MISS"
    lines.append(
        f"{verdict}: hyperband ran {steps_h:.0%} of the steps (target <= 50%), best within"
        f" {gap_h:+.1%} of unpruned (target <= +1%)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
