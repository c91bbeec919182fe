"""`deecho serve`: run the MusicGPT-compatible deecho API on this machine."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from deecho.errors import UsageError

_EPILOG = """\
Clients send the key in `Authorization: <key>` (or `Bearer <key>`). The key comes
from DEECHO_API_KEY, or is generated on first start, stored in DATA_DIR/api_key
(mode 0600) and printed once. Bound to loopback, the server lets audio_url and
webhook_url reach loopback hosts; private networks need --allow-private-urls.
See docs/server.md."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the MusicGPT deecho API with the local engine",
        description="Serve the MusicGPT deecho API (POST /deecho, GET /byId) on this machine.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="TCP port (default 8000)")
    parser.add_argument(
        "--data-dir", type=Path, metavar="DIR", help="database, uploads and results"
    )
    parser.add_argument("--workers", type=int, metavar="N", help="worker processes (default 1)")
    parser.add_argument(
        "--http-workers",
        type=int,
        default=1,
        metavar="N",
        help="processes answering HTTP (default 1); more spread uploads over cores",
    )
    parser.add_argument(
        "--allow-private-urls",
        action="store_true",
        default=None,
        help="let audio_url and webhook_url reach private, link-local and loopback hosts",
    )
    parser.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from deecho.config import load_settings
    from deecho.server import ServerConfig, create_app
    from deecho.server.app import CONFIG_ENV, config_to_environment, settle_for_serving
    from deecho.server.auth import load_or_create_key

    settings = load_settings()
    host = args.host or settings.server.host
    port = args.port if args.port is not None else settings.server.port
    if not 0 < port < 65536:
        raise UsageError(f"--port {port}: use a TCP port between 1 and 65535")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: use at least 1")
    if args.http_workers < 1:
        raise UsageError(f"--http-workers {args.http_workers}: use at least 1")
    config = ServerConfig.from_settings(
        settings,
        host=host,
        data_dir=args.data_dir,
        workers=args.workers,
        allow_private_urls=args.allow_private_urls,
    )
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        api_key, generated = load_or_create_key(config.data_dir, config.api_key)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UsageError(f"{config.data_dir}: cannot use this data folder ({reason})") from exc
    if generated:
        print(
            f"deecho: generated an API key (stored in {config.data_dir / 'api_key'}): {api_key}",
            flush=True,
        )
    print(f"deecho: serving on http://{host}:{port} (data in {config.data_dir})", file=sys.stderr)
    options: dict[str, Any] = {"host": host, "port": port, "log_level": "warning"}
    try:
        if args.http_workers == 1:
            app = create_app(config)
            settle_for_serving()
            uvicorn.run(app, access_log=False, **options)
        else:
            # uvicorn's worker processes build their own app from the environment.
            os.environ[CONFIG_ENV] = config_to_environment(config)
            uvicorn.run(
                "deecho.server.app:app_from_environment",
                factory=True,
                workers=args.http_workers,
                access_log=False,
                **options,
            )
    except SystemExit as exc:  # uvicorn exits 1 when it cannot bind
        raise UsageError(f"cannot listen on {host}:{port}; is the port in use?") from exc
    return 0
