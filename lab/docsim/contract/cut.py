"""Cut paths out of a checkout of github.com/digitalocean/openapi into one JSON file with every
`$ref` resolved inline and examples dropped, the shape check.py reads.

    python -m lab.docsim.contract.cut CHECKOUT OUT.json /v2/customers/my/balance ...

Used for do-openapi-billing.json; do-openapi-subset.json was cut the same way.
"""

import json
import re
import sys
from pathlib import Path

import yaml

# A discriminator names schemas by $ref; with them resolved inline it would point nowhere.
DROPPED = {"example", "examples", "x-codeSamples", "discriminator"}
OPERATION_DROPPED = DROPPED | {"description"}
METHODS = {"get", "put", "post", "patch", "delete"}


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. PyYAML's 1.1 rules would read the droplet status
    enum's `off` as False."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _load(path: Path):
    return yaml.load(path.read_text(), Loader=_Yaml12Loader)  # noqa: S506 (a SafeLoader)


def _pointer(document, fragment: str):
    for part in filter(None, fragment.split("/")):
        document = document[part.replace("~1", "/").replace("~0", "~")]
    return document


def resolve(node, here: Path):
    """`node` with every $ref (relative to the file `here`) replaced by what it names."""
    if isinstance(node, list):
        return [resolve(item, here) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target, _, fragment = node["$ref"].partition("#")
        where = (here.parent / target).resolve() if target else here
        return resolve(_pointer(_load(where), fragment), where)
    return {key: resolve(value, here) for key, value in node.items() if key not in DROPPED}


def _operation(op: dict) -> dict:
    kept = {k: v for k, v in op.items() if k not in OPERATION_DROPPED}
    kept["responses"] = {
        status: {k: v for k, v in answer.items() if k != "description"}
        for status, answer in op["responses"].items()
    }
    return kept


def cut(checkout: Path, paths: list[str]) -> dict:
    root = checkout / "specification" / "DigitalOcean-public.v2.yaml"
    spec = _load(root)
    cut_paths = {}
    for template in paths:
        item = resolve(spec["paths"][template], root)
        cut_paths[template] = {
            method: _operation(op) for method, op in item.items() if method in METHODS
        }
    return {
        "openapi": "3.0.0",
        "info": {
            "title": "DigitalOcean API v2 (subset, $refs resolved)",
            "x-license": "Apache-2.0 (see LICENSE beside this file)",
            "x-source": "github.com/digitalocean/openapi specification/DigitalOcean-public.v2.yaml",
        },
        "paths": cut_paths,
    }


if __name__ == "__main__":
    checkout, out, *wanted = sys.argv[1:]
    Path(out).write_text(json.dumps(cut(Path(checkout), wanted), indent=1, sort_keys=True) + "\n")
