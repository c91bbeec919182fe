"""The job history: past jobs, newest first; Enter reopens a completed one."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Header, Static

from deecho.history import History, JobRecord
from deecho.tui import tasks
from deecho.tui.base import DeechoScreen
from deecho.tui.messages import CompareReady

__all__ = ["HistoryScreen"]


class HistoryScreen(DeechoScreen):
    """A table of the jobs the history database remembers."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="history_back", tooltip="Back to the workspace"),
        Binding(
            "enter",
            "reopen",
            "Reopen",
            id="history_reopen",
            tooltip="Open the selected job's result in the compare view",
        ),
    ]

    def __init__(self, history: History) -> None:
        super().__init__(id="history")
        self.history = history
        self.records: list[JobRecord] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Past jobs. Enter reopens a completed one whose files are still there.")
        table: DataTable[str] = DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("Job", "When (UTC)", "File", "Backend", "Status", "Task", "Note")
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.records = self.history.recent()
        table = self.query_one(DataTable)
        for record in self.records:
            table.add_row(
                str(record.id),
                record.created_at.replace("T", " ")[:19],
                record.original.name,
                record.backend,
                record.status,
                record.task_id or "",
                record.message[:60],
                key=str(record.id),
            )
        table.focus()

    def action_back(self) -> None:
        self.app.pop_screen()

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_reopen()

    def action_reopen(self) -> None:
        table = self.query_one(DataTable)
        if not self.records:
            return
        record = self.records[table.cursor_row]
        if not record.reopenable or record.workdir is None or record.echo is None:
            self.notify(
                f"Job {record.id} is {record.status.lower()}"
                " or its files are gone: nothing to reopen.",
                severity="warning",
            )
            return
        self._reopen(record)

    @work(thread=True, exclusive=True, group="reopen", exit_on_error=False)
    def _reopen(self, record: JobRecord) -> None:
        assert record.workdir is not None and record.no_echo is not None and record.echo
        outcome = tasks.reopen_compare(
            record.workdir / "prepped.wav",
            record.no_echo,
            record.echo,
            record.compare or {},
            record.workdir,
        )
        self.post_message(CompareReady(record.id, outcome))

    @on(CompareReady)
    def _reopened(self, message: CompareReady) -> None:
        from deecho.tui.compare_view import CompareScreen

        record = self.history.get(message.job_id)
        original = record.original if record else message.outcome.prepped
        self.app.push_screen(CompareScreen(original, message.outcome, record, self.history))
