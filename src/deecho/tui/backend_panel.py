"""The backend panel: where the audio goes (local engine, a deecho server, MusicGPT).

A widget that owns its part of the workspace: the choice, the server's URL and key,
and the note on what each choice costs. It keeps them in the settings through its
host; the job reads `choice` and `server_url` when it starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Select, Static

from deecho.kinds import BackendKind

if TYPE_CHECKING:
    from deecho.tui.host import WorkspaceHost

__all__ = ["BACKEND_CHOICES", "BackendPanel"]

BACKEND_CHOICES = [
    ("Local engine", BackendKind.LOCAL),
    ("deecho server", BackendKind.SERVER),
    ("MusicGPT (credits)", BackendKind.MUSICGPT),
]
_CREDITS_WARNING = (
    "MusicGPT runs on the vendor's servers and spends credits from your account on every job;"
    " the credit estimate shows here once it accepts the task."
)


class BackendPanel(Vertical):
    """The workspace's backend choice, and the server's URL and key."""

    def __init__(self, host: WorkspaceHost) -> None:
        super().__init__(id="backend", classes="panel")
        self._host = host

    def compose(self) -> ComposeResult:
        yield Select(
            BACKEND_CHOICES, value=BackendKind.LOCAL, allow_blank=False, id="backend-choice"
        )
        yield Input(placeholder="http://127.0.0.1:8000", id="server-url")
        yield Input(placeholder="API key (kept in settings)", password=True, id="server-key")
        yield Static("", id="backend-note")

    def on_mount(self) -> None:
        self.border_title = "Backend"
        settings = self._host.settings.workspace
        choice = self._host.initial_backend_choice()
        self.query_one("#backend-choice", Select).value = choice
        self.query_one("#server-url", Input).value = settings.server_url or ""
        if settings.server_api_key is not None:
            self.query_one("#server-key", Input).value = settings.server_api_key.get_secret_value()
        self._show_note(choice)

    @property
    def choice(self) -> BackendKind:
        return BackendKind(str(self.query_one("#backend-choice", Select).value))

    @property
    def server_url(self) -> str:
        return self.query_one("#server-url", Input).value.strip()

    def cycle(self) -> None:
        select = self.query_one("#backend-choice", Select)
        order = [value for _, value in BACKEND_CHOICES]
        select.value = order[(order.index(self.choice) + 1) % len(order)]

    @on(Select.Changed, "#backend-choice")
    def _changed(self, event: Select.Changed) -> None:
        choice = BackendKind(str(event.value))
        self._show_note(choice)
        self._host.remember_backend(choice)

    @on(Input.Submitted, "#server-url, #server-key")
    @on(Input.Blurred, "#server-url, #server-key")
    def remember_server(self) -> None:
        """Keep what the server fields say in the settings (also done when a job starts)."""
        self._host.remember_server(
            self.server_url or None,
            self.query_one("#server-key", Input).value.strip() or None,
        )

    def _show_note(self, choice: BackendKind) -> None:
        server = choice is BackendKind.SERVER
        self.query_one("#server-url", Input).display = server
        self.query_one("#server-key", Input).display = server
        note = self.query_one("#backend-note", Static)
        note.set_class(choice is BackendKind.MUSICGPT, "warning")
        if choice is BackendKind.MUSICGPT:
            has_key = self._host.settings.musicgpt_api_key is not None
            key = "" if has_key else " No key yet: set DEECHO_MUSICGPT_API_KEY."
            note.update(_CREDITS_WARNING + key)
        elif server:
            note.update("A `deecho serve` instance: no credits; the audio goes to that machine.")
        else:
            note.update("Runs here, in this process: no network, no key, no credits.")
