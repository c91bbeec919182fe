"""Which yt-dlp extractors may run: none that runs JavaScript or another program.

Some extractors evaluate a site's JavaScript (yt-dlp's JS interpreter,
PhantomJS, or YouTube's challenge solvers in deno/node/bun/quickjs), and
a few start programs. An extractor is refused when the module of any class
it is built from mentions one of these; the check reads the module's source
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
def _module_runs_scripts(module_name: str) -> bool:
    module = sys.modules.get(module_name)
    source = getattr(module, "__file__", None)
    if not source:
        return True  # cannot be read, so cannot be cleared
    return bool(_MARKERS.search(Path(source).read_text(encoding="utf-8", errors="replace")))


def script_refusal(extractor: type) -> str | None:
    """Why `extractor` (a yt-dlp InfoExtractor class) may not run here, or None."""
    for cls in extractor.__mro__:
        module = cls.__module__
        if not module.startswith("yt_dlp.") or module == _BASE_MODULE:
            continue
        if _module_runs_scripts(module):
            name = getattr(extractor, "IE_NAME", extractor.__name__)
            return (
                f"audio_url: the {name} site needs JavaScript or another program run to find"
                " its media, which this server does not do; send a direct link to the audio"
            )
    return None
