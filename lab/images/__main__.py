"""`python -m lab.images build [--cache DIR]` | `serve [--host H] [--port P]`"""

import argparse
import sys

from lab.images.build import build, cache_dir
from lab.images.serve import make_server


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.images")
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="build (or verify the cached) Alpine rootfs")
    p_build.add_argument("--cache", default=None)
    p_serve = sub.add_parser("serve", help="serve the cache over HTTP")
    p_serve.add_argument("--cache", default=None)
    p_serve.add_argument("--host", default="127.0.0.1")
    p_serve.add_argument("--port", type=int, default=8766)
    args = parser.parse_args(argv)
    if args.command == "build":
        info = build(args.cache)
        print(f"{info.name} ({info.version}) {info.path}\nsha256 {info.sha256}  {info.size} bytes")
        return 0
    server = make_server(args.host, args.port, args.cache or cache_dir())
    print(f"image server on http://{args.host}:{server.server_address[1]}/index.json", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
