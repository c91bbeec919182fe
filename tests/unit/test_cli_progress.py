"""The CLI's rich displays, rendered into a terminal-like console in memory."""

from __future__ import annotations

import io

from rich.console import Console

from deecho.backends.base import JobStatus
from deecho.cli.progress import BatchProgress, job_progress, stage_progress
from deecho.kinds import JobState


def terminal() -> tuple[Console, io.StringIO]:
    screen = io.StringIO()
    return Console(file=screen, force_terminal=True, width=120, color_system=None), screen


def test_the_batch_bar_shows_files_audio_hours_and_time_left():
    console, screen = terminal()
    with BatchProgress(4, console=console) as display:
        display.say("[1/4] skipped a.wav: done in an earlier run")
        display.ended(worked=False, audio_s=None)
        display.ended(worked=True, audio_s=5400.0)
        display.progress.refresh()
        shown = screen.getvalue()
    assert "done in an earlier run" in shown
    assert "2/4" in shown
    assert "1.50 h audio" in shown  # only what this run cleaned counts
    assert "-:--:-- left" not in shown.splitlines()[-1]  # one file worked: an estimate


def test_the_job_bar_follows_the_stages():
    console, screen = terminal()
    with job_progress(console) as show:
        assert show is not None
        show(JobStatus(JobState.IN_PROGRESS, fraction=0.5, stage="removing echo", eta_s=75))
    shown = screen.getvalue()
    assert "removing echo" in shown
    assert "50%" in shown
    assert "0:01:15 left" in shown


def test_the_download_bar_takes_fractions_and_stages():
    console, screen = terminal()
    with stage_progress(console) as step:
        assert step is not None
        step(0.25, "downloading take.flac")
    shown = screen.getvalue()
    assert "downloading take.flac" in shown
    assert "25%" in shown
