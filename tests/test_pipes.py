"""A reader that goes away from the CLI's output does not end the launch it is reading."""

from __future__ import annotations

import json
import os
import subprocess

from tests.conftest import RUNNER


def test_a_closed_stdout_does_not_stop_the_launch(project, home, elsewhere) -> None:
    read, write = os.pipe()
    os.close(read)  # as `runner ... -q | head -n 1` once head has its line
    env = {**os.environ, "RUNNER_HOME": str(home), "RUNNER_CONFIG_DIR": str(project / "conf")}
    done = subprocess.run(
        [RUNNER, "pi", "params.samples=100,200,300", "--repeat", "2", "-q"],
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        cwd=elsewhere,
        env=env,
    )
    os.close(write)
    assert (done.returncode, done.stderr) == (0, "")
    shown = subprocess.run(
        [RUNNER, "status", "--json"], capture_output=True, text=True, cwd=elsewhere, env=env
    )
    launches = json.loads(shown.stdout)
    assert [launch["counts"] for launch in launches] == [{"succeeded": 6}]
