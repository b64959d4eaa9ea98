"""Root conftest: loads every fixture module under tests/support/ as a plugin.

Each area keeps its fixtures in its own module there (azurite.py, keyvault.py,
entra.py, ...), so they compose without one ever-growing conftest.
"""

from pathlib import Path

import pytest

# Support modules import each other: all get assertion rewriting whatever the order.
pytest.register_assert_rewrite("tests.support")

pytest_plugins = sorted(
    f"tests.support.{path.stem}"
    for path in (Path(__file__).parent / "support").glob("*.py")
    if path.stem != "__init__"
)
