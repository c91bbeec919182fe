"""`deecho process URL`: the recording is downloaded (a page's, through yt-dlp), then processed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import soundfile as sf
from test_server_harness import write_wav

from audio_fixtures import deecho_command
from media_site import media_site


def _process(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*deecho_command(), "process", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_a_page_link_is_downloaded_beside_the_output_then_processed(tmp_path: Path) -> None:
    take = write_wav(tmp_path / "take.wav", 2.0)
    with media_site() as site:
        site.file("/files/take.wav", take.read_bytes(), "audio/wav")
        site.html("/session.html", '<audio src="/files/take.wav"></audio>', title="Vocal take")
        out = tmp_path / "out"
        result = _process(
            site.url("/session.html"), "-o", str(out / "clean.wav"), "--json", cwd=tmp_path
        )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    downloaded = Path(report["input"])
    assert downloaded.parent == out and downloaded.name.startswith("Vocal take")
    assert sf.info(str(downloaded)).frames == sf.info(str(take)).frames
    assert sf.info(report["output"]).frames == sf.info(str(take)).frames
    assert f"downloaded {downloaded}" in result.stderr


def test_a_url_without_audio_exits_66_with_one_line(tmp_path: Path) -> None:
    with media_site() as site:
        site.html("/notes.html", "<p>no player here</p>")
        result = _process(site.url("/notes.html"), cwd=tmp_path)
    assert result.returncode == 66
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no audio or video found" in lines[0], result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing left behind, not even a temporary folder


def test_the_workspace_fetches_a_url_before_it_opens(tmp_path: Path) -> None:
    """`deecho tui URL` downloads first: a URL without audio ends there, as process does."""
    with media_site() as site:
        site.html("/notes.html", "<p>no player here</p>")
        result = subprocess.run(
            [*deecho_command(), "tui", site.url("/notes.html")],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 66, result.stderr
    assert "no audio or video found" in result.stderr and "Traceback" not in result.stderr
