"""The REAPER scripts and their fake, held to REAPER's documented API.

REAPER is not in Debian, so its scripts run against tests/plugins/lua/fake_reaper.lua.
This pins that fake to the documentation: lua/reaper_api.txt copies, in the docs'
own Lua syntax, the signature of each ReaScript function the scripts call.
"""

from __future__ import annotations

import re

from .conftest import LUA_HARNESS, PLUGINS

DOCUMENTED = LUA_HARNESS / "reaper_api.txt"
FAKE = LUA_HARNESS / "fake_reaper.lua"
#: the fake's argument checks, by the type names of REAPER's documentation
FAKE_KINDS = {"proj": "ReaProject"}


def documented() -> dict[str, tuple[list[str], list[str]]]:
    """name -> (argument types, return types), from the pinned documentation lines."""
    found = {}
    for line in DOCUMENTED.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = re.fullmatch(r"(?:(.*?)\s*=?\s*)?reaper\.(\w+)\((.*)\)", line)
        assert match, f"not a documentation line: {line}"
        returns, name, params = match.groups()
        arg_types = [p.split()[0] for p in params.split(",") if p.strip()]
        return_types = [r.split()[0] for r in (returns or "").split(",") if r.strip()]
        found[name] = (arg_types, return_types)
    return found


def called_by_the_scripts() -> set[str]:
    names = set()
    for script in (PLUGINS / "reaper").glob("*.lua"):
        names |= set(re.findall(r"\br\.(\w+)\(", script.read_text()))
    return names


def faked() -> dict[str, list[str]]:
    text = FAKE.read_text()
    return {
        name: [FAKE_KINDS.get(k, k) for k in re.findall(r'"(\w+)"', kinds)]
        for name, kinds in re.findall(r'signature\("(\w+)", \{([^}]*)\}', text)
    }


def test_every_function_the_scripts_call_is_documented_and_faked() -> None:
    calls = called_by_the_scripts()
    assert len(calls) > 25, "the scripts' calls were not found"
    assert calls - set(documented()) == set(), "calls missing from reaper_api.txt"
    assert calls - set(faked()) == set(), "calls the fake does not have"


def test_the_fake_takes_the_documented_argument_types() -> None:
    docs = documented()
    for name, kinds in faked().items():
        assert name in docs, f"the fake has {name}, which the documentation lines lack"
        assert kinds == docs[name][0], f"{name}: fake takes {kinds}, REAPER {docs[name][0]}"


def test_the_fake_returns_as_many_values_as_documented() -> None:
    text = FAKE.read_text()
    for name, (_, returns) in documented().items():
        body = text.split(f'signature("{name}"', 1)[1].split("\n  end", 1)[0]
        counts = {
            len(r.split(","))
            for r in re.findall(r"^\s*return (.+?)(?:\s*--.*)?$", body, flags=re.M)
            if not r.startswith("nil")  # "returns NULL on total failure"
        }
        if not returns:
            assert counts <= {0} or not counts, f"{name} returns nothing in REAPER"
        else:
            assert counts <= {len(returns)}, f"{name}: fake returns {counts}, REAPER {returns}"
