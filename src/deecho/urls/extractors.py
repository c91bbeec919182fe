"""Which yt-dlp extractors may run: none that runs JavaScript or another program.

Some extractors evaluate a site's JavaScript (yt-dlp's JS interpreter,
PhantomJS, or YouTube's challenge solvers in deno/node/bun/quickjs), and
a few start programs. An extractor is refused when the module of any class
it is built from mentions one of these in its source file; each file is read
once per process. yt-dlp's base class (`extractor/common.py`) is not
searched: its one program is the `.netrc` command, which is never enabled.
"""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path

__all__ = ["script_refusal"]

#: What a module names when it runs scripts or programs.
_MARKERS = re.compile(
    r"\bPhantomJSwrapper\b|\bjsinterp\b|\bJSInterpreter\b|from \.jsc\b|\bsubprocess\b|\bPopen\b"
)
_BASE_MODULE = "yt_dlp.extractor.common"


@functools.cache
def _file_runs_scripts(source: str) -> bool:
    return bool(_MARKERS.search(Path(source).read_text(encoding="utf-8", errors="replace")))


def _source_files(cls: type) -> set[str]:
    """The files `cls`'s own code was written in.

    Read from its functions' code, not `__module__`: yt-dlp re-labels the classes of
    a package (YouTube's live in `youtube/_video.py` but name `youtube` as module).
    """
    files = set()
    for member in vars(cls).values():
        function = getattr(member, "__func__", member)
        code = getattr(function, "__code__", None)
        if code is not None:
            files.add(code.co_filename)
    module_file = getattr(sys.modules.get(cls.__module__), "__file__", None)
    if module_file:
        files.add(str(module_file))
    return files


def script_refusal(extractor: type) -> str | None:
    """Why `extractor` (a yt-dlp InfoExtractor class) may not run here, or None."""
    for cls in extractor.__mro__:
        if not cls.__module__.startswith("yt_dlp.") or cls.__module__ == _BASE_MODULE:
            continue
        if any(_file_runs_scripts(source) for source in _source_files(cls)):
            name = getattr(extractor, "IE_NAME", extractor.__name__)
            return (
                f"audio_url: the {name} site needs JavaScript or another program run to find"
                " its media, which this server does not do; send a direct link to the audio"
            )
    return None
