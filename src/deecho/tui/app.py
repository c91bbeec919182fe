"""The deecho workspace app: screens, global keys, settings, history and the backend."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import ClassVar

from pydantic import SecretStr
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from deecho.backends.base import Backend
from deecho.config import Settings, load_settings, save_settings
from deecho.history import History
from deecho.kinds import BackendKind
from deecho.tui.help import HelpScreen, KeyHelp
from deecho.tui.workspace import WorkspaceScreen

__all__ = ["BackendFactory", "DeechoApp", "default_backend_factory"]

BackendFactory = Callable[[str, Settings], Backend]


def default_backend_factory(choice: str, settings: Settings) -> Backend:
    """Build the backend the user chose; HTTP lives in deecho.backends, imported only here."""
    from deecho.backends import get_backend

    kind = BackendKind.of(choice)
    target = kind.value if kind is not BackendKind.SERVER else (settings.workspace.server_url or "")
    backend: Backend = get_backend(target, settings)
    return backend


class DeechoApp(App[None]):
    """Load, trim and normalize, send to a backend, watch, compare and keep the result."""

    CSS_PATH = Path(__file__).with_name("deecho.tcss")  # absolute: subclasses live elsewhere
    TITLE = "deecho"
    SUB_TITLE = "echo removal workspace"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1,question_mark", "help", "Help", id="help", tooltip="List every key and action"),
        Binding("h", "history", "History", id="history", tooltip="Past jobs; reopen a result"),
        Binding("q", "quit", "Quit", id="quit", tooltip="Leave deecho (running jobs stop)"),
    ]

    def __init__(
        self,
        path: Path | None = None,
        *,
        settings: Settings | None = None,
        backend: Backend | None = None,
        history: History | None = None,
        start_dir: Path | None = None,
        backend_factory: BackendFactory = default_backend_factory,
        save_settings_to: Path | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings if settings is not None else load_settings()
        workspace = self.settings.workspace
        if workspace.backend.startswith(("http://", "https://")) and not workspace.server_url:
            workspace.server_url = workspace.backend  # the URL field shows it
        self.injected_backend = backend
        self.history = history if history is not None else History()
        self.start_dir = start_dir or Path.cwd()
        self.backend_factory = backend_factory
        self.save_settings_to = save_settings_to
        self.initial_path = path
        self._backends: dict[tuple[str, str | None], Backend] = {}
        self._backends_lock = threading.Lock()

    def on_mount(self) -> None:
        self.set_keymap(dict(self.settings.workspace.keymap))
        self.push_screen(WorkspaceScreen(self.initial_path, host=self))
        if self.initial_path is None:
            self.call_after_refresh(self.screen.run_action, "open")

    # -- backend and settings ----------------------------------------------------------------

    def initial_backend_choice(self) -> BackendKind:
        if self.injected_backend is not None:
            return self.injected_backend.kind
        # A URL, or "server" before one was typed, is a server.
        return BackendKind.of(self.settings.workspace.backend)

    def backend_for(self, choice: BackendKind) -> Backend:
        """The injected backend while its kind stays chosen; otherwise one built for the choice
        (called from a job's worker: building a remote one may read key files)."""
        injected = self.injected_backend
        if injected is not None and choice == self.initial_backend_choice():
            return injected
        server = self.settings.workspace.server_url if choice is BackendKind.SERVER else None
        key = (choice, server)
        with self._backends_lock:
            if key not in self._backends:
                self._backends[key] = self.backend_factory(choice, self.settings)
            return self._backends[key]

    def on_unmount(self) -> None:
        # The local engine keeps a worker thread and a scratch folder; let go of those the
        # app built (an injected backend belongs to whoever passed it in). Closing waits for
        # a running analysis to notice the cancel, so it happens off the event loop.
        for backend in self._backends.values():
            close = getattr(backend, "close", None)
            if callable(close):
                threading.Thread(target=close, name="deecho-close", daemon=True).start()

    def _stored_backend(self, choice: BackendKind) -> str:
        # The settings file names a server by its URL, as `workspace.backend` documents.
        if choice is BackendKind.SERVER:
            return self.settings.workspace.server_url or BackendKind.SERVER.value
        return choice.value

    def remember_backend(self, choice: BackendKind) -> None:
        stored = self._stored_backend(choice)
        if self.settings.workspace.backend != stored:
            self.settings.workspace.backend = stored
            self._save_settings()

    def remember_server(self, url: str | None, api_key: str | None) -> None:
        workspace = self.settings.workspace
        key = SecretStr(api_key) if api_key else None
        old_key = workspace.server_api_key.get_secret_value() if workspace.server_api_key else None
        if workspace.server_url == url and old_key == api_key:
            return
        workspace.server_url = url
        workspace.server_api_key = key
        if BackendKind.of(workspace.backend) is BackendKind.SERVER:
            workspace.backend = self._stored_backend(BackendKind.SERVER)
        self._save_settings()

    def _save_settings(self) -> None:
        try:
            save_settings(self.settings, self.save_settings_to)
        except OSError as exc:
            self.notify(
                f"Could not save the settings: {exc.strerror}", severity="warning", markup=False
            )

    # -- keys, palette, help -----------------------------------------------------------------

    def _key_help(self, screen: Screen[object]) -> list[KeyHelp]:
        rows: list[KeyHelp] = []
        seen: set[str] = set()
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if not active.enabled or binding.id is None or binding.id in seen:
                continue
            seen.add(binding.id)
            display = self.get_key_display(binding) or key
            rows.append((display, binding.description, binding.tooltip, binding.id))
        return sorted(rows, key=lambda row: row[3])

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if not active.enabled or binding.id is None or binding.id in seen:
                continue
            seen.add(binding.id)
            key = self.get_key_display(binding)
            yield SystemCommand(
                binding.description,
                f"{binding.tooltip}  [{key}]",
                partial(self.run_action, binding.action, active.node),
            )

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self._key_help(self.screen)))

    def action_history(self) -> None:
        from deecho.tui.history_view import HistoryScreen

        if not isinstance(self.screen, HistoryScreen):
            self.push_screen(HistoryScreen(self.history))
