"""The backend panel: where the audio goes (local engine, a deecho server, MusicGPT)."""

from __future__ import annotations

from textual import on
from textual.widgets import Input, Select, Static

from deecho.kinds import BackendKind
from deecho.tui.workspace_state import WorkspaceState

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


class BackendPanel(WorkspaceState):
    """The workspace's backend choice, and the server's URL and key."""

    def backend_choice(self) -> BackendKind:
        return BackendKind(str(self.query_one("#backend-choice", Select).value))

    def action_cycle_backend(self) -> None:
        select = self.query_one("#backend-choice", Select)
        order = [value for _, value in BACKEND_CHOICES]
        select.value = order[(order.index(BackendKind(str(select.value))) + 1) % len(order)]

    @on(Select.Changed, "#backend-choice")
    def _backend_changed(self, event: Select.Changed) -> None:
        choice = BackendKind(str(event.value))
        self._show_backend_note(choice)
        self.deecho.remember_backend(choice)

    @on(Input.Submitted, "#server-url, #server-key")
    @on(Input.Blurred, "#server-url, #server-key")
    def _server_fields_done(self) -> None:
        self.deecho.remember_server(
            self.query_one("#server-url", Input).value.strip() or None,
            self.query_one("#server-key", Input).value.strip() or None,
        )

    def _show_backend_note(self, choice: BackendKind) -> None:
        server = choice is BackendKind.SERVER
        self.query_one("#server-url", Input).display = server
        self.query_one("#server-key", Input).display = server
        note = self.query_one("#backend-note", Static)
        note.set_class(choice is BackendKind.MUSICGPT, "warning")
        if choice is BackendKind.MUSICGPT:
            has_key = self.deecho.settings.musicgpt_api_key is not None
            key = "" if has_key else " No key yet: set DEECHO_MUSICGPT_API_KEY."
            note.update(_CREDITS_WARNING + key)
        elif server:
            note.update("A `deecho serve` instance: no credits; the audio goes to that machine.")
        else:
            note.update("Runs here, in this process: no network, no key, no credits.")
