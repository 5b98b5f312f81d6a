"""`python -m lab.droplets image [--force]`: build (or find cached) the vm droplet base image."""

import sys

from lab.droplets import image


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "image":
        print("usage: python -m lab.droplets image [--force]", file=sys.stderr)
        return 2
    return image.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
