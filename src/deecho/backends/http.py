"""A backend reached over HTTP: MusicGPT's service, or a `deecho serve` instance."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from deecho.backends.base import Cancelled, Progress, Submission, TaskState
from deecho.errors import CancelledError
from deecho.kinds import BackendKind

if TYPE_CHECKING:
    from pathlib import Path

    from deecho.api.client import DeechoClient
    from deecho.api.models import Conversion
    from deecho.engine.report import Amounts

__all__ = ["HttpBackend"]

#: Share of the progress bar each phase takes.
_UPLOAD_END = 0.1
_WAIT_END = 0.9


def _state(conversion: Conversion, task_id: str) -> TaskState:
    return TaskState(
        task_id=conversion.task_id or task_id,
        status=conversion.task_status.value if conversion.task_status else conversion.status,
        message=conversion.reason if conversion.is_done else conversion.message,
        no_echo_url=conversion.no_echo_url(),
        echo_url=conversion.echo_url(),
    )


def _suffix(url: str) -> str:
    """The result's extension from its link (`…_noecho.mp3?X-Amz…` -> `.mp3`); WAV if none."""
    suffix = PurePosixPath(urlsplit(url).path).suffix.lower()
    return suffix if suffix in (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".aac") else ".wav"


class HttpBackend:
    """The deecho API over HTTP, driven by one DeechoClient."""

    #: A remote service removes all the echo and reverb it can; the job blends its result.
    honours_amounts = False
    #: A service may trim, pad or resample what it returns: where it sits is measured.
    on_input_timeline = False

    def __init__(
        self,
        name: str,
        client: DeechoClient,
        timeout_s: float = 3600.0,
        kind: BackendKind | None = None,
    ) -> None:
        self.name = name
        self.kind = kind or BackendKind.of(name)
        self.client = client
        self.timeout_s = timeout_s

    def submit(
        self, audio: Path, cancelled: Cancelled | None = None, amounts: Amounts | None = None
    ) -> Submission:
        accepted = self.client.submit_file(audio, cancelled=cancelled)
        return Submission(
            task_id=accepted.task_id,
            conversion_id=accepted.conversion_id,
            status=accepted.status,
            eta_s=accepted.eta if accepted.eta >= 0 else None,
            credit_estimate=accepted.credit_estimate,
            message=accepted.message,
        )

    def status(self, task_id: str) -> TaskState:
        return _state(self.client.status(task_id), task_id)

    def wait(
        self,
        task: Submission,
        on_state: Callable[[TaskState], None],
        cancelled: Cancelled | None = None,
    ) -> TaskState:
        """The client's own polling, paced for the service's rate limits."""

        def seen(conversion: Conversion) -> None:
            on_state(_state(conversion, task.task_id))

        try:
            conversion = self.client.wait(
                task.task_id,
                eta_s=task.eta_s,
                timeout_s=self.timeout_s,
                cancelled=cancelled,
                on_status=seen,
            )
        except CancelledError:
            raise CancelledError(
                f"stopped watching task {task.task_id}; the backend may still finish it"
            ) from None
        return _state(conversion, task.task_id)

    def download(
        self,
        state: TaskState,
        workdir: Path,
        cancelled: Cancelled | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> Path:
        target = workdir / f"no_echo{_suffix(state.no_echo_url)}"

        def on_bytes(got: int, total: int | None) -> None:
            if total and progress is not None:
                progress(got / total)

        return self.client.download(
            state.no_echo_url, target, cancelled=cancelled, progress=on_bytes
        )

    def process(
        self,
        prepped_wav: Path,
        workdir: Path,
        progress: Progress | None = None,
        cancelled: Cancelled | None = None,
    ) -> Path:
        report = progress or (lambda fraction, stage: None)
        report(0.0, "uploading")
        task = self.submit(prepped_wav, cancelled)
        report(_UPLOAD_END, f"queued {task.task_id}")
        began = time.monotonic()

        def on_status(conversion: Conversion) -> None:
            # With an eta the bar creeps towards it; without one (-1) it only names the stage.
            fraction = _UPLOAD_END
            if task.eta_s:
                elapsed = time.monotonic() - began
                fraction += (_WAIT_END - _UPLOAD_END) * min(0.95, elapsed / task.eta_s)
            report(fraction, conversion.status.lower().replace("_", " "))

        conversion = self.client.wait(
            task.task_id,
            eta_s=task.eta_s,
            timeout_s=self.timeout_s,
            cancelled=cancelled,
            on_status=on_status,
        )
        report(_WAIT_END, "downloading")
        state = _state(conversion, task.task_id)

        def on_bytes(got: int, total: int | None) -> None:
            if total:
                report(_WAIT_END + (1.0 - _WAIT_END) * got / total, "downloading")

        target = workdir / f"no_echo{_suffix(state.no_echo_url)}"
        self.client.download(state.no_echo_url, target, cancelled=cancelled, progress=on_bytes)
        report(1.0, "downloaded")
        return target
