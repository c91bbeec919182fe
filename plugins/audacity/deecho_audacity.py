#!/usr/bin/env python3
"""Remove echo from the audio selected in Audacity (or Tenacity) with deecho.

Audacity's Nyquist plug-ins cannot start other programs, so this script
drives Audacity from outside through mod-script-pipe: it exports the selected
audio, runs `deecho process` on it, imports the result as a new track and
lines that track up with the selection.

Run it while Audacity is open with mod-script-pipe enabled:

    python3 deecho_audacity.py [--strength 0.8]

Standard library only; needs the `deecho` command (or --deecho PATH).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

EX_UNAVAILABLE = 69  # the host (its pipe) or deecho is not there; deecho's own codes pass through

#: How long a command may take before we decide Audacity is stuck (a modal
#: dialog open, for instance); exporting or importing hours of audio is slow.
DEFAULT_TIMEOUT_S = 300.0


class PipeError(Exception):
    """Talking to Audacity (or running deecho) failed; the message says what to do."""

    def __init__(self, message: str, exit_code: int = EX_UNAVAILABLE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class PipePair:
    host: str  # "Audacity" or "Tenacity"
    to_host: str  # we write commands here
    from_host: str  # and read answers here


def candidate_pipes(platform: str, uid: int | None, pipe_dir: str = "/tmp") -> list[PipePair]:
    """Where mod-script-pipe listens, for Audacity and Tenacity, on this platform."""
    if platform == "win32":
        # Both hosts use the same names on Windows, so one candidate covers them.
        return [PipePair("Audacity or Tenacity", r"\\.\pipe\ToSrvPipe", r"\\.\pipe\FromSrvPipe")]
    pairs = []
    for host, prefix in (("Audacity", "audacity"), ("Tenacity", "tenacity")):
        pairs.append(
            PipePair(
                host,
                os.path.join(pipe_dir, f"{prefix}_script_pipe.to.{uid}"),
                os.path.join(pipe_dir, f"{prefix}_script_pipe.from.{uid}"),
            )
        )
    return pairs


def _pipe_dir() -> str:
    return os.environ.get("DEECHO_AUDACITY_PIPE_DIR", "/tmp")


class HostPipe:
    """One conversation with Audacity over its two named pipes."""

    def __init__(self, pair: PipePair, timeout_s: float) -> None:
        self.pair = pair
        self.timeout_s = timeout_s
        self.eol = "\r\n\0" if sys.platform == "win32" else "\n"
        self._to: IO[str]
        self._from: IO[str]  # Windows
        self._from_fd = -1  # elsewhere
        self._pending = b""
        self._open()

    def _open(self) -> None:
        if sys.platform == "win32":
            self._to = open(self.pair.to_host, "w", encoding="utf-8")  # noqa: SIM115
            self._from = open(self.pair.from_host, encoding="utf-8")  # noqa: SIM115
            return
        # A FIFO left behind by a crashed Audacity has no reader, and a plain
        # open() would wait forever: open without blocking to find out.
        try:
            fd = os.open(self.pair.to_host, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            # Audacity 3.2 also leaves its pipe unread after a start on which it
            # scanned new plug-ins: its scanner process takes the pipe names over.
            raise PipeError(
                f"{self.pair.to_host} exists but {self.pair.host} is not listening "
                f"({exc.strerror}); start {self.pair.host} (with mod-script-pipe enabled), "
                "or restart it if it is open, and run this again"
            ) from None
        os.set_blocking(fd, True)
        self._to = os.fdopen(fd, "w", encoding="utf-8")
        # Raw reads with our own line buffer, so select() sees every byte
        # still to come (a buffered file would hide lines it already holds).
        self._from_fd = os.open(self.pair.from_host, os.O_RDONLY)

    def close(self) -> None:
        try:
            self._to.close()
            if sys.platform == "win32":
                self._from.close()
            else:
                os.close(self._from_fd)
        except OSError:
            pass

    def _readline(self) -> str:
        if sys.platform == "win32":
            line = self._from.readline()
            if line == "":
                raise PipeError(f"{self.pair.host} closed the scripting pipe")
            return line
        import select

        while b"\n" not in self._pending:
            ready, _, _ = select.select([self._from_fd], [], [], self.timeout_s)
            if not ready:
                raise PipeError(
                    f"{self.pair.host} did not answer within {self.timeout_s:.0f} s; "
                    "close any open dialog in it and try again"
                )
            chunk = os.read(self._from_fd, 65536)
            if not chunk:
                raise PipeError(f"{self.pair.host} closed the scripting pipe")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode("utf-8", errors="replace") + "\n"

    def command(self, text: str) -> list[str]:
        """Sends one command; returns the answer's lines; raises if it failed."""
        self._to.write(text + self.eol)
        self._to.flush()
        lines: list[str] = []
        status = None
        while True:
            line = self._readline().rstrip("\r\n")
            if status is not None and line == "":
                break  # the blank line after the status ends an answer
            if line.startswith("BatchCommand finished:"):
                status = line.split(":", 1)[1].strip()
            else:
                lines.append(line)
        if status != "OK":
            detail = "; ".join(line for line in lines if line) or "no details"
            raise PipeError(f"{self.pair.host} refused `{text}` ({status}): {detail}")
        return lines


