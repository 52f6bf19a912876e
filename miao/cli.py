"""The ``miao`` command: one entry point, a sub-command per job a person runs.

Each sub-command lives in its own module under ``miao.commands`` and imports its heavy
dependencies (torch, web3) inside the command, so ``miao --help`` stays fast.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="miao",
    help="MIAO AI: crowd-sourced pet sounds, labelled by audio models and recorded on-chain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# (module, attribute): either a function registered as a command, or a Typer group.
_COMMANDS: list[str] = [
    "miao.commands.dev",
    "miao.commands.bench",
    "miao.commands.deploy",
    "miao.commands.db",
    "miao.commands.index",
    "miao.commands.cid",
    "miao.commands.api",
    "miao.commands.eda",
    "miao.commands.pretrain",
    "miao.commands.train",
    "miao.commands.ensemble",
    "miao.commands.label_prior",
    "miao.commands.eval",
    "miao.commands.cv",
    "miao.commands.label",
    "miao.commands.demo",
    "miao.commands.synth",
    "miao.commands.catify",
    "miao.commands.dataset",
]


def _register() -> None:
    for module_name in _COMMANDS:
        module = importlib.import_module(module_name)
        module.register(app)


_register()


def main() -> None:
    app()
