"""Audio files in and out, and preparation (trim, normalize) before processing."""

from deecho.audio.io import AudioInfo, AudioWriter, open_audio, probe, read_audio, write_audio

__all__ = ["AudioInfo", "AudioWriter", "open_audio", "probe", "read_audio", "write_audio"]
