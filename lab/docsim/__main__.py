"""`python -m lab.docsim [--port 8765] [--lab] [faults...]`"""

import argparse
import signal
import sys
from dataclasses import fields

from lab.docsim.options import Options
from lab.docsim.server import SimServer


def parse(argv=None) -> tuple[Options, bool]:
    defaults = Options()
    parser = argparse.ArgumentParser(prog="python -m lab.docsim", description=__doc__)
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument(
        "--token",
        action="append",
        dest="tokens",
        help="a valid API token (repeatable; default lab-token)",
    )
    for field in fields(Options):
        if field.name == "tokens":
            continue
        flag = "--" + field.name.replace("_", "-")
        default = getattr(defaults, field.name)
        if isinstance(default, bool):
            parser.add_argument(flag, action="store_true", default=default)
        else:
            kind = int if field.name == "seed" else type(default)
            parser.add_argument(flag, type=kind, default=default, metavar=field.name.upper())
    args = vars(parser.parse_args(argv))
    verbose = args.pop("verbose")
    args["tokens"] = args["tokens"] or defaults.tokens
    return Options(**args), verbose


def main(argv=None) -> int:
    options, verbose = parse(argv)
    server = SimServer(options, verbose=verbose)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(
        f"docsim listening on {server.url}" + (" (lab hosts on)" if options.lab else ""), flush=True
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