def connect(timeout_s: float) -> HostPipe:
    tried = []
    for pair in candidate_pipes(sys.platform, getattr(os, "getuid", lambda: None)(), _pipe_dir()):
        tried.append(pair.to_host)
        if sys.platform == "win32" or (
            os.path.exists(pair.to_host) and os.path.exists(pair.from_host)
        ):
            try:
                return HostPipe(pair, timeout_s)
            except FileNotFoundError:
                continue
    raise PipeError(
        "Audacity's scripting pipe is not open (looked for "
        + ", ".join(tried)
        + "). Start Audacity or Tenacity, enable mod-script-pipe in Edit > Preferences > "
        "Modules, restart it, and run this again."
    )


def find_deecho(explicit: str | None) -> str:
    for candidate in (explicit, os.environ.get("DEECHO_BIN")):
        if candidate:
            if shutil.which(candidate) or Path(candidate).is_file():
                return candidate
            raise PipeError(f"deecho not found at {candidate}")
    found = shutil.which("deecho")
    if not found:
        raise PipeError(
            "the deecho command is not on PATH; install it (pipx install deecho) "
            "or pass --deecho /full/path/to/deecho"
        )
    return found


def all_tracks(pipe: HostPipe) -> list[dict[str, Any]]:
    answer = pipe.command("GetInfo: Type=Tracks Format=JSON")
    text = "\n".join(answer).strip()
    try:
        tracks = json.loads(text)
    except json.JSONDecodeError:
        raise PipeError(f"{pipe.pair.host} sent track info that is not JSON") from None
    if not isinstance(tracks, list):
        raise PipeError(f"{pipe.pair.host} sent track info that is not a list")
    return tracks


def selected_wave_tracks(tracks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for t in tracks if t.get("kind") == "wave" and t.get("selected")]


def select_only_new_tracks(pipe: HostPipe, count_before: int) -> None:
    """Leave only the imported track(s) selected, so aligning moves nothing else."""
    tracks = all_tracks(pipe)
    new = len(tracks) - count_before
    if new < 1:
        raise PipeError(f"{pipe.pair.host} imported nothing")
    selected = [i for i, t in enumerate(tracks) if t.get("selected")]
    if selected != list(range(count_before, len(tracks))):
        pipe.command(f"SelectTracks: Track={count_before} TrackCount={new} Mode=Set")


def _quoted(path: Path) -> str:
    text = str(path)
    if '"' in text:
        raise PipeError(f"cannot pass a path containing a double quote to Audacity: {text}")
    return f'"{text}"'


def run_deecho(
    deecho: str, selection: Path, output: Path, strength: float | None
) -> dict[str, Any]:
    command = [deecho, "process", str(selection), "-o", str(output), "--json"]
    if strength is not None:
        command += ["--strength", str(strength)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        said = done.stderr.strip().splitlines()
        reason = said[-1] if said else f"exit status {done.returncode}"
        raise PipeError(f"deecho failed: {reason}", exit_code=done.returncode)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def default_output_dir() -> Path:
    # Audacity may read imported WAVs in place, so results must outlive a temp folder.
    return Path.home() / "deecho" / "audacity"


def remove_echo(args: argparse.Namespace) -> str:
    deecho = find_deecho(args.deecho)
    pipe = connect(args.timeout)
    try:
        before = all_tracks(pipe)
        tracks = selected_wave_tracks(before)
        if not tracks:
            raise PipeError("select some audio in Audacity first (no audio track is selected)")
        channels = max(int(t.get("channels", 1)) for t in tracks)
        name = str(tracks[0].get("name") or "audio")

        out_dir = Path(args.output_dir or default_output_dir())
        out_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        safe_name = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        output = out_dir / f"{safe_name}-{stamp}.no_echo.wav"
        n = 2
        while output.exists():
            output = out_dir / f"{safe_name}-{stamp}-{n}.no_echo.wav"
            n += 1

        with tempfile.TemporaryDirectory(prefix="deecho-audacity-") as work:
            selection = Path(work) / "selection.wav"
            # Remember the time selection: importing changes it, and we line
            # the new track up with it afterwards.
            pipe.command("SelSave:")
            pipe.command(f"Export2: Filename={_quoted(selection)} NumChannels={channels}")
            result = run_deecho(deecho, selection, output, args.strength)
        pipe.command(f"Import2: Filename={_quoted(Path(result['output']))}")
        select_only_new_tracks(pipe, len(before))
        pipe.command("SelRestore:")
        pipe.command("Align_StartToSelStart:")
        track_name = f"{name} (deecho)".replace('"', "'")
        pipe.command(f'SetTrack: Name="{track_name}"')
    finally:
        pipe.close()
    return f"added track {track_name!r} from {result['output']}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Remove echo from the selection in Audacity/Tenacity with deecho "
        "(through mod-script-pipe).",
    )
    parser.add_argument("--deecho", metavar="PATH", help="the deecho command (default: on PATH)")
    parser.add_argument("--strength", type=float, metavar="X", help="0..1, how much to remove")
    parser.add_argument(
        "--output-dir",
        metavar="DIR",
        help=f"where de-echoed files are kept (default: {default_output_dir()})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help="seconds to wait for Audacity to answer one command",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        print(f"deecho: {remove_echo(args)}")
    except PipeError as exc:
        print(f"deecho: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("deecho: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
