"""The workspace's keys: one table, in the order the footer and the help screen show them."""

from __future__ import annotations

from textual.binding import Binding, BindingType

__all__ = ["WORKSPACE_BINDINGS"]

WORKSPACE_BINDINGS: list[BindingType] = [
    Binding(
        "o",
        "open",
        "Open",
        id="open",
        tooltip="Choose an audio file to work on, or a folder (f in the picker) to batch",
    ),
    Binding(
        "left_square_bracket",
        "move_marker('start', -1)",
        "Start ◂",
        id="start_earlier",
        show=False,
        tooltip="Move the trim start marker earlier (1% of the view)",
    ),
    Binding(
        "right_square_bracket",
        "move_marker('start', 1)",
        "Start ▸",
        id="start_later",
        show=False,
        tooltip="Move the trim start marker later (1% of the view)",
    ),
    Binding(
        "left_curly_bracket",
        "move_marker('end', -1)",
        "End ◂",
        id="end_earlier",
        show=False,
        tooltip="Move the trim end marker earlier (1% of the view)",
    ),
    Binding(
        "right_curly_bracket",
        "move_marker('end', 1)",
        "End ▸",
        id="end_later",
        show=False,
        tooltip="Move the trim end marker later (1% of the view)",
    ),
    Binding(
        "w",
        "toggle_sent",
        "Sent/original",
        id="toggle_sent",
        show=False,
        tooltip="Show the waveform as it will be sent (trimmed, normalized) or the original",
    ),
    Binding(
        "t", "type_trim", "Type trim", id="type_trim", show=False, tooltip="Type the trim times"
    ),
    Binding(
        "x",
        "clear_trim",
        "Clear trim",
        id="clear_trim",
        show=False,
        tooltip="Keep the whole file",
    ),
    Binding(
        "a",
        "toggle_silence",
        "Auto-trim",
        id="auto_trim",
        tooltip="Trim leading and trailing silence below the level given",
    ),
    Binding(
        "n",
        "cycle_normalize",
        "Normalize",
        id="normalize",
        tooltip="Cycle normalizing: off, to a peak in dBFS, to a loudness in LUFS",
    ),
    Binding(
        "b",
        "cycle_backend",
        "Backend",
        id="backend",
        tooltip="Cycle the backend: local engine, deecho server, MusicGPT",
    ),
    Binding(
        "p",
        "process",
        "Process",
        id="process",
        tooltip="Prep the file and send it to the backend; on a folder, run the batch",
    ),
    Binding(
        "c",
        "cancel_job",
        "Cancel",
        id="cancel",
        tooltip="Cancel the job (keeps nothing), or stop the batch (keeps what ended)",
    ),
    Binding(
        "v",
        "show_compare",
        "Compare",
        id="compare",
        tooltip="Show the last result aligned on the original",
    ),
    Binding(
        "escape",
        "focus_waveform",
        "Waveform",
        id="focus_waveform",
        show=False,
        tooltip="Leave a field and give the keys back to the waveform",
    ),
]
