"""The server's parts alone: keys, signed links, the SQLite store, webhook signing and schedule."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from deecho.api.models import TaskStatus, WebhookPayload
from deecho.config import load_settings
from deecho.server import create_app
from deecho.server.auth import key_owner, keys_match, load_or_create_key, presented_key
from deecho.server.config import ServerConfig, is_loopback_host
from deecho.server.signing import UrlSigner
from deecho.server.store import TaskStore, iso_time
from deecho.server.webhooks import retry_delay_s, sign_body, verify_signature

# --- keys -----------------------------------------------------------------------------------------


def test_generated_key_is_stored_0600_and_reused(tmp_path: Path) -> None:
    key, generated = load_or_create_key(tmp_path, None)
    assert generated and len(key) >= 40
    path = tmp_path / "api_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(tmp_path, None) == (key, False)
    assert load_or_create_key(tmp_path, "from-env") == ("from-env", False)


def test_a_new_data_folder_is_private_to_its_owner(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        create_app(ServerConfig(data_dir=tmp_path / "data", api_key="k"))
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "data" / "tasks").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "data" / "url_secret").stat().st_mode) == 0o600


def test_authorization_header_forms() -> None:
    assert presented_key("abc") == "abc"
    assert presented_key("Bearer abc") == "abc"
    assert presented_key("bearer   abc ") == "abc"
    assert presented_key("") is None and presented_key(None) is None
    assert keys_match("abc", "abc") and not keys_match("abd", "abc")
    assert not keys_match(None, "abc")
    assert key_owner("abc") != key_owner("abd") and "abc" not in key_owner("abc")


# --- signed links ---------------------------------------------------------------------------------


def test_signed_links_verify_and_expire(tmp_path: Path) -> None:
    signer = UrlSigner.for_data_dir(tmp_path, ttl_s=60)
    assert stat.S_IMODE((tmp_path / "url_secret").stat().st_mode) == 0o600
    url = signer.url("http://h:1/", "t_noecho.wav", now=1000.0)
    assert url.startswith("http://h:1/api/public/v1/files/t_noecho.wav?expires=1060&token=")
    token = url.rsplit("token=", 1)[1]
    assert signer.valid("t_noecho.wav", "1060", token, now=1059.0)
    assert not signer.valid("t_noecho.wav", "1060", token, now=1061.0)  # expired
    assert not signer.valid("t_echo.wav", "1060", token, now=1000.0)  # another file
    assert not signer.valid("t_noecho.wav", "1999", token, now=1000.0)  # extended
    assert not signer.valid("t_noecho.wav", "soon", token, now=1000.0)
    # the same data dir signs the same way after a restart; another one does not
    assert UrlSigner.for_data_dir(tmp_path, 60).valid("t_noecho.wav", "1060", token, now=1000.0)
    (tmp_path / "other").mkdir()
    other = UrlSigner.for_data_dir(tmp_path / "other", 60)
    assert not other.valid("t_noecho.wav", "1060", token, now=1000.0)


# --- store ----------------------------------------------------------------------------------------


def _add(store: TaskStore, task_id: str, created_at: float, **fields: object) -> None:
    store.add_task(
        task_id=task_id,
        conversion_id=f"c-{task_id}",
        owner="o",
        base_url="http://h/",
        created_at=created_at,
        **fields,
    )


def test_queue_order_claim_and_restart_requeue(tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "db.sqlite3")
    _add(store, "b", 2.0, duration_s=10.0)
    _add(store, "a", 1.0, duration_s=5.0)
    assert store.queued_audio_seconds() == 15.0
    first = store.claim_next()
    assert first is not None and first.task_id == "a" and first.attempts == 1
    assert first.status == TaskStatus.IN_PROGRESS
    store.close()

    reopened = TaskStore(tmp_path / "db.sqlite3")  # as after a kill: "a" was running
    assert reopened.requeue_interrupted() == ["a"]
    assert reopened.get("a").status == TaskStatus.IN_QUEUE  # type: ignore[union-attr]
    again = reopened.claim_next()
    assert again is not None and again.task_id == "a" and again.attempts == 2
    assert reopened.find("o", None, "c-a").task_id == "a"  # type: ignore[union-attr]
    assert reopened.find("someone else", "a", None) is None
    assert reopened.count_active("o") == 2 and reopened.count_active("x") == 0


def test_store_names_only_its_own_columns_in_sql(tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "db.sqlite3")
    _add(store, "a", 1.0)
    with pytest.raises(ValueError, match="not task columns"):
        store.update("a", **{"status = 'COMPLETED', owner": "x"})
    assert store.get("a").status == TaskStatus.IN_QUEUE  # type: ignore[union-attr]


def test_finish_queues_the_webhook_in_the_same_transaction(tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "db.sqlite3")
    _add(store, "a", 1.0)
    store.claim_next()
    store.finish("a", TaskStatus.COMPLETED, "done", webhook=("http://r/", {"task_id": "a"}))
    task = store.get("a")
    assert task is not None and task.status == TaskStatus.COMPLETED and task.finished_at
    due = store.due_webhooks(time.time() + 1)
    assert [(d.task_id, json.loads(d.body)) for d in due] == [("a", {"task_id": "a"})]
    store.webhook_attempted(due[0].id, delivered=False, error="HTTP 500", next_attempt_at=1e12)
    assert store.due_webhooks(time.time() + 1) == []
    assert store.next_webhook_time() == 1e12
    store.webhook_attempted(due[0].id, delivered=False, error="gone", next_attempt_at=None)
    row = store.webhook_rows("a")[0]
    assert row["attempts"] == 2 and row["given_up_at"] and row["last_error"] == "gone"
    assert store.next_webhook_time() is None


def test_iso_time_is_the_vendor_style() -> None:
    assert iso_time(0.5) == "1970-01-01T00:00:00.500Z"


# --- webhooks -------------------------------------------------------------------------------------


def test_webhook_signature_is_hmac_sha256_of_the_body() -> None:
    import hashlib
    import hmac

    body = json.dumps(WebhookPayload(task_id="t").to_wire()).encode()
    expected = hmac.new(b"key", body, hashlib.sha256).hexdigest()
    assert sign_body(body, "key") == f"sha256={expected}"
    assert verify_signature(body, f"sha256={expected}", "key")
    assert not verify_signature(body, f"sha256={expected}", "other key")
    assert not verify_signature(body + b"\n", f"sha256={expected}", "key")
    assert not verify_signature(body, None, "key")


def test_default_retry_schedule_is_five_or_more_tries_over_a_minute_or_more(
    tmp_path: Path,
) -> None:
    config = ServerConfig(data_dir=tmp_path)
    delays = []
    attempt = 1
    while (delay := retry_delay_s(attempt, config)) is not None:
        delays.append(delay)
        attempt += 1
    assert attempt == config.webhook_max_attempts >= 5
    assert delays == sorted(delays) and delays[1] / delays[0] == config.webhook_retry_factor
    assert sum(delays) >= 60


# --- configuration --------------------------------------------------------------------------------


def test_loopback_urls_follow_the_bind_address(tmp_path: Path) -> None:
    assert is_loopback_host("127.0.0.1") and is_loopback_host("::1")
    assert is_loopback_host("localhost") and not is_loopback_host("0.0.0.0")
    assert ServerConfig(data_dir=tmp_path, host="127.0.0.1").loopback_urls_allowed
    assert not ServerConfig(data_dir=tmp_path, host="0.0.0.0").loopback_urls_allowed
    assert ServerConfig(
        data_dir=tmp_path, host="0.0.0.0", allow_private_urls=True
    ).loopback_urls_allowed


def test_config_from_settings_and_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEECHO_CONFIG_FILE", str(tmp_path / "none.toml"))
    monkeypatch.setenv("DEECHO_API_KEY", "k")
    monkeypatch.setenv("DEECHO_MAX_UPLOAD_MB", "2")
    monkeypatch.setenv("DEECHO_SERVER__CREDIT_RATE_PER_MINUTE", "0.21")
    config = ServerConfig.from_settings(load_settings(), data_dir=tmp_path, workers=3, host=None)
    assert config.api_key == "k" and config.max_upload_bytes == 2 * 1024 * 1024
    assert config.credit_rate_per_minute == 0.21 and config.workers == 3
    assert config.host == "127.0.0.1" and config.data_dir == tmp_path


# --- progress -------------------------------------------------------------------------------------


def test_progress_file_round_trip_and_scaling(tmp_path: Path) -> None:
    from deecho.server.jobs import _ProgressFile, read_progress

    assert read_progress(tmp_path) is None
    progress = _ProgressFile(tmp_path, start=0.0, span=0.9)
    progress(0.5, "removing echo")
    assert read_progress(tmp_path) == (0.45, "removing echo")
    progress(0.6, "removing echo")  # within half a second of the last write: skipped
    assert read_progress(tmp_path) == (0.45, "removing echo")
    progress(1.0, "done")  # the end is always written
    assert read_progress(tmp_path) == (0.9, "done")
    (tmp_path / "progress.json").write_text("{not json")
    assert read_progress(tmp_path) is None
