"""Keys: every action has an id and a tooltip, shows in the palette and the help, and remaps."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.binding import Binding
from tui_support import settle

from deecho.backends import get_backend
from deecho.config import Settings, WorkspaceSettings
from deecho.history import History
from deecho.tui.app import DeechoApp
from deecho.tui.compare_view import CompareScreen
from deecho.tui.help import HelpScreen
from deecho.tui.history_view import HistoryScreen
from deecho.tui.picker import FilePicker
from deecho.tui.waveform import Waveform
from deecho.tui.workspace import WorkspaceScreen

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]


@pytest.mark.parametrize(
    "owner",
    [DeechoApp, WorkspaceScreen, CompareScreen, HistoryScreen, HelpScreen, FilePicker, Waveform],
)
def test_every_binding_has_an_id_and_a_tooltip(owner: type) -> None:
    bindings = [binding for binding in owner.BINDINGS if isinstance(binding, Binding)]
    assert bindings and len(bindings) == len(owner.BINDINGS)
    for binding in bindings:
        assert binding.id and binding.tooltip and binding.description, binding


async def test_palette_and_help_offer_every_action(take: Path, history: History) -> None:
    app = DeechoApp(take, settings=Settings(), history=history)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: isinstance(screen, WorkspaceScreen) and screen.info is not None)
        titles = {command.title for command in app.get_system_commands(screen)}
        for binding in [*WorkspaceScreen.BINDINGS, *Waveform.BINDINGS, *DeechoApp.BINDINGS]:
            assert isinstance(binding, Binding)
            assert binding.description in titles
        await pilot.press("f1")
        await settle(pilot, lambda: isinstance(app.screen, HelpScreen))
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        listed = {row[3] for row in help_screen.keys}
        assert {"process", "cancel", "open", "zoom_in", "history", "help"} <= listed


async def test_remapped_keys_drive_the_job_and_cancel_keeps_nothing(
    long_take: Path, history: History
) -> None:
    take = long_take  # still running when the cancel key comes
    keymap = {"process": "ctrl+r", "cancel": "ctrl+k"}
    settings = Settings(workspace=WorkspaceSettings(keymap=keymap))
    app = DeechoApp(
        take, settings=settings, backend=get_backend("local", settings), history=history
    )
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, WorkspaceScreen)
        await settle(pilot, lambda: screen.prep.preview is not None)
        await pilot.press("p")  # the old key does nothing now
        await pilot.pause()
        assert screen.job.job_id is None
        await pilot.press("ctrl+r")
        assert screen.job.running and screen.job.job_id is not None
        await pilot.press("ctrl+k")
        await settle(pilot, lambda: not screen.job.running)
        assert screen.job.status is not None and screen.job.status.status == "CANCELLED"
        assert isinstance(app.screen, WorkspaceScreen)
    assert history.recent()[0].status == "CANCELLED"
    assert sorted(path.name for path in take.parent.iterdir()) == ["take.wav"]


async def test_backend_choice_and_server_key_persist(
    take: Path, history: History, isolated_settings: Path
) -> None:
    app = DeechoApp(take, settings=Settings(), history=history)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, WorkspaceScreen)
        await settle(pilot, lambda: screen.info is not None)
        await pilot.press("b")  # local -> deecho server
        assert screen.backend.choice == "server"
        screen.query_one("#server-url").focus()
        await pilot.press(*"http://127.0.0.1:8765")
        await pilot.press("tab", *"s3cret", "escape")  # the key field, then back to the waveform
        await pilot.pause()
    text = isolated_settings.read_text()
    assert 'backend = "http://127.0.0.1:8765"' in text
    reloaded = Settings()  # as the next start reads it
    assert reloaded.workspace.server_url == "http://127.0.0.1:8765"
    assert reloaded.workspace.server_api_key is not None
    assert reloaded.workspace.server_api_key.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(reloaded)  # a secret, never shown
    assert (isolated_settings.stat().st_mode & 0o077) == 0  # readable by its owner only
    again = DeechoApp(take, settings=reloaded, history=history)
    assert again.initial_backend_choice() == "server"
