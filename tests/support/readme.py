"""The README's shell walkthroughs, run as written against the local host: only the
host's address, the platform key and the temporary files differ."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough(section: str) -> str:
    """The first ```sh block of the README section headed `## {section}`."""
    text = README.read_text().split(f"## {section}", 1)[1]
    blocks = re.findall(r"```sh\n(.*?)```", text.split("\n## ", 1)[0], flags=re.DOTALL)
    assert blocks, f"the README's section {section!r} has no sh block"
    return str(blocks[0])


def run_walkthrough(
    section: str,
    *,
    api: str,
    key: str,
    scratch: Path | None = None,
    variables: Mapping[str, str] | None = None,
) -> str:
    """Run it with bash -euo pipefail (an HTTP error fails it: curl -f); its output.
    `variables`: shell variables the walkthrough sets (`NAME=...` lines) given this
    system's values instead (the test's stand-in is not make dev's)."""
    script = walkthrough(section)
    script = re.sub(r"^API=.*$", f"API={api}", script, flags=re.M)
    script = re.sub(r"^KEY=.*$", f'KEY="X-Platform-Admin-Key: {key}"', script, flags=re.M)
    for name, value in (variables or {}).items():
        script, found = re.subn(rf"^{name}=.*$", f"{name}={value}", script, flags=re.M)
        assert found == 1, f"the walkthrough sets no {name}"
    if scratch is not None:
        script = script.replace("/tmp/", f"{scratch}/")
    script = script.replace("curl -s ", "curl -sSf ")
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr + run.stdout
    return run.stdout
