"""Real Audacity under Xvfb, with mod-script-pipe enabled in a throwaway config folder.

Audacity 3.x asks once about each new module; it loads one without asking when
its config holds, for that module, the status "enabled" (1), the module's path,
and the module file's modification time (ModuleSettings.cpp: a path or time that
does not match resets it to "new"). The test writes exactly that, in a fresh
HOME, so the user's own Audacity settings are never read or touched.

mod-script-pipe listens on fixed names, /tmp/audacity_script_pipe.{to,from}.UID,
and after each client disconnects it removes and re-creates them; clients
(this harness and the plugin) take turns.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODULE = Path("/usr/lib/audacity/modules/mod-script-pipe.so")
#: start-up of Xvfb, and of Audacity up to its first answer on the pipe
START_TIMEOUT_S = 60.0
#: one command (import, export of a few seconds of audio)
COMMAND_TIMEOUT_S = 60.0


class HostFailed(AssertionError):
    """The host did not come up or did not answer; the message carries its log."""


def pipe_paths() -> tuple[Path, Path]:
    uid = os.getuid()
    return (
        Path(f"/tmp/audacity_script_pipe.to.{uid}"),
        Path(f"/tmp/audacity_script_pipe.from.{uid}"),
    )


def _log_tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"(no log at {path})"
    text = path.read_text(errors="replace").splitlines()
    # GTK's repeated warnings about a display without a window manager say nothing here
    kept = [line for line in text if line.strip() and "Gdk-CRITICAL" not in line]
    return "\n".join(kept[-lines:]) or "(log is empty but for GTK warnings)"


def _stop(process: subprocess.Popen[Any] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextmanager
def xvfb(log: Path) -> Iterator[str]:
    """A virtual X display of its own (Xvfb picks a free number); yields DISPLAY."""
    read_end, write_end = os.pipe()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *("Xvfb", "-displayfd", str(write_end), "-nolisten", "tcp"),
                *("-screen", "0", "1280x1024x24"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            pass_fds=(write_end,),
        )
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], START_TIMEOUT_S)
        number = os.read(read_end, 64).decode().strip() if ready else ""
        if not number:
            _stop(process)
            raise HostFailed(f"Xvfb did not start in {START_TIMEOUT_S:.0f} s:\n{_log_tail(log)}")
        yield f":{number}"
    finally:
        os.close(read_end)
        _stop(process)


def write_config(home: Path, temp_dir: Path, module_enabled: bool) -> Path:
    """audacity.cfg for a first start: no splash screen, the module's status decided."""
    mtime = dt.datetime.fromtimestamp(MODULE.stat().st_mtime, tz=dt.UTC)
    folder = home / ".config" / "audacity"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "audacity.cfg"
    config.write_text(
        "PrefsVersion=1.1.1r1\n"  # without it Audacity takes the file for an old one and resets it
        "[Version]\nMajor=3\nMinor=2\nMicro=4\n"
        "[GUI]\nShowSplashScreen=0\n"
        f"[Directories]\nTempDir={temp_dir}\n"
        f"[Module]\nmod-script-pipe={1 if module_enabled else 0}\n"
        f"[ModulePath]\nmod-script-pipe={MODULE}\n"
        # wxDateTime::FormatISOCombined of the file's time, in the TZ Audacity runs in (UTC)
        f"[ModuleDateTime]\nmod-script-pipe={mtime.strftime('%Y-%m-%dT%H:%M:%S')}\n",
        encoding="utf-8",
    )
    return config


