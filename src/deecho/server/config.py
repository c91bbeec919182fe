"""Everything one `deecho serve` instance runs with, resolved once at start-up."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from deecho.config import Settings, default_data_dir

__all__ = ["ServerConfig", "is_loopback_host"]


def is_loopback_host(host: str) -> bool:
    """True when `host` (what the server binds to) only accepts local connections."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class ServerConfig:
    """The server's knobs. Tests build one directly with small delays and caps."""

    data_dir: Path
    api_key: str | None = None
    """None: read from / generate into the data dir's `api_key` file."""
    host: str = "127.0.0.1"
    workers: int = 1
    max_upload_bytes: int = 512 * 1024 * 1024
    max_duration_s: float = 3 * 3600.0
    credit_rate_per_minute: float = 0.0
    allow_private_urls: bool = False
    """Let audio_url/webhook_url reach private, link-local and loopback hosts."""
    allow_loopback_urls: bool | None = None
    """None: allowed exactly when the server itself listens on loopback only."""
    scheduler_address: str | None = None
    worker_nice: int = 10
    """Niceness of local worker processes, so the API answers first when CPU is short."""
    result_url_ttl_s: float = 24 * 3600.0
    """How long a signed result link stays valid (the vendor's links last a day)."""
    fetch_max_bytes: int | None = None
    """Largest audio_url download; None: the upload cap."""
    fetch_timeout_s: float = 300.0
    """Longest an audio_url download may take, all of it."""
    webhook_retry_base_s: float = 5.0
    webhook_retry_factor: float = 3.0
    webhook_max_attempts: int = 6
    """Tries are spaced base·factor^n: 5, 15, 45, 135, 405 s by default (about 10 min)."""
    webhook_timeout_s: float = 10.0
    max_pending_per_key: int = 1000
    """Tasks queued or running for one key before submits get 429."""
    max_attempts: int = 3
    """Runs a task may start (restarts included) before it is marked FAILED."""
    initial_speed: float = 0.25
    """Processing seconds per audio second assumed before any task has been measured."""
    retention_s: float = 7 * 24 * 3600.0
    """Inputs and results older than this are deleted (the vendor keeps WAVs 7 days)."""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def loopback_urls_allowed(self) -> bool:
        if self.allow_private_urls:
            return True
        if self.allow_loopback_urls is not None:
            return self.allow_loopback_urls
        return is_loopback_host(self.host)

    @property
    def fetch_cap_bytes(self) -> int:
        return self.fetch_max_bytes if self.fetch_max_bytes is not None else self.max_upload_bytes

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> ServerConfig:
        """Build from `deecho.config` settings; keyword overrides (CLI flags) win."""
        server = settings.server
        config = cls(
            data_dir=Path(server.data_dir) if server.data_dir else default_data_dir() / "server",
            api_key=settings.api_key.get_secret_value() if settings.api_key else None,
            host=server.host,
            workers=server.workers,
            max_upload_bytes=settings.max_upload_mb * 1024 * 1024,
            max_duration_s=server.max_duration_s,
            credit_rate_per_minute=server.credit_rate_per_minute,
            allow_private_urls=server.allow_private_urls,
            scheduler_address=server.scheduler_address,
            worker_nice=server.worker_nice,
        )
        for name, value in overrides.items():
            if value is not None:
                setattr(config, name, value)
        return config
