"""`python -m runner.tui [--config-dir DIR]`: the same as `runner tui`."""

from __future__ import annotations

import argparse

from runner.tui import main

parser = argparse.ArgumentParser(prog="python -m runner.tui", description=__doc__)
parser.add_argument("--config-dir", help="project config dir (default: RUNNER_CONFIG_DIR, ./conf)")
main(parser.parse_args().config_dir)
