"""What the Functions build installs agrees with what the project declares."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _requirements(lines: list[str]) -> set[str]:
    cleaned = (line.split("#", 1)[0].strip() for line in lines)
    return {line.replace(" ", "") for line in cleaned if line}


def test_requirements_txt_matches_pyproject_dependencies() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    built = (ROOT / "requirements.txt").read_text().splitlines()
    assert _requirements(built) == _requirements(list(declared))


def test_funcignore_keeps_dev_only_files_out_of_the_package() -> None:
    ignored = set((ROOT / ".funcignore").read_text().split())
    assert {
        "tests/",
        "infra/",
        ".venv",
        "node_modules",
        "local.settings.json",
        ".local/",
    } <= ignored
