"""`make dev` stops every stand-in even when a second signal comes while it stops
(make passes SIGTERM on to its child, and people press Ctrl-C twice): one left
running would hold its port, and the next `make dev` would fail to start."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from devtools.localca import PROJECT_ROOT


def test_a_signal_during_shutdown_still_stops_every_part(tmp_path: Path) -> None:
    stopped = tmp_path / "stopped"
    script = textwrap.dedent(
        f"""
        import os, signal, time
        from devtools.dev import _stop_on_sigterm, stop_all

        signal.signal(signal.SIGTERM, _stop_on_sigterm)

        class Slow:  # the first stand-in: a signal arrives while it stops
            def stop(self):
                os.kill(os.getpid(), signal.SIGTERM)
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.2)

        class Broken:
            def stop(self):
                raise OSError("already gone")

        class Marked:
            def stop(self):
                open({str(stopped)!r}, "w").write("stopped")

        stop_all(Slow(), Broken(), Marked())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert stopped.read_text() == "stopped"
    assert "Could not stop Broken: already gone" in done.stderr
