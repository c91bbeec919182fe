"""The submit route (POST deecho): checks the upload or URL, stores it, and queues the task.

The handler only validates, writes to disk and SQLite, and answers: the job
runs in a worker process.
"""

from __future__ import annotations

import errno
import functools
import io
import math
import shutil
import sqlite3
import uuid
import wave
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from deecho.api.models import SUBMIT_MESSAGE, SubmitResponse, TaskStatus
from deecho.errors import AudioError
from deecho.server.config import ServerConfig
from deecho.server.openapi import SUBMIT_EXTRA, SUBMIT_RESPONSES
from deecho.server.pace import channel_samples
from deecho.server.state import API_PREFIX, ApiError, ServerState
from deecho.server.uploads import FormError, UploadTooLarge, drain, read_submit_form
from deecho.urls.policy import UnsafeUrlError, check_url

__all__ = ["install_submit", "warm_up"]

#: Form fields beyond the file are small; allow this much besides the file in Content-Length.
_FORM_OVERHEAD_BYTES = 128 * 1024


def install_submit(app: FastAPI, state: ServerState) -> None:
    config = state.config

    async def submit(request: Request) -> JSONResponse:
        owner = state.owner_of(request)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > config.max_upload_bytes + _FORM_OVERHEAD_BYTES:
            await drain(request)
            raise _too_large(config)
        if state.store.count_active(owner) >= config.max_pending_per_key:
            await drain(request)
            raise ApiError(
                429,
                f"Too many tasks in progress (limit {config.max_pending_per_key}); retry later",
                headers={"Retry-After": "30"},
            )
        task_id = str(uuid.uuid4())
        folder = state.task_dir(task_id)
        try:
            folder.mkdir(parents=True)
            return await _accept(request, state, owner, task_id, folder)
        except BaseException as exc:
            shutil.rmtree(folder, ignore_errors=True)
            if _is_disk_full(exc):
                await drain(request)
                raise ApiError(
                    507,
                    "The server's disk is full; the task was not accepted, retry later",
                    headers={"Retry-After": "60"},
                ) from None
            raise

    app.add_api_route(
        f"{API_PREFIX}/deecho",
        submit,
        methods=["POST"],
        tags=["deecho"],
        operation_id="submit",
        responses=SUBMIT_RESPONSES,
        openapi_extra=SUBMIT_EXTRA,
    )
    app.add_api_route(f"{API_PREFIX}/Deecho", submit, methods=["POST"], include_in_schema=False)