class PipeClient:
    """One conversation over mod-script-pipe, as any script has it."""

    def __init__(self, log: Path) -> None:
        to_path, from_path = pipe_paths()
        self.log = log
        self._to = os.open(to_path, os.O_WRONLY | os.O_NONBLOCK)
        os.set_blocking(self._to, True)
        self._from = os.open(from_path, os.O_RDONLY)
        self._pending = b""

    def close(self) -> None:
        os.close(self._to)
        os.close(self._from)

    def _answer(self, timeout_s: float) -> str | None:
        """The next answer (its text through `BatchCommand finished: ...`), or None."""
        deadline = time.monotonic() + timeout_s
        # an answer: its text, a line `BatchCommand finished: ...`, then an empty line
        while not (b"BatchCommand finished: " in self._pending and b"\n\n" in self._pending):
            ready, _, _ = select.select([self._from], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                return None
            chunk = os.read(self._from, 65536)
            if not chunk:
                raise HostFailed(f"Audacity closed the pipe:\n{_log_tail(self.log)}")
            self._pending += chunk
        finished = self._pending.index(b"BatchCommand finished: ")
        end = self._pending.index(b"\n\n", finished) + 2
        answer, self._pending = self._pending[:end].decode(), self._pending[end:]
        return answer

    def command(self, text: str) -> str:
        """Sends one command; returns its answer; fails with Audacity's words and log."""
        os.write(self._to, (text + "\n").encode())
        answer = self._answer(COMMAND_TIMEOUT_S)
        if answer is None:
            raise HostFailed(
                f"Audacity did not answer `{text}` within {COMMAND_TIMEOUT_S:.0f} s:\n"
                + _log_tail(self.log)
            )
        body, _, status = answer.rstrip("\n").rpartition("BatchCommand finished: ")
        assert status == "OK", f"Audacity refused `{text}`: {answer.strip()}"
        return body

    def wait_until_answering(self) -> None:
        """Audacity drops, unanswered, commands that come before it can run them
        (its window may already be up): ask, numbered, until one is answered."""
        deadline = time.monotonic() + START_TIMEOUT_S
        number = 0
        while time.monotonic() < deadline:
            number += 1
            os.write(self._to, f"Message: Text=ready{number}\n".encode())
            while (answer := self._answer(1.0)) is not None:
                if f"ready{number}" in answer:
                    return
        raise HostFailed(
            f"Audacity did not answer on its pipe within {START_TIMEOUT_S:.0f} s:\n"
            + _log_tail(self.log)
        )

    def tracks(self) -> list[dict[str, Any]]:
        tracks: list[dict[str, Any]] = json.loads(self.command("GetInfo: Type=Tracks Format=JSON"))
        return tracks


@dataclass
class Audacity:
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str]

    @contextmanager
    def client(self) -> Iterator[PipeClient]:
        """Connects once the pipe listens again (the last client's turn may still be ending)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise HostFailed(
                    f"Audacity exited with status {self.process.returncode}:\n{_log_tail(self.log)}"
                )
            try:
                connection = PipeClient(self.log)
                break
            except OSError:  # not there yet (ENOENT) or nobody reading yet (ENXIO)
                if time.monotonic() > deadline:
                    raise HostFailed(
                        f"mod-script-pipe did not open within {START_TIMEOUT_S:.0f} s:\n"
                        + _log_tail(self.log)
                    ) from None
                time.sleep(0.1)
        try:
            yield connection
        finally:
            connection.close()


def _clear_stale_pipes() -> None:
    """Removes pipes a killed Audacity left; refuses to run beside a live one."""
    for path in pipe_paths():
        if not path.exists():
            continue
        if path.name.startswith("audacity_script_pipe.to."):
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass  # nobody reads it: left behind
            else:
                raise HostFailed(f"another Audacity is listening on {path}; close it first")
        path.unlink()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if fields[1] == str(pid):
                found.append(int(entry.name))
    return found


@contextmanager
def _audacity_process(workdir: Path, env: dict[str, str], log: Path) -> Iterator[Audacity]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            ["audacity"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=workdir
        )
    audacity = Audacity(process, log, env)
    try:
        yield audacity
    finally:
        _stop(process)


@contextmanager
def running_audacity(
    workdir: Path, env: dict[str, str], module_enabled: bool = True
) -> Iterator[Audacity]:
    """Starts Audacity on a display of its own; stops it and the display afterwards.

    Audacity is started twice, as a user's has been: on a first start it scans for
    plug-ins in a helper process (`audacity --host PORT`), and that process loads
    mod-script-pipe too, which re-creates the pipes under the main process and
    leaves them with no reader when it exits (seen with Debian's 3.2.4: scripts
    then get ENXIO). The second start finds the plug-ins registered and scans nothing.
    """
    assert MODULE.exists(), f"{MODULE} is missing: `make system-deps` installs audacity"
    home = workdir / "home"
    temp_dir = workdir / "audacity-temp"
    temp_dir.mkdir(parents=True)
    write_config(home, temp_dir, module_enabled)
    log = workdir / "audacity.log"
    with xvfb(workdir / "xvfb.log") as display:
        host_env = {
            **env,
            "DISPLAY": display,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "TZ": "UTC",
            "NO_AT_BRIDGE": "1",  # no accessibility bus to wait for
        }
        try:
            _clear_stale_pipes()
            with _audacity_process(workdir, host_env, log) as first:
                wait_for_project_window(first, temp_dir)
                registry = home / ".config" / "audacity" / "pluginregistry.cfg"
                deadline = time.monotonic() + START_TIMEOUT_S
                # the plug-in scan: its helper process, then the registry it fills
                while _children(first.process.pid) or not registry.exists():
                    if time.monotonic() > deadline:
                        raise HostFailed(
                            f"Audacity's plug-in scan did not end within {START_TIMEOUT_S:.0f} s:"
                            f"\n{_log_tail(log)}"
                        )
                    time.sleep(0.1)
            for stale in temp_dir.iterdir():
                stale.unlink()
            _clear_stale_pipes()
            with _audacity_process(workdir, host_env, log) as audacity:
                wait_for_project_window(audacity, temp_dir)
                if module_enabled:
                    with audacity.client() as pipe:
                        pipe.wait_until_answering()
                yield audacity
        finally:
            if module_enabled:
                for path in pipe_paths():
                    path.unlink(missing_ok=True)


def wait_for_project_window(audacity: Audacity, temp_dir: Path) -> None:
    """Without the pipe, the autosave file of the new project says Audacity is up."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while not any(temp_dir.glob("*.aup3unsaved")):
        if audacity.process.poll() is not None:
            raise HostFailed(
                f"Audacity exited with status {audacity.process.returncode}:\n"
                + _log_tail(audacity.log)
            )
        if time.monotonic() > deadline:
            raise HostFailed(
                f"Audacity opened no project within {START_TIMEOUT_S:.0f} s:\n"
                + _log_tail(audacity.log)
            )
        time.sleep(0.2)
