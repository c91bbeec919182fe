"""batch.status: how each file stands, read from a state file the way BatchRun plans."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from deecho import engine
from deecho.audio.prep import PrepOptions
from deecho.batch import BatchSettings, BatchStatus, Outcome, find_items
from deecho.batch.state import STATE_FILE, BatchState, content_hash
from deecho.batch.status import FileState, FileStatus, file_statuses

SETTINGS = BatchSettings(prep=PrepOptions(), amounts=engine.Amounts())


def test_statuses_follow_the_records_the_bytes_and_the_settings(tmp_path: Path) -> None:
    folder, outdir = tmp_path / "takes", tmp_path / "out"
    folder.mkdir()
    for name in ("done.wav", "failed.wav", "new.wav", "gone.wav"):
        (folder / name).write_bytes(name.encode())
    items = {item.input.name: item for item in find_items([folder], outdir)}

    # No state file yet: everything is to do, and looking creates nothing.
    assert {s.state for s in file_statuses(list(items.values()), outdir, SETTINGS)} == {
        FileState.TO_DO
    }
    assert not outdir.exists()

    outdir.mkdir()
    state = BatchState(outdir)
    for name, status, reason in (
        ("done.wav", BatchStatus.DONE, ""),
        ("gone.wav", BatchStatus.DONE, ""),
        ("failed.wav", BatchStatus.FAILED, "failed.wav: not a WAV file"),
    ):
        item = items[name]
        key = item.output.relative_to(outdir).as_posix()
        content = content_hash(item.input) or ""
        outcome = Outcome(str(item.output), status, reason, 65 if reason else 0)
        state.record(key, item.input, content, SETTINGS.digest(item), outcome)
    state.close()
    items["done.wav"].output.write_bytes(b"made")  # gone.wav's output is not there

    def statuses(settings: BatchSettings = SETTINGS) -> dict[str, FileStatus]:
        found = file_statuses(list(items.values()), outdir, settings)
        return dict(zip(items, found, strict=True))

    assert statuses() == {
        "done.wav": FileStatus(FileState.DONE),
        "failed.wav": FileStatus(FileState.FAILED, "failed.wav: not a WAV file"),
        "new.wav": FileStatus(FileState.TO_DO),
        "gone.wav": FileStatus(FileState.TO_DO, "its output is gone"),
    }
    softer = dataclasses.replace(SETTINGS, amounts=engine.Amounts(echo=0.5))
    assert statuses(softer)["done.wav"] == FileStatus(FileState.CHANGED, "other settings")
    (folder / "done.wav").write_bytes(b"another take")
    assert statuses()["done.wav"] == FileStatus(FileState.CHANGED, "the file changed")
    assert (outdir / STATE_FILE).is_file()
