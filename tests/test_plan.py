"""Planning: seeds per repeat index, reproducibility, and launch ids."""

from __future__ import annotations

from pathlib import Path

from runner import api
from runner.plan import repeat_seeds


def test_one_repeat_runs_with_the_launch_seed() -> None:
    assert repeat_seeds(42, 1) == [42]


def test_repeat_seeds_are_deterministic_and_distinct() -> None:
    seeds = repeat_seeds(42, 5)
    assert seeds == repeat_seeds(42, 5)
    assert len(set(seeds)) == 5
    assert all(0 <= s < 2**63 for s in seeds)
    assert repeat_seeds(43, 5) != seeds


def test_plan_shares_seeds_across_points(project: Path) -> None:
    preview = api.show("add:1.0", ["params.a=1,2,3"], repeat=2, seed=7, config_dir=project / "conf")
    by_repeat = {}
    for spec in preview.specs:
        by_repeat.setdefault(spec.repeat_index, set()).add(spec.seed)
    assert by_repeat == {0: {repeat_seeds(7, 2)[0]}, 1: {repeat_seeds(7, 2)[1]}}
    assert [s.params["a"] for s in preview.specs] == [1, 1, 2, 2, 3, 3]


def test_single_run_launch_shares_the_run_id(project: Path) -> None:
    plan, _ = api.plan(api.request("add:1.0"), config_dir=project / "conf")
    assert plan.launch_id == plan.specs[0].id
    plan, _ = api.plan(api.request("add:1.0", ["params.a=1,2"]), config_dir=project / "conf")
    assert plan.launch_id not in {s.id for s in plan.specs}


def test_seed_sweep_gives_each_point_its_seed(project: Path) -> None:
    preview = api.show("draw", ["seed=1,2"], config_dir=project / "conf")
    assert [s.seed for s in preview.specs] == [1, 2]
