"""A stand-in for Audacity's mod-script-pipe on two FIFOs (os.mkfifo).

It answers the way Audacity does: the command's text, then a line
`BatchCommand finished: OK` (or `Failed!`), then an empty line. It keeps a
small project (tracks with audio, a time selection) so the commands the
deecho script sends have visible effects the tests can check.
"""

from __future__ import annotations

import json
import os
import shlex
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

QUIT = "__fake_audacity_quit__"


@dataclass
class Track:
    name: str
    audio: np.ndarray  # (channels, samples)
    rate: int
    start: float = 0.0
    selected: bool = False

    @property
    def end(self) -> float:
        return self.start + self.audio.shape[1] / self.rate

    def info(self) -> dict[str, object]:
        # the keys and 0/1 flags of GetInfo: Type=Tracks Format=JSON
        return {
            "name": self.name,
            "focused": 0,
            "selected": int(self.selected),
            "kind": "wave",
            "start": self.start,
            "end": self.end,
            "pan": 0,
            "gain": 1,
            "channels": self.audio.shape[0],
            "solo": 0,
            "mute": 0,
            "VZoomMin": -1,
            "VZoomMax": 1,
        }


@dataclass
class Project:
    tracks: list[Track]
    selection: tuple[float, float]
    saved_selection: tuple[float, float] | None = None
    commands: list[str] = field(default_factory=list)
    #: some Audacity versions may leave the old tracks selected after an import
    import_keeps_selection: bool = False


def parse_command(line: str) -> tuple[str, dict[str, str]]:
    """`Name: Key=Value Key="quoted value"` -> ("Name", {...})."""
    name, _, rest = line.partition(":")
    params = {}
    for word in shlex.split(rest):
        key, _, value = word.partition("=")
        params[key] = value
    return name.strip(), params


class FakeAudacity:
    def __init__(self, pipe_dir: Path, project: Project, host: str = "audacity") -> None:
        self.project = project
        uid = os.getuid()
        self.to_path = pipe_dir / f"{host}_script_pipe.to.{uid}"
        self.from_path = pipe_dir / f"{host}_script_pipe.from.{uid}"
        os.mkfifo(self.to_path, 0o600)
        os.mkfifo(self.from_path, 0o600)
        # Audacity holds the command pipe open for reading from start-up; O_RDWR
        # does that without blocking and without seeing end-of-file between clients.
        self._to_fd = os.open(self.to_path, os.O_RDWR)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        reader = os.fdopen(self._to_fd, "r", encoding="utf-8")
        # like Audacity: the answer pipe opens (blocking) once a client reads it
        with open(self.from_path, "w", encoding="utf-8") as writer:
            for line in reader:
                command = line.rstrip("\n")
                if command == QUIT:
                    break
                if command:
                    writer.write(self.answer(command))
                    writer.flush()
        reader.close()

    def stop(self) -> None:
        # release the answer pipe's open() if no client ever came, then quit
        unblock = os.open(self.from_path, os.O_RDONLY | os.O_NONBLOCK)
        quit_fd = os.open(self.to_path, os.O_WRONLY | os.O_NONBLOCK)
        os.write(quit_fd, (QUIT + "\n").encode())
        self._thread.join(timeout=10)
        os.close(quit_fd)
        os.close(unblock)

    def answer(self, command: str) -> str:
        self.project.commands.append(command)
        name, params = parse_command(command)
        handler = getattr(self, f"_do_{name}", None)
        if handler is None:
            unknown = f"Your batch command of {name} was not recognized."
            return f"{unknown}\nBatchCommand finished: Failed!\n\n"
        try:
            text = handler(params)
        except Exception as exc:  # a refused command, as Audacity reports it
            return f"{exc}\nBatchCommand finished: Failed!\n\n"
        return f"{text}BatchCommand finished: OK\n\n"

    # --- the commands the deecho script uses -------------------------------

    def _do_GetInfo(self, params: dict[str, str]) -> str:
        if params.get("Type") != "Tracks" or params.get("Format", "JSON") != "JSON":
            raise ValueError("this fake answers GetInfo: Type=Tracks Format=JSON only")
        return json.dumps([t.info() for t in self.project.tracks], indent=1) + "\n"

    def _do_SelSave(self, params: dict[str, str]) -> str:
        self.project.saved_selection = self.project.selection
        return ""

    def _do_SelRestore(self, params: dict[str, str]) -> str:
        if self.project.saved_selection is None:
            raise ValueError("no saved selection")
        self.project.selection = self.project.saved_selection
        return ""

    def _do_Export2(self, params: dict[str, str]) -> str:
        path = Path(params["Filename"])
        channels = int(params.get("NumChannels", "1"))
        t0, t1 = self.project.selection
        chosen = [t for t in self.project.tracks if t.selected]
        if not chosen or t1 <= t0:
            raise ValueError("Nothing to export")
        rate = chosen[0].rate
        frames = round((t1 - t0) * rate)
        mix = np.zeros((channels, frames))
        for track in chosen:
            first = round((t0 - track.start) * rate)
            part = track.audio[:, max(first, 0) : first + frames]
            for c in range(channels):
                mix[c, max(-first, 0) : max(-first, 0) + part.shape[1]] += part[
                    min(c, part.shape[0] - 1)
                ]
        sf.write(path, mix.T, rate, subtype="PCM_16")  # Audacity's default WAV format
        return ""

    def _do_Import2(self, params: dict[str, str]) -> str:
        audio, rate = sf.read(params["Filename"], always_2d=True, dtype="float32")
        if not self.project.import_keeps_selection:
            for track in self.project.tracks:
                track.selected = False
        track = Track(Path(params["Filename"]).stem, audio.T, rate, 0.0, True)
        self.project.tracks.append(track)
        self.project.selection = (0.0, track.end)  # Audacity selects what it imported
        return ""

    def _do_SelectTracks(self, params: dict[str, str]) -> str:
        first = int(params.get("Track", "0"))
        count = int(params.get("TrackCount", "1"))
        mode = params.get("Mode", "Set")
        chosen = range(first, first + count)
        for index, track in enumerate(self.project.tracks):
            if mode == "Set":
                track.selected = index in chosen
            elif index in chosen:
                track.selected = mode == "Add"
        return ""

    def _do_Align_StartToSelStart(self, params: dict[str, str]) -> str:
        for track in self.project.tracks:
            if track.selected:
                track.start = self.project.selection[0]
        return ""

    def _do_SetTrack(self, params: dict[str, str]) -> str:
        for track in self.project.tracks:
            if track.selected and "Name" in params:
                track.name = params["Name"]
        return ""
