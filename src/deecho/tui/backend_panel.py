"""The backend panel: where the audio goes (local engine, a deecho server, MusicGPT).

A widget that owns its part of the workspace: the choice, the server's URL and key,
and the note on what each choice costs. It keeps them in the settings through its
host; the screen asks `chosen()` when a job starts. A server chosen (or reopened on
from the settings) is tried at once in a worker: when nothing answers there, the note
says so until the choice or the URL changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Select, Static

from deecho.errors import UsageError
from deecho.kinds import BackendKind
from deecho.tui import tasks
from deecho.tui.base import ReportsWorkerFailures

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
_SERVER_NOTE = "A `deecho serve` instance: no credits; the audio goes to that machine."


class BackendPanel(ReportsWorkerFailures, Vertical):
    """The workspace's backend choice, and the server's URL and key."""

    @dataclass
    class Tried(Message):
        """Whether the server at `url` answered: `problem` is None when it did."""

        url: str
        problem: str | None

    def __init__(self, host: WorkspaceHost) -> None:
        super().__init__(id="backend", classes="panel")
        self._host = host
        self.problem: str | None = None
        """Why the chosen server cannot be reached, while that lasts."""

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
        self._try_server()

    @property
    def choice(self) -> BackendKind:
        return BackendKind(str(self.query_one("#backend-choice", Select).value))

    @property
    def server_url(self) -> str:
        return self.query_one("#server-url", Input).value.strip()

    def chosen(self) -> BackendKind:
        """The backend a job starts on, with the server's fields kept in the settings;
        raises UsageError when a server is chosen and no URL typed."""
        choice = self.choice
        if choice is BackendKind.SERVER and not self.server_url:
            raise UsageError("Type the deecho server's URL first.")
        self.remember_server()
        return choice

    def cycle(self) -> None:
        select = self.query_one("#backend-choice", Select)
        order = [value for _, value in BACKEND_CHOICES]
        select.value = order[(order.index(self.choice) + 1) % len(order)]

    @on(Select.Changed, "#backend-choice")
    def _changed(self, event: Select.Changed) -> None:
        choice = BackendKind(str(event.value))
        self._show_note(choice)
        self._host.remember_backend(choice)
        self._try_server()

    @on(Input.Submitted, "#server-url, #server-key")
    @on(Input.Blurred, "#server-url, #server-key")
    def remember_server(self) -> None:
        """Keep what the server fields say in the settings (also done when a job starts)."""
        self._host.remember_server(
            self.server_url or None,
            self.query_one("#server-key", Input).value.strip() or None,
        )

    @on(Input.Changed, "#server-url")
    def _url_typed(self) -> None:
        if self.problem is not None:  # the word was about another address
            self.problem = None
            self._show_note(self.choice)

    @on(Input.Submitted, "#server-url")
    def _url_entered(self) -> None:
        self._try_server()

    # -- is the server there? ---------------------------------------------------------------------

    def _try_server(self) -> None:
        if self.choice is BackendKind.SERVER and self.server_url:
            self._reach(self.server_url)

    @work(thread=True, exclusive=True, group="reach", exit_on_error=False)
    def _reach(self, url: str) -> None:
        self.post_message(self.Tried(url, tasks.server_unreachable(url)))

    @on(Tried)
    def _tried(self, message: Tried) -> None:
        message.stop()
        if self.choice is not BackendKind.SERVER or message.url != self.server_url:
            return  # the user has moved on since
        self.problem = message.problem
        self._show_note(self.choice)

    def _show_note(self, choice: BackendKind) -> None:
        server = choice is BackendKind.SERVER
        self.query_one("#server-url", Input).display = server
        self.query_one("#server-key", Input).display = server
        note = self.query_one("#backend-note", Static)
        note.set_class(choice is BackendKind.MUSICGPT, "warning")
        unreachable = server and self.problem is not None
        note.set_class(unreachable, "failure")
        if choice is BackendKind.MUSICGPT:
            has_key = self._host.settings.musicgpt_api_key is not None
            key = "" if has_key else " No key yet: set DEECHO_MUSICGPT_API_KEY."
            note.update(_CREDITS_WARNING + key)
        elif unreachable:
            note.update(f"Not reachable: {escape(self.problem or '')}; start it, or press b.")
        elif server:
            note.update(_SERVER_NOTE)
        else:
            note.update("Runs here, in this process: no network, no key, no credits.")
