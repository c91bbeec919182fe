"""Opening a link in the workspace: the picker's field, the download's progress, its failure."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input
from tui_support import settle

from deecho.config import Settings
from deecho.history import History
from deecho.tui.app import DeechoApp
from deecho.tui.download_line import DownloadLine
from deecho.tui.picker import FilePicker
from deecho.tui.workspace import WorkspaceScreen
from media_site import media_site

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]


async def _give_link(app: DeechoApp, pilot: Pilot[None], link: str) -> None:
    """In the picker that opens without a file: type the link in its field, press Enter."""
    await settle(pilot, lambda: isinstance(app.screen, FilePicker))
    field = app.screen.query_one("#picker-url", Input)
    field.focus()
    field.value = link
    await pilot.press("enter")


async def test_a_page_link_is_downloaded_then_opened(
    take: Path, history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[str] = []  # every state of the download line, as drawn
    show_progress = DownloadLine._show_progress

    def recorded(line: DownloadLine, fraction: float, stage: str) -> None:
        show_progress(line, fraction, stage)
        shown.append(str(line.render()))

    monkeypatch.setattr(DownloadLine, "_show_progress", recorded)
    empty = tmp_path / "empty"
    empty.mkdir()
    with media_site() as site:
        site.file("/files/take.wav", take.read_bytes(), "audio/wav")
        site.html("/session.html", '<audio src="/files/take.wav"></audio>', title="Vocal take")
        app = DeechoApp(None, settings=Settings(), history=history, start_dir=empty)
        async with app.run_test(size=(120, 40)) as pilot:
            await _give_link(app, pilot, site.url("/session.html"))
            await settle(pilot, lambda: isinstance(app.screen, WorkspaceScreen))
            screen = app.screen
            assert isinstance(screen, WorkspaceScreen)
            line = screen.query_one(DownloadLine)
            await settle(pilot, lambda: screen.info is not None)
            assert screen.path is not None
            assert screen.path.parent == history.downloads_folder()
            assert screen.path.name == "Vocal take.wav"
            assert screen.path.read_bytes() == take.read_bytes()
            assert not line.display and line.failure is None  # done: the line is gone
    # The download showed its stage and percent, the page's recording by its title.
    assert shown[0].endswith("connecting    0 %")
    assert any("downloading Vocal take  100 %" in text for text in shown), shown
    assert "/files/take.wav" in site.requests
    assert list(empty.iterdir()) == []  # nothing written where the picker opened


async def test_a_page_without_media_keeps_its_reason_on_screen(
    history: History, tmp_path: Path
) -> None:
    with media_site() as site:
        site.html("/notes.html", "<p>no player here</p>")
        app = DeechoApp(None, settings=Settings(), history=history, start_dir=tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await _give_link(app, pilot, site.url("/notes.html"))
            await settle(pilot, lambda: isinstance(app.screen, WorkspaceScreen))
            screen = app.screen
            line = screen.query_one(DownloadLine)
            await settle(pilot, lambda: line.failure is not None)
            app.clear_notifications()  # the toast goes; the line stays
            await pilot.pause()
            shown = str(line.render())
            assert line.display and "no audio or video found" in shown
            assert "Download failed" in shown and "Traceback" not in shown
            assert screen.path is None
    assert list(history.downloads_folder().iterdir()) == []  # no partial file left behind


async def test_text_that_is_not_a_link_is_answered_in_the_picker(
    history: History, tmp_path: Path
) -> None:
    app = DeechoApp(None, settings=Settings(), history=history, start_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _give_link(app, pilot, "ftp://example.org/take.wav")
        await pilot.pause()
        assert isinstance(app.screen, FilePicker)  # still open, and says why
        assert "Not a link" in str(app.screen.query_one("#picker-note").render())
