"""The one exception tree of deecho.

    DeechoError                      exit 70 (internal) unless a subclass says otherwise
    ├── UsageError                   64  a bad option or argument value
    ├── AudioError
    │   ├── AudioMissingError        66  the input does not exist or cannot be read
    │   └── AudioDecodeError         65  empty, truncated, corrupt or unsupported audio
    ├── OutputError                  73  the output cannot be written (exists, no access, disk full)
    ├── BackendError                 69  a backend failed to do the job
    │   ├── AuthenticationError      77  missing or wrong API key
    │   ├── InsufficientCreditsError 69  the vendor wants more credits (HTTP 402)
    │   ├── RateLimitedError         75  HTTP 429; carries retry_after_s
    │   ├── TaskFailedError          69  the task ended FAILED or ERROR
    │   ├── TaskGoneError            69  the backend does not know the task (expired?)
    │   ├── ResultMismatchError      69  the result is not the audio sent (cannot be aligned)
    │   └── TaskTimeoutError         75  the task did not finish in time
    └── CancelledError               130 the job was cancelled; nothing was written

Exit codes follow BSD sysexits so scripts and DAW plugins can tell causes apart.
Every message is one line that says what happened and what to do.
"""

from __future__ import annotations

__all__ = [
    "AudioDecodeError",
    "AudioError",
    "AudioMissingError",
    "AuthenticationError",
    "BackendError",
    "CancelledError",
    "DeechoError",
    "InsufficientCreditsError",
    "OutputError",
    "RateLimitedError",
    "ResultMismatchError",
    "SettingsError",
    "TaskFailedError",
    "TaskGoneError",
    "TaskTimeoutError",
    "UsageError",
]

EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
EX_UNAVAILABLE = 69
EX_SOFTWARE = 70
EX_CANTCREAT = 73
EX_TEMPFAIL = 75
EX_NOPERM = 77
EX_CONFIG = 78


class DeechoError(Exception):
    """Root of every error deecho raises on purpose."""

    exit_code: int = EX_SOFTWARE


class UsageError(DeechoError):
    """An option or argument has a value deecho cannot use."""

    exit_code = EX_USAGE


class SettingsError(DeechoError):
    """The settings file (or a DEECHO_* variable) cannot be read or holds a wrong value."""

    exit_code = EX_CONFIG


class AudioError(DeechoError):
    """Something is wrong with an audio file."""

    exit_code = EX_DATAERR


class AudioMissingError(AudioError):
    """The input file does not exist or cannot be opened."""

    exit_code = EX_NOINPUT


class AudioDecodeError(AudioError):
    """The file exists but holds no audio deecho can decode."""

    exit_code = EX_DATAERR


class OutputError(DeechoError):
    """An output file cannot be created."""

    exit_code = EX_CANTCREAT


class BackendError(DeechoError):
    """A backend (local server or vendor) could not do the job."""

    exit_code = EX_UNAVAILABLE


class AuthenticationError(BackendError):
    """The backend refused the API key."""

    exit_code = EX_NOPERM


class InsufficientCreditsError(BackendError):
    """The vendor account lacks credits for this task (HTTP 402)."""

    def __init__(
        self,
        message: str,
        required_credits: float | None = None,
        available_credits: float | None = None,
    ) -> None:
        super().__init__(message)
        self.required_credits = required_credits
        self.available_credits = available_credits


class RateLimitedError(BackendError):
    """The backend answered 429 and did not relent within our retries."""

    exit_code = EX_TEMPFAIL

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TaskFailedError(BackendError):
    """The task ended FAILED or ERROR on the backend."""


class TaskGoneError(BackendError):
    """The backend does not know the task (expired, or another key's)."""


class ResultMismatchError(BackendError):
    """The backend's result does not line up with the audio sent (another file?)."""


class TaskTimeoutError(BackendError):
    """The task did not finish before the deadline."""

    exit_code = EX_TEMPFAIL


class CancelledError(DeechoError):
    """The user (or a caller) cancelled the job; nothing was written."""

    exit_code = 130
