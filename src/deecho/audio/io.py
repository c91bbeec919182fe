"""Files <-> (channels, samples) float32 arrays: one import for readers and writers."""

from deecho.audio.readers import (
    AudioInfo,
    AudioReader,
    iter_blocks,
    open_audio,
    opened,
    probe,
    read_audio,
)
from deecho.audio.writers import BIT_DEPTHS, WRITABLE_EXTENSIONS, AudioWriter, write_audio

__all__ = [
    "BIT_DEPTHS",
    "WRITABLE_EXTENSIONS",
    "AudioInfo",
    "AudioReader",
    "AudioWriter",
    "iter_blocks",
    "open_audio",
    "opened",
    "probe",
    "read_audio",
    "write_audio",
]
