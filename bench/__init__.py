"""Benchmarks for Switchboard: `python -m bench` (or `make bench`) prints figures; it asserts nothing.

Each figure is measured next to a baseline in the same run, so ratios stay meaningful on any machine.
Functions are loaded the way Lambda does, with the shared layer on the path.
"""

from infra.functions import use_layer

use_layer()
