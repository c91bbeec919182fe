"""Real Audacity with mod-script-pipe left disabled: the script says what to do.

A file of its own: the Audacity of test_audacity_host.py, which has the module,
must not be running (both would use the same pipe names in /tmp).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import PLUGINS
from .real_audacity import pipe_paths, running_audacity

SCRIPT = PLUGINS / "audacity" / "deecho_audacity.py"


def test_audacity_without_the_module_gets_the_message_the_readme_promises(
    tmp_path: Path, deecho_bin: Path
) -> None:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("DEECHO_")}
    with running_audacity(tmp_path, base_env, module_enabled=False) as audacity:
        assert audacity.process.poll() is None, "Audacity is up, with its project window"
        assert not any(p.exists() for p in pipe_paths()), "a disabled module opens no pipe"
        env = dict(audacity.env)
        env["PATH"] = os.pathsep.join([str(deecho_bin.parent), "/usr/bin", "/bin"])
        done = subprocess.run(
            [sys.executable, str(SCRIPT)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 69
    message = done.stderr.strip()
    assert message.count("\n") == 0 and message.startswith("deecho: ")
    assert "Audacity's scripting pipe is not open" in message
    assert "enable mod-script-pipe in Edit > Preferences > Modules, restart it" in message
