"""`rubicon serve`: a live, read-only web dashboard over the store."""

from __future__ import annotations

import argparse

from rubicon.cli._common import add_dir_flag, console


def _serve(args: argparse.Namespace) -> int:
    from rubicon.report.server import require_serve, serve

    require_serve()  # a clear message naming `pip install 'rubicon[serve]'` if missing
    console.print(f"rubicon dashboard on http://{args.host}:{args.port}/ over {args.dir} "
                  "(read-only; Ctrl-C stops it)")
    serve(args.dir, host=args.host, port=args.port, poll_ms=args.poll_ms)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="live web dashboard over the store (read-only)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument("--poll-ms", type=int, default=1500,
                   help="how often the page asks for updates, in milliseconds")
    add_dir_flag(p)
    p.set_defaults(func=_serve)
