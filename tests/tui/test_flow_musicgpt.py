"""The workspace against MusicGPT as its documentation describes it (a local stub on loopback).

What the user must see: that it spends credits (before sending), the credit estimate (once
the vendor accepts the task), the vendor's statuses, and a result that came back late and
as an MP3, aligned onto what was sent.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from tui_support import settle

from deecho.api.client import DeechoClient
from deecho.audio.io import read_audio
from deecho.backends.http import HttpBackend
from deecho.config import Settings
from deecho.history import History
from deecho.tui.app import DeechoApp
from deecho.tui.compare_view import CompareScreen
from deecho.tui.workspace import WorkspaceScreen
from stubs.musicgpt import MusicGPTStub

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]

KEY = "vendor-key-for-the-stub"


async def test_musicgpt_says_what_it_costs_and_its_late_mp3_is_aligned(
    take: Path, history: History
) -> None:
    with MusicGPTStub(api_key=KEY) as stub:
        stub.result_delay_frames = 1000  # the vendor's file starts late
        # Polls half a second apart (the vendor's are seconds apart): each status the
        # stub walks through stays up long enough for the panel to show it.
        client = DeechoClient(
            stub.base_url, KEY, service="MusicGPT", min_poll_interval_s=0.5, timeout=30
        )
        settings = Settings(musicgpt_api_key=SecretStr(KEY), musicgpt_base_url=stub.base_url)
        app = DeechoApp(
            take, settings=settings, backend=HttpBackend("musicgpt", client), history=history
        )
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            assert isinstance(screen, WorkspaceScreen)
            await settle(pilot, lambda: screen.prep.preview is not None)
            assert screen.backend.choice == "musicgpt"
            note = str(screen.query_one("#backend-note").render())
            assert "spends credits" in note
            screen.query_one("#end").value = "3.0"  # type: ignore[attr-defined]
            await settle(
                pilot, lambda: screen.prep.preview is not None and screen.prep.preview.end_s == 3.0
            )
            seen: set[str] = set()
            shown: list[str] = []
            told: set[str] = set()

            def watching() -> bool:
                if screen.job.status is not None:
                    seen.add(screen.job.status.status)
                shown.append(str(screen.query_one("#job-status").render()))
                told.update(n.message for n in app._notifications if n.severity == "warning")
                return isinstance(app.screen, CompareScreen)

            await pilot.press("p")
            await settle(pilot, watching, timeout_s=240)
            assert {"IN_QUEUE", "IN_PROGRESS"} <= seen
            assert any("credit estimate 0.48" in text for text in shown)
            assert any("0.48 credits" in message for message in told)
            compare = app.screen
            assert isinstance(compare, CompareScreen)
            figures = compare.outcome.figures
            assert figures.offset_samples > 900  # found the late start (plus MP3 delay)
            assert figures.residual_db < -20  # and put it back on top of the original
            prepped, _ = read_audio(compare.outcome.prepped)
            aligned, _ = read_audio(compare.outcome.no_echo)
            assert aligned.shape == prepped.shape
    record = history.recent()[0]
    assert record.status == "COMPLETED" and record.backend == "musicgpt" and record.task_id
