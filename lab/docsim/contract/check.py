"""Exchanges with the API checked against DigitalOcean's OpenAPI contract.

A request: its method and path exist in the contract, its path and query parameters are the
declared ones with values of the declared types, its body matches the operation's request
schema. An answer: its status is declared for the operation (a success explicitly, an error
at least through `default`), its body matches that response's schema, and it carries what the
contract says in words (facts.py): rate-limit headers, the error shape, retry-after on a 429.
"""

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from jsonschema.exceptions import best_match

from lab.docsim.contract import facts
from lab.docsim.contract.schema import REQUEST, RESPONSE, validator

SPEC = Path(__file__).with_name("do-openapi-subset.json")
# Cut later from the same commit by cut.py: the customer balance cost checks compare with.
BILLING_SPEC = Path(__file__).with_name("do-openapi-billing.json")
METHODS = ("get", "put", "post", "delete", "patch")


@dataclass
class Operation:
    method: str
    template: str
    spec: dict

    @property
    def operation_id(self) -> str:
        return self.spec.get("operationId") or f"{self.method} {self.template}"

    @cached_property
    def regex(self) -> re.Pattern:
        pattern = re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        return re.compile(f"^{pattern}$")

    def parameters(self, where: str) -> dict:
        return {p["name"]: p for p in self.spec.get("parameters", []) if p.get("in") == where}

    @cached_property
    def request_schema(self):
        content = (self.spec.get("requestBody") or {}).get("content") or {}
        schema = (content.get("application/json") or {}).get("schema")
        return None if schema is None else validator(schema, REQUEST)

    def response(self, status: int) -> tuple[str | None, dict | None]:
        responses = self.spec.get("responses", {})
        if str(status) in responses:
            return str(status), responses[str(status)]
        if status >= 400 and "default" in responses:
            return "default", responses["default"]
        return None, None


class Contract:
    def __init__(self, *spec_paths: Path):
        self.operations = [
            Operation(method.upper(), template, op)
            for spec_path in spec_paths or (SPEC, BILLING_SPEC)
            for template, item in json.loads(Path(spec_path).read_text())["paths"].items()
            for method, op in item.items()
            if method in METHODS
        ]
        # A literal segment wins over a parameter (/v2/droplets/actions, not {droplet_id}).
        self.operations.sort(key=lambda op: op.template.count("{"))
        self._response_validators: dict = {}

    def find(self, method: str, path: str) -> tuple[Operation | None, dict]:
        for op in self.operations:
            if op.method == method.upper():
                match = op.regex.match(path)
                if match:
                    return op, {k: unquote(v) for k, v in match.groupdict().items()}
        return None, {}

    # -- requests ------------------------------------------------------------------------------
    def check_request(self, method: str, target: str, body: bytes) -> tuple[Operation, list]:
        url = urlparse(target)
        # DigitalOcean takes "/v2/droplets/" for "/v2/droplets" (python-digitalocean's own
        # classes send the slash).
        op, path_params = self.find(method, url.path.rstrip("/"))
        if op is None:
            return None, [f"{method} {url.path} is not an operation of the contract"]
        problems = self._parameters(op, "path", path_params)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        problems += self._parameters(op, "query", query)
        problems += self._body(op, body)
        return op, problems

    def _parameters(self, op: Operation, where: str, values: dict) -> list[str]:
        declared = op.parameters(where)
        problems = [
            f"{where} parameter {name!r} is not declared for {op.operation_id}"
            for name in values
            if name not in declared
        ]
        for name, param in declared.items():
            if name not in values:
                if param.get("required"):
                    problems.append(f"required {where} parameter {name!r} is missing")
                continue
            schema = param.get("schema") or {}
            value = _typed(values[name], schema.get("type"))
            problems += [
                f"{where} parameter {name}={values[name]!r}: {error.message}"
                for error in validator(schema, REQUEST).iter_errors(value)
            ]
        return problems

    def _body(self, op: Operation, raw: bytes) -> list[str]:
        if not raw.strip():
            required = (op.spec.get("requestBody") or {}).get("required")
            return ["the request has no body; the operation requires one"] if required else []
        if op.request_schema is None:
            return [f"{op.operation_id} takes no request body; one was sent"]
        try:
            body = json.loads(raw)
        except ValueError:
            return ["the request body is not JSON"]
        problems = [_describe("request", e) for e in op.request_schema.iter_errors(body)]
        return problems + facts.firewall_rules(body, "request")

    # -- answers -------------------------------------------------------------------------------
    def check_answer(self, op: Operation, status: int, headers: dict, body) -> list[str]:
        declared_as, response = op.response(status)
        if response is None:
            declared = ", ".join(op.spec.get("responses", {}))
            return [f"status {status} is not declared for {op.operation_id} ({declared})"]
        problems = []
        schema = ((response.get("content") or {}).get("application/json") or {}).get("schema")
        if schema is None and body is not None:
            problems.append(f"{status} declares no body; the answer has one")
        elif schema is not None and body is None:
            problems.append(f"{status} declares a body; the answer has none")
        elif schema is not None:
            key = (op.operation_id, declared_as)
            if key not in self._response_validators:
                self._response_validators[key] = validator(schema, RESPONSE)
            problems += [
                _describe(f"answer {status}", e)
                for e in self._response_validators[key].iter_errors(body)
            ]
        for name, header in (response.get("headers") or {}).items():
            value = headers.get(name.lower())
            kind = (header.get("schema") or {}).get("type")
            if value is not None and kind == "integer" and not str(value).isdigit():
                problems.append(f"header {name}: {value!r} is not an integer")
        problems += facts.answer(status, headers, body)
        return problems + facts.firewall_rules(body, f"answer {status}")


