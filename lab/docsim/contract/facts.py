"""What the contract states in words rather than in schema (contract/README.md), as checks.

Each function returns the problems it found, as sentences; none means the exchange agrees.
"""

import re

# "0" means all ports (and is what DigitalOcean returns for "all", and for every ICMP rule);
# otherwise one port or a range.
PORTS = re.compile(r"^(0|[1-9][0-9]{0,4}(-[1-9][0-9]{0,4})?)$")
RATE_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")


def firewall_rules(body, where: str) -> list[str]:
    """Rules in `inbound_rules` / `outbound_rules` anywhere in a body: their `ports` form."""
    problems = []
    for rule_list, rule in _rules(body):
        ports = rule.get("ports")
        if not isinstance(ports, str) or not PORTS.match(ports):
            problems.append(
                f"{where}: {rule_list} rule {rule.get('protocol')} has ports {ports!r}; the "
                'contract has a port, a range or "0" (all ports, and every ICMP rule)'
            )
        elif rule.get("protocol") == "icmp" and ports != "0":
            problems.append(f'{where}: an ICMP rule has ports {ports!r}, not "0"')
    return problems


def _rules(body):
    if isinstance(body, dict):
        for key, value in body.items():
            if key in ("inbound_rules", "outbound_rules") and isinstance(value, list):
                yield from ((key, rule) for rule in value if isinstance(rule, dict))
            else:
                yield from _rules(value)
    elif isinstance(body, list):
        for item in body:
            yield from _rules(item)


def answer(status: int, headers: dict, body) -> list[str]:
    problems = []
    for name in RATE_HEADERS:
        if not str(headers.get(name, "")).isdigit():
            problems.append(f"answer {status} lacks an integer {name} header")
    if status >= 400:
        if not isinstance(body, dict) or not all(
            isinstance(body.get(key), str) for key in ("id", "message", "request_id")
        ):
            problems.append(f'error {status} is not {{"id", "message", "request_id"}}: {body!r}')
    if status == 429 and not str(headers.get("retry-after", "")).isdigit():
        problems.append("429 without an integer retry-after header")
    return problems
