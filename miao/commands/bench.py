"""``miao bench …``: benchmarks that print measured figures (``--json`` for one object).

Each benchmark lives in its own module and adds itself to ``bench_app`` in ``register``.
"""

from __future__ import annotations

import importlib

import typer

bench_app = typer.Typer(
    help="Measure gas, storage, labelling, pipeline and synthesis figures.", no_args_is_help=True
)

_BENCHES: list[str] = [
    "miao.commands.bench_gas",
    "miao.commands.bench_label",
    "miao.commands.bench_ipfs",
    "miao.commands.bench_pipeline",
    "miao.commands.bench_sends",
    "miao.commands.bench_synth",
]


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100), as numpy's default; every bench uses it."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def register(app: typer.Typer) -> None:
    for module_name in _BENCHES:
        importlib.import_module(module_name).register(bench_app)
    app.add_typer(bench_app, name="bench")
