"""``python -m modelreg serve ...`` (and the ``modelreg`` console script)."""

import sys
from typing import List, Optional

USAGE = """usage: python -m modelreg serve models:/NAME@ALIAS [models:/NAME/VERSION ...] --registry R [--listen 127.0.0.1:PORT] [...]

commands:
  serve    serve registered models (Python objects included) over model-server's HTTP API;
           python -m modelreg serve --help lists every flag
"""


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if args else 2
    if args[0] != "serve":
        print(f"error: unknown command {args[0]!r}\n\n{USAGE}", end="", file=sys.stderr)
        return 2
    from ._native import serve

    return serve(args[1:])


if __name__ == "__main__":
    sys.exit(main())
