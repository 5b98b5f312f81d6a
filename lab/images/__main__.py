"""python -m lab.images build [--cache DIR] [--force]
python -m lab.images serve [--cache DIR] [--host 127.0.0.1] [--port 8766]"""

import argparse
import logging
import sys

from lab.images.build import build, cache_dir
from lab.images.catalog import listed_image
from lab.images.serve import make_server


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lab.images", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="build the Alpine rootfs (or verify the cached one)")
    p_build.add_argument("--cache", help="default: $EDGE_LAB_CACHE or lab/images/cache")
    p_build.add_argument("--force", action="store_true", help="rebuild even if cached")
    p_serve = sub.add_parser("serve", help="serve the cache read-only over HTTP")
    p_serve.add_argument("--cache", help="default: $EDGE_LAB_CACHE or lab/images/cache")
    p_serve.add_argument(
        "--host", default="127.0.0.1", help="0.0.0.0 or 198.18.0.1 for lab hosts to reach it"
    )
    p_serve.add_argument("--port", type=int, default=8766)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    cache = args.cache or cache_dir()

    if args.command == "build":
        info = build(cache, force=args.force)
        print(f"{info.name} ({info.version}, {info.arch})\n{info.path}")
        print(f"sha256 {info.sha256}  {info.size} bytes")
        return 0

    server = make_server(args.host, args.port, cache)
    if listed_image(cache) is None:
        logging.warning("no image in %s yet: run `python -m lab.images build`", cache)
    print(
        f"serving {cache} on http://{args.host}:{server.server_address[1]}/index.json", flush=True
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
