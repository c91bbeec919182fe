"""Editor integrations: configs parsed, their variables filled in, their commands run.

VS Code tasks and JetBrains external tools are data: we expand their
variables the way the editor does and run the resulting command lines with
the real CLI. The Vim and Emacs files run in real Vim (`vim -Nu NONE -es`) and
batch Emacs (`emacs --batch -Q`), both installed by `make system-deps`.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import soundfile as sf

from .conftest import PLUGINS, RATE, speech_with_echo, write_wav

EDITORS = PLUGINS / "editors"


def fresh_take(folder: Path, name: str = "take one.wav") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_wav(folder / name, speech_with_echo(2.0, 1))


def expand_vscode(text: str, file: Path) -> str:
    values = {
        "file": str(file),
        "fileDirname": str(file.parent),
        "fileBasenameNoExtension": file.stem,
        "pathSeparator": "/",
    }

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"${{{name}}} is not a variable this test knows VS Code fills in"
        return values[name]

    return re.sub(r"\$\{([^}]+)\}", substitute, text)


def expand_jetbrains(text: str, file: Path) -> str:
    values = {
        "FilePath": str(file),
        "FileDir": str(file.parent),
        "FileNameWithoutExtension": file.stem,
    }

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"${name}$ is not a JetBrains macro this test knows"
        return values[name]

    return re.sub(r"\$(\w+)\$", substitute, text)


def run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_vscode_tasks_run_deecho_on_the_current_file(
    plugin_env: dict[str, str], tmp_path: Path, deecho_bin: Path
) -> None:
    tasks = json.loads((EDITORS / "vscode" / "tasks.json").read_text())  # strict JSON
    assert tasks["version"] == "2.0.0"
    by_subcommand: dict[str, list[dict[str, Any]]] = {}
    for task in tasks["tasks"]:
        assert task["type"] == "process", "no shell: paths need no quoting"
        assert shutil.which(task["command"], path=plugin_env["PATH"]) == str(deecho_bin)
        by_subcommand.setdefault(task["args"][0], []).append(task)
    assert set(by_subcommand) == {"process", "tui"}

    for index, task in enumerate(by_subcommand["process"]):
        take = fresh_take(tmp_path / f"task {index}")
        args = [expand_vscode(str(a), take) for a in task["args"]]
        cwd = Path(expand_vscode(task["options"]["cwd"], take))
        done = run([str(deecho_bin), *args], plugin_env, cwd)
        assert done.returncode == 0, done.stderr
        assert Path(done.stdout.strip()) == take.with_name("take one.no_echo.wav")
        if "--echo-output" in args:
            assert sf.info(take.with_name("take one.echo.wav")).frames == 2 * RATE

    [tui] = by_subcommand["tui"]
    take = fresh_take(tmp_path / "tui")
    assert [expand_vscode(str(a), take) for a in tui["args"]] == ["tui", str(take)]
    assert tui["presentation"]["panel"] == "dedicated"


def test_jetbrains_external_tools_run_deecho_on_the_current_file(
    plugin_env: dict[str, str], tmp_path: Path, deecho_bin: Path
) -> None:
    root = ET.parse(EDITORS / "jetbrains" / "deecho.xml").getroot()
    assert root.tag == "toolSet" and root.get("name") == "deecho"
    tools = root.findall("tool")
    assert len(tools) == 3
    for index, tool in enumerate(tools):
        options = {o.get("name"): o.get("value") for o in tool.iter("option")}
        take = fresh_take(tmp_path / f"tool {index}")
        params = shlex.split(expand_jetbrains(options["PARAMETERS"] or "", take))
        cwd = Path(expand_jetbrains(options["WORKING_DIRECTORY"] or "", take))
        assert cwd == take.parent
        if options["COMMAND"] == "deecho":
            assert shutil.which("deecho", path=plugin_env["PATH"]) == str(deecho_bin)
            done = run([str(deecho_bin), *params], plugin_env, cwd)
            assert done.returncode == 0, f"{tool.get('name')}: {done.stderr}"
            assert Path(done.stdout.strip()) == take.with_name("take one.no_echo.wav")
            if "--echo-output" in params:
                assert take.with_name("take one.echo.wav").exists()
        else:
            # the IDE console is not a terminal: the workspace opens in one
            assert options["COMMAND"] == "x-terminal-emulator"
            assert params == ["-e", "deecho", "tui", str(take)]
            assert tool.get("useConsole") == "false"


def vim_binary() -> str:
    found = shutil.which("vim")
    assert found, "vim is missing: `make system-deps` installs vim-nox"
    return found


def run_vim(file: Path, commands: list[str], env: dict[str, str], tmp_path: Path) -> str:
    messages = tmp_path / "vim-messages.txt"
    argv = [str(vim_binary()), "-Nu", "NONE", "-i", "NONE", "-es"]
    for command in [
        f"source {EDITORS / 'vim' / 'deecho.vim'}",
        "edit " + str(file).replace(" ", "\\ "),  # Vim escapes spaces in file names
        *commands,
        f"redir! > {messages}",
        "messages",
        "redir END",
        "qa!",
    ]:
        argv += ["-c", command]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return messages.read_text()


def test_vim_process_command_writes_the_result_and_says_where(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    take = fresh_take(tmp_path / "vim takes")
    said = run_vim(take, ["DeechoProcess --start 0.5 --end 1.5"], plugin_env, tmp_path)
    output = take.with_name("take one.no_echo.wav")
    assert f"deecho wrote {output}" in said.splitlines(), said
    assert sf.info(output).frames == RATE


def test_vim_process_command_reports_deechos_error(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    missing = tmp_path / "gone.wav"
    said = run_vim(missing, ["DeechoProcess"], plugin_env, tmp_path)
    assert "deecho failed (exit 66): deecho:" in said


def test_vim_tui_command_starts_deecho_tui_on_the_file(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    record = tmp_path / "args.txt"
    recorder = tmp_path / "recorder"
    recorder.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{record}"\n')
    recorder.chmod(0o755)
    take = fresh_take(tmp_path / "vim tui")
    run_vim(
        take,
        [f'let g:deecho_command = "{recorder}"', "DeechoTui", "sleep 2"],
        plugin_env,
        tmp_path,
    )
    assert record.read_text().splitlines() == ["tui", str(take)]


def test_emacs_file_byte_compiles_without_a_warning_and_runs_deecho_without_a_shell(
    tmp_path: Path,
) -> None:
    text = (EDITORS / "emacs" / "deecho.el").read_text()
    assert '(list deecho-command "process" file)' in text, "argv list: no shell quoting"
    assert '(make-term "deecho-tui" deecho-command nil "tui" file)' in text
    copy = tmp_path / "deecho.el"
    copy.write_text(text)
    done = subprocess.run(
        [
            *("emacs", "--batch", "-Q", "--eval", "(setq byte-compile-error-on-warn t)"),
            *("-f", "batch-byte-compile", str(copy)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert copy.with_suffix(".elc").exists()


def run_emacs(file: Path, command: str, env: dict[str, str]) -> str:
    """Batch Emacs with deecho.el installed as its README says (load-path, require);
    runs COMMAND on FILE, waits for deecho, and returns what Emacs said."""
    assert shutil.which("emacs"), "emacs is missing: `make system-deps` installs emacs-nox"
    program = (
        "(progn (require 'deecho) "
        f"(find-file {json.dumps(str(file))}) {command} "
        '(while (process-live-p (get-process "deecho")) (accept-process-output nil 0.2)) '
        # the sentinel runs once more after the process has gone
        "(accept-process-output nil 0.2))"
    )
    done = subprocess.run(
        ["emacs", "--batch", "-Q", "-L", str(EDITORS / "emacs"), "--eval", program],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr  # batch Emacs prints `message' on stderr


def test_emacs_process_command_writes_the_result_and_says_where(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    take = fresh_take(tmp_path / "emacs takes")
    said = run_emacs(take, '(deecho-process (list "--start" "0" "--end" "1"))', plugin_env)
    output = take.with_name("take one.no_echo.wav")
    assert f"deecho wrote {output}" in said.splitlines(), said
    assert sf.info(output).frames == RATE


def test_emacs_process_command_reports_deechos_error(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    missing = tmp_path / "gone.wav"
    said = run_emacs(missing, "(deecho-process)", plugin_env)
    assert "deecho failed (exit 66): deecho:" in said