def _typed(value: str, kind: str | None):
    """A path or query value as the JSON value its schema describes (it arrives as text)."""
    if kind == "integer" and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return value
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def _describe(where: str, error) -> str:
    # An anyOf/oneOf (nullable, alternatives) says only "not valid under any": name the
    # deepest reason inside instead.
    while error.context:
        reasons = [e for e in error.context if e.validator_value != "null"] or error.context
        error = best_match(reasons)
    path = "/".join(str(p) for p in error.absolute_path) or "(top)"
    return f"{where} {path}: {error.message[:300]}"


@dataclass
class Tally:
    """What a set of checked exchanges amounts to."""

    operations_in_contract: int
    requests: int = 0
    answers: int = 0
    covered: dict = field(default_factory=dict)  # operation id -> exchanges
    statuses: dict = field(default_factory=dict)  # status -> exchanges
    failures: list = field(default_factory=list)  # (exchange summary, problem)

    def add(self, summary: str, op: Operation | None, problems: list):
        if op is not None:
            self.covered[op.operation_id] = self.covered.get(op.operation_id, 0) + 1
        self.failures += [(summary, p) for p in problems]

    def merge(self, other: "Tally") -> None:
        self.requests += other.requests
        self.answers += other.answers
        for key, n in other.covered.items():
            self.covered[key] = self.covered.get(key, 0) + n
        for key, n in other.statuses.items():
            self.statuses[key] = self.statuses.get(key, 0) + n
        self.failures += other.failures

    def figures(self) -> str:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        return (
            f"{len(self.covered)} of {self.operations_in_contract} operations covered, "
            f"{self.requests} requests and {self.answers} answers validated "
            f"(statuses {statuses or 'none'}), failures: {len(self.failures)}"
        )


def check_exchanges(contract: Contract, exchanges, *, requests: bool = True) -> Tally:
    """Check every exchange's answer, and its request too unless `requests` is False (a test
    that sends malformed requests on purpose to see the simulator's answer)."""
    tally = Tally(operations_in_contract=len(contract.operations))
    for exchange in exchanges:
        summary = f"{exchange.method} {exchange.target} -> {exchange.status}"
        op, problems = contract.check_request(
            exchange.method, exchange.target, exchange.request_body
        )
        if not requests:
            problems = [] if op is not None else problems
        else:
            tally.requests += 1
        if op is not None:
            problems += contract.check_answer(op, exchange.status, exchange.headers, exchange.body)
            tally.answers += 1
            tally.statuses[exchange.status] = tally.statuses.get(exchange.status, 0) + 1
        tally.add(summary, op, problems)
    return tally