def _is_disk_full(exc: BaseException) -> bool:
    """Whether the spool (the upload's file) or the database ran out of room."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


def _amount(fields: dict[str, str], name: str) -> float | None:
    """deecho's optional `echo` / `reverb` form fields (0..1; the vendor has none)."""
    text = fields.get(name, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:  # also refuses NaN and words
        raise ApiError(422, f"{name}={text}: use a number from 0 to 1 (how much {name} to remove)")
    return value


def _too_large(config: ServerConfig) -> ApiError:
    limit_mb = config.max_upload_bytes / (1024 * 1024)
    return ApiError(
        413, f"The upload is larger than this server's {limit_mb:g} MB limit (DEECHO_MAX_UPLOAD_MB)"
    )


async def _accept(
    request: Request, state: ServerState, owner: str, task_id: str, folder: Path
) -> JSONResponse:
    config = state.config
    try:
        form = await read_submit_form(request, folder, config.max_upload_bytes)
    except UploadTooLarge:
        await drain(request)
        raise _too_large(config) from None
    except FormError as exc:
        raise ApiError(422, str(exc)) from None
    audio_url = form.fields.get("audio_url", "").strip() or None
    webhook_url = form.fields.get("webhook_url", "").strip() or None
    echo_amount = _amount(form.fields, "echo")
    reverb_amount = _amount(form.fields, "reverb")
    has_file = form.file_path is not None
    if has_file and audio_url:
        raise ApiError(422, "Provide either audio_url or audio_file, not both.")
    if not has_file and not audio_url:
        raise ApiError(422, "Either audio_url or audio_file must be provided.")
    try:
        if audio_url:
            await run_in_threadpool(check_url, audio_url, state.policy, "audio_url")
        if webhook_url:
            await run_in_threadpool(check_url, webhook_url, state.policy, "webhook_url")
    except UnsafeUrlError as exc:
        raise ApiError(422, str(exc)) from None
    duration_s: float | None = None
    sample_rate = channels = 0
    if form.file_path is not None:
        if form.file_bytes == 0:
            raise ApiError(422, "audio_file is empty (0 bytes)")
        # WAV/FLAC/AIFF/OGG headers read in well under a millisecond: a hop to the thread
        # pool would cost more than the work. FFmpeg's probe (m4a, video) can take tens of
        # milliseconds, so it goes to the pool. A damaged body the header hides ends FAILED.
        heard = _header_duration(form.file_path, form.file_name)
        if heard is None:
            heard = await run_in_threadpool(_probe_duration, form.file_path, form.file_name)
        duration_s, sample_rate, channels = heard
        if duration_s > config.max_duration_s:
            raise ApiError(
                422,
                f"audio_file lasts {duration_s:.0f} s, over this server's"
                f" {config.max_duration_s:.0f} s limit",
            )
    eta, estimate_s = state.estimates(duration_s, sample_rate, channels)
    credit_estimate = state.credits(duration_s)
    base_url = config.extra.get("public_url") or str(request.base_url)
    conversion_id = str(uuid.uuid4())
    state.store.add_task(
        task_id=task_id,
        conversion_id=conversion_id,
        owner=owner,
        message=SUBMIT_MESSAGE,
        source_name=form.file_name or audio_url or "",
        input_path=str(form.file_path) if form.file_path else None,
        audio_url=audio_url,
        webhook_url=webhook_url,
        base_url=base_url,
        duration_s=duration_s,
        eta_s=eta,
        estimate_s=estimate_s,
        channel_samples=channel_samples(duration_s, sample_rate, channels) if duration_s else None,
        credit_estimate=credit_estimate,
        echo_amount=echo_amount,
        reverb_amount=reverb_amount,
    )
    # The row is committed (add_task returns after COMMIT): the answer is built from the
    # values just written rather than read back, one store round trip fewer per submit.
    state.runner.wake()
    response = SubmitResponse(
        success=True,
        task_id=task_id,
        conversion_id=conversion_id,
        eta=eta,
        credit_estimate=credit_estimate,
        message=SUBMIT_MESSAGE,
        status=TaskStatus.IN_QUEUE.value,
    )
    return JSONResponse(response.model_dump())


@functools.cache
def warm_up() -> None:
    """Load and first-use what a submit needs, so the first uploads do not pay for it.

    Called at start-up, before the server takes connections (by the app's start-up and,
    in `deecho serve`, before the GC freeze; once per process is enough). Imported on the first
    submit instead, libsndfile's bindings (with numpy) took about 0.7 s of the event
    loop under load, and PyAV (m4a, mp3, video) about half a second more, holding up
    every request that arrived beside it.
    """
    import av  # noqa: F401  (the probe for what libsndfile does not read)
    import soundfile

    import deecho.audio.io  # noqa: F401  (what _probe_duration imports)

    # A real open of a tiny WAV in memory: libsndfile's first call sets up its tables.
    header = io.BytesIO()
    with wave.open(header, "wb") as tiny:
        tiny.setnchannels(1)
        tiny.setsampwidth(2)
        tiny.setframerate(8000)
        tiny.writeframes(bytes(16))
    header.seek(0)
    with soundfile.SoundFile(header):
        pass


def _refused(exc: AudioError, file_name: str | None) -> ApiError:
    """422 naming the upload as its sender called it (the reader saw it as input.*)."""
    reason = str(exc).split(": ", 1)[-1]
    return ApiError(422, f"{file_name or 'audio_file'}: {reason}")


def _header_duration(path: Path, file_name: str | None) -> tuple[float, int, int] | None:
    """(duration, rate, channels) from libsndfile's header read; None when it does not know it.

    The rate and channels are the eta's too: a task's cost is its channel-samples'.
    """
    import soundfile

    from deecho.audio.readers import check_wav_not_truncated

    # A WAV cut short reads as audio until its end: refuse it here, not after the queue.
    try:
        check_wav_not_truncated(path)
    except AudioError as exc:
        raise _refused(exc, file_name) from None
    # SoundFile, not soundfile.info: info() also fetches and formats libsndfile's log
    # text, which nothing here reads (a third of the probe's time).
    try:
        with soundfile.SoundFile(str(path)) as header:
            frames, rate, channels = header.frames, header.samplerate, header.channels
    except Exception:
        return None
    if frames <= 0 or rate <= 0:
        return None  # let the full probe say what is wrong
    return float(frames) / float(rate), int(rate), int(channels)


def _probe_duration(path: Path, file_name: str | None) -> tuple[float, int, int]:
    """(duration, rate, channels) from its header, or 422 when it is not audio deecho reads."""
    from deecho.audio.io import probe

    try:
        info = probe(path)
    except AudioError as exc:
        raise _refused(exc, file_name) from None
    if info.duration_s <= 0:
        raise ApiError(422, f"{file_name or 'audio_file'}: the file holds no audio samples")
    return info.duration_s, info.sample_rate, info.channels
