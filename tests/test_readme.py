"""The README tells the truth about configuration and commands."""

from __future__ import annotations

import re

from backend.settings import REPO_ROOT, Settings

README = (REPO_ROOT / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [
        f"MIAO_{name.upper()}"
        for name in Settings.model_fields
        if f"MIAO_{name.upper()}" not in README
    ]
    assert not missing, f"settings missing from README.md: {missing}"


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert first_block, "README.md has no sh block"
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands[:2] == ["make demo", "make test"]
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M), ".ci/run must run the README's test command"
