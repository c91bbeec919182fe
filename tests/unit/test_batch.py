"""The batch's parts on their own: inputs and manifests, the settings' digest, the report row."""

from __future__ import annotations

from pathlib import Path

import pytest

from deecho import engine
from deecho.audio.prep import PrepOptions
from deecho.batch import PROCESS_FIELDS, BatchItem, BatchSettings, find_items, read_manifest
from deecho.batch.outcome import BatchStatus, Outcome
from deecho.errors import UsageError
from deecho.pipeline import ProcessResult


def test_a_row_has_the_fields_of_process_json():
    result = ProcessResult(
        input=Path("a.wav"),
        output=Path("a.no_echo.wav"),
        echo_output=None,
        duration_s=1.0,
        sample_rate=16000,
        channels=1,
        start_s=0.0,
        gain_db=0.0,
        report=engine.EngineReport(echoes=[], rt60_before_s=None, rt60_after_s=None),
        seconds=0.1,
    )
    assert tuple(result.to_dict()) == PROCESS_FIELDS
    failed = Outcome("out/b.no_echo.wav", BatchStatus.FAILED, "b.wav: empty", 65).row("b.wav")
    assert list(failed) == [*PROCESS_FIELDS, "status", "reason"]
    assert (failed["input"], failed["output"], failed["status"]) == ("b.wav", None, "failed")


def test_a_json_lines_manifest_with_outputs_and_ranges(tmp_path: Path):
    manifest = tmp_path / "list.jsonl"
    manifest.write_text(
        '{"input": "a.wav", "output": "x/first.wav", "start": "00:00:01.5", "end": 3}\n'
        "\n"
        '{"input": "sub/b.flac"}\n'
    )
    first, second = read_manifest(manifest, tmp_path / "out", tmp_path / "echo")
    assert first == BatchItem(
        tmp_path / "a.wav",
        tmp_path / "out" / "x" / "first.wav",
        tmp_path / "echo" / "x" / "first.echo.wav",
        start_s=1.5,
        end_s=3.0,
    )
    assert second.output == tmp_path / "out" / "b.no_echo.wav"
    assert second.promises_audio  # named by the user: not decoding is a failure


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("file,start\na.wav,1\n", "needs a header row with an `input` column"),
        ('{"input": "a.wav"}\n{oops\n', "list.txt:2: not a JSON object"),
        ("input,start\na.wav,soon\n", "list.txt:2: start:"),
    ],
)
def test_a_bad_manifest_says_where(tmp_path: Path, text: str, message: str):
    manifest = tmp_path / "list.txt"
    manifest.write_text(text)
    with pytest.raises(UsageError, match=message):
        read_manifest(manifest, tmp_path / "out")


def test_a_folder_walk_leaves_out_hidden_files_and_the_outdir_inside_it(tmp_path: Path):
    for name in ("a.wav", "notes.txt", ".hidden.wav", "out/old.no_echo.wav", "deep/b.mp3"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    items = find_items([tmp_path], tmp_path / "out")
    assert [item.input.name for item in items] == ["a.wav", "b.mp3", "notes.txt"]
    assert items[1].output == tmp_path / "out" / "deep" / "b.no_echo.wav"
    assert [item.promises_audio for item in items] == [True, True, False]


def test_the_digest_changes_with_what_makes_the_output():
    settings = BatchSettings(prep=PrepOptions(), amounts=engine.Amounts())
    item = BatchItem(Path("a.wav"), Path("out/a.no_echo.wav"))
    ranged = BatchItem(Path("a.wav"), Path("out/a.no_echo.wav"), start_s=1.0)
    softer = BatchSettings(prep=PrepOptions(), amounts=engine.Amounts(echo=0.5))
    # where it runs is not what it makes: more jobs redo nothing
    busier = BatchSettings(prep=PrepOptions(), amounts=engine.Amounts(), jobs=8)
    assert settings.digest(item) == busier.digest(item)
    assert len({settings.digest(item), settings.digest(ranged), softer.digest(item)}) == 3
