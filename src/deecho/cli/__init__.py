"""`deecho` command line: one subcommand module each, wired here.

Each subcommand module exposes `register(subparsers)`, which adds its parser
and sets `handler=` to a function taking the parsed namespace and returning an
exit code. Modules import their heavy dependencies inside the handler, so
`deecho process` does not pay for Textual or FastAPI at start-up.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from deecho import __version__
from deecho.errors import EX_SOFTWARE, EX_USAGE, DeechoError

#: Subcommand modules under deecho.cli, in the order `--help` lists them.
SUBCOMMANDS = ("process", "batch", "compare", "serve", "tui")

log = logging.getLogger("deecho")


class _Parser(argparse.ArgumentParser):
    """argparse that exits with EX_USAGE (64), as sysexits asks, not 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"deecho: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="deecho",
        description="Remove echo and reverb from recordings, and prove it did.",
    )
    parser.add_argument("--version", action="version", version=f"deecho {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMANDS:
        importlib.import_module(f"deecho.cli.{name}").register(subparsers)
    for subparser in subparsers.choices.values():
        # Also after the subcommand (`deecho process x --debug`); SUPPRESS keeps the
        # subparser from resetting a --debug given before it.
        subparser.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="deecho: %(message)s",
        stream=sys.stderr,
    )
    handler = getattr(args, "handler", None)
    if handler is None:
        if "tui" in SUBCOMMANDS:
            handler = importlib.import_module("deecho.cli.tui").open_workspace
        else:
            parser.print_help(sys.stderr)
            return EX_USAGE
    try:
        return int(handler(args))
    except DeechoError as exc:
        if args.debug:
            log.exception("failed")
        print(f"deecho: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("deecho: interrupted; nothing was written", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if args.debug:
            raise
        what = f"{type(exc).__name__}: {exc}"
        print(f"deecho: internal error: {what} (rerun with --debug and report it)", file=sys.stderr)
        return EX_SOFTWARE


if __name__ == "__main__":
    sys.exit(main())
