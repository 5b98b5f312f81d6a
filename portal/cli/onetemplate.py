"""`onetemplate`: not available yet (the API it needs has not been built)."""

import sys


def main(argv=None) -> int:
    print("onetemplate: not available yet in this version of Edge Portal", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
