"""Nothing POSIX-only at import time: every deecho module imports where `fcntl` and
`resource` do not exist (Windows), and the server's leader lock still hands over."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from deecho.server.leader import Leadership

_IMPORT_EVERYTHING = textwrap.dedent(
    """
    import importlib, pkgutil, sys, warnings

    BLOCKED = ("fcntl", "resource")

    class Unavailable:
        def find_spec(self, name, path=None, target=None):
            if name in BLOCKED:
                raise ImportError(f"No module named {name!r} (made unavailable, as on Windows)")
            return None

    for name in BLOCKED:
        sys.modules.pop(name, None)
    sys.meta_path.insert(0, Unavailable())
    warnings.simplefilter("ignore")  # filelock says it falls back to a soft lock here

    import deecho

    failed = []
    for info in pkgutil.walk_packages(deecho.__path__, "deecho."):
        if info.name.endswith("__main__"):  # runs the CLI when imported
            continue
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            failed.append(f"{info.name}: {exc!r}")
    leaked = [name for name in BLOCKED if name in sys.modules]
    print("\\n".join(failed + [f"imported anyway: {name}" for name in leaked]))
    sys.exit(1 if failed or leaked else 0)
    """
)


def test_every_module_imports_without_fcntl_and_resource() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_EVERYTHING],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_check_would_catch_a_posix_only_import() -> None:
    """The blocker itself works: a plain `import fcntl` fails under it."""
    script = _IMPORT_EVERYTHING.replace("import deecho\n", "import deecho\nimport fcntl\n", 1)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    assert done.returncode != 0 and "made unavailable" in done.stderr


def test_leadership_is_held_once_and_handed_over(tmp_path: Path) -> None:
    lock = tmp_path / "leader.lock"
    first_elected, second_elected = threading.Event(), threading.Event()
    first = Leadership(lock, first_elected.set)
    second = Leadership(lock, second_elected.set)
    first.start()
    second.start()
    try:
        assert first_elected.is_set() and first.held
        assert not second_elected.wait(1.0) and not second.held  # one leader at a time
        first.stop(resign=lambda: None)
        assert second_elected.wait(30.0) and second.held  # the waiting one takes over
    finally:
        first.stop(resign=lambda: None)
        second.stop(resign=lambda: None)
    assert not second.held
