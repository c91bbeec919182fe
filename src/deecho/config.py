"""One settings object for every face of deecho.

Sources, strongest first: keyword arguments, `DEECHO_*` environment variables,
then `config.toml` in the user config folder (`deecho config-path` style:
`platformdirs.user_config_dir("deecho")`, or `DEECHO_CONFIG_FILE`). Keys are
`SecretStr`, so they never show in a repr, a log line or a traceback.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w
from platformdirs import user_config_dir, user_data_dir
from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from deecho.errors import SettingsError

if TYPE_CHECKING:
    from deecho.engine.report import Amounts

__all__ = ["MUSICGPT_BASE_URL", "Settings", "config_file", "load_settings", "save_settings"]

MUSICGPT_BASE_URL = "https://api.musicgpt.com/api/public/v1"


def config_file() -> Path:
    """Where the settings file lives (`DEECHO_CONFIG_FILE` overrides it)."""
    override = os.environ.get("DEECHO_CONFIG_FILE")
    if override:
        return Path(override)
    return Path(user_config_dir("deecho")) / "config.toml"


def default_data_dir() -> Path:
    """Where the server keeps its database and files, and the workspace its history."""
    return Path(user_data_dir("deecho"))


class EngineSettings(BaseModel):
    """Defaults of the local engine."""

    strength: float = Field(1.0, ge=0.0, le=1.0)
    """How much of the detected echo and late reverb to remove, 0..1 (both at once)."""
    echo: float | None = Field(None, ge=0.0, le=1.0)
    """How much of the detected echo to remove, 0..1; `strength` when unset."""
    reverb: float | None = Field(None, ge=0.0, le=1.0)
    """How much of the late reverb to remove, 0..1; `strength` when unset."""

    @property
    def amounts(self) -> Amounts:
        """The echo and reverb amounts these defaults stand for."""
        from deecho.engine.report import Amounts

        echo = self.strength if self.echo is None else self.echo
        reverb = self.strength if self.reverb is None else self.reverb
        return Amounts(echo=echo, reverb=reverb)


class ServerSettings(BaseModel):
    """`deecho serve` defaults; command-line flags win over these."""

    host: str = "127.0.0.1"
    """Interface to listen on; loopback unless you mean to share it."""
    port: int = 8000
    """TCP port."""
    data_dir: Path | None = None
    """Database, uploads and results; the user data folder when unset."""
    workers: int = 1
    """Worker processes running jobs."""
    max_duration_s: float = 3 * 3600.0
    """Longest audio a task may hold, in seconds."""
    credit_rate_per_minute: float = 0.0
    """`credit_estimate` reported per minute of audio (0: free)."""
    allow_private_urls: bool = False
    """Let `audio_url` and `webhook_url` reach private and loopback hosts."""
    scheduler_address: str | None = None
    """A Dask scheduler (`tcp://host:8786`) to run jobs on instead of local processes."""
    worker_nice: int = Field(10, ge=0, le=19)
    """Niceness of local worker processes: above 0 the API answers first when CPU is short."""


class WorkspaceSettings(BaseModel):
    """The TUI workspace's remembered choices."""

    backend: str = "local"
    """`local`, `musicgpt`, or the URL of a `deecho serve` instance."""
    server_url: str | None = None
    """Last deecho server URL used."""
    server_api_key: SecretStr | None = None
    """API key for that server."""
    keymap: dict[str, str] = Field(default_factory=dict)
    """Binding id -> keys, e.g. {"process": "ctrl+r"}."""


class Settings(BaseSettings):
    """Everything deecho can be told, with its defaults."""

    model_config = SettingsConfigDict(
        env_prefix="DEECHO_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    api_key: SecretStr | None = None
    """Key clients must send to `deecho serve` (DEECHO_API_KEY); generated when unset."""
    musicgpt_api_key: SecretStr | None = None
    """Key for the vendor's service (DEECHO_MUSICGPT_API_KEY); it spends credits."""
    musicgpt_base_url: str = MUSICGPT_BASE_URL
    """Vendor API base URL (a stub's URL in tests)."""
    max_upload_mb: int = 512
    """Largest upload `deecho serve` accepts (DEECHO_MAX_UPLOAD_MB)."""
    engine: EngineSettings = Field(default_factory=lambda: EngineSettings())
    server: ServerSettings = Field(default_factory=lambda: ServerSettings())
    workspace: WorkspaceSettings = Field(default_factory=lambda: WorkspaceSettings())

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        return (init_settings, env_settings, toml)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment and the settings file.

    A file that is not TOML, or a value of the wrong kind there or in a DEECHO_*
    variable, is a SettingsError naming the file and the first wrong setting: the
    user can fix a typo in their settings, where a traceback would not tell them how.
    """
    try:
        return Settings(**overrides)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{config_file()}: not valid TOML ({exc}); fix or remove it") from None
    except UnicodeDecodeError:
        raise SettingsError(f"{config_file()}: not UTF-8 text; fix or remove it") from None
    except OSError as exc:
        raise SettingsError(f"{config_file()}: cannot read it ({exc.strerror})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or "settings"
        raise SettingsError(
            f"setting {name} = {first.get('input')!r}: {first['msg'].lower()}"
            f" (in {config_file()} or DEECHO_{name.upper().replace('.', '__')})"
        ) from None


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if item is not None}
    return value


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write the settings file atomically, readable by its owner only (it may hold keys)."""
    path = path or config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    document = _plain(settings.model_dump())
    handle, temp_name = tempfile.mkstemp(prefix=".config.", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            tomli_w.dump(document, stream)
        os.chmod(temp_name, 0o600)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path
