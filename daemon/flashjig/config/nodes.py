"""Reading the composed YAML node tree with located errors.

Validation walks nodes, not plain Python objects, so that every error can point the
operator at the file, line and field to fix: the station is headless, and a message like
"sockets[2].boot" is the only debugging aid they get before the daemon refuses to start.
"""

from __future__ import annotations

import difflib
import math
import re
from typing import TypeGuard

import yaml
from yaml.constructor import SafeConstructor

from flashjig.errors import ConfigError

_TAG = "tag:yaml.org,2002:"
_KINDS = {
    "str": "string", "int": "integer", "float": "float", "bool": "boolean", "null": "null",
    "map": "mapping", "seq": "list", "timestamp": "timestamp", "binary": "binary",
}  # fmt: skip
# Stateless for the scalar methods used here, so one shared instance is fine.
_CONSTRUCTOR = SafeConstructor()


def located_error(file: str, line: int | None, field: str | None, reason: str) -> ConfigError:
    """Build the one-line ConfigError; newlines would break log lines and systemd status."""
    reason = " ".join(reason.split())
    where = file if line is None else f"{file}:{line}"
    message = f"{where}: {field}: {reason}" if field else f"{where}: {reason}"
    return ConfigError(message, file=file, line=line, field=field, reason=reason)


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def is_kind(node: yaml.Node, kind: str) -> TypeGuard[yaml.ScalarNode]:
    """A scalar with the YAML tag of ``kind`` ("str", "int", ...)."""
    return isinstance(node, yaml.ScalarNode) and node.tag == _TAG + kind


def describe(node: yaml.Node) -> str:
    """Say what the operator actually wrote, e.g. "boolean 'yes'" (the classic YAML surprise)."""
    kind = _KINDS.get(node.tag.removeprefix(_TAG), node.tag)
    if isinstance(node, yaml.ScalarNode) and node.tag != _TAG + "null":
        return f"{kind} {node.value!r}"
    return kind


def suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


class NodeReader:
    """Typed reads of nodes, each raising a located ConfigError naming the field."""

    def __init__(self, file: str) -> None:
        self.file = file

    def error(self, node: yaml.Node, field: str, reason: str) -> ConfigError:
        return located_error(self.file, node.start_mark.line + 1, field or "(root)", reason)

    # -- generic node helpers ------------------------------------------------------------

    def entries(self, node: yaml.Node, path: str, what: str = "a mapping") -> dict[str, yaml.Node]:
        """Key -> value node of a mapping with string keys and no duplicates."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, path, f"expected {what}, got {describe(node)}")
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                raise self.error(key_node, path, "YAML merge keys ('<<') are not supported")
            if not is_kind(key_node, "str"):
                raise self.error(key_node, path, f"keys must be strings, got {describe(key_node)}")
            key = key_node.value
            if key in out:
                raise self.error(key_node, join(path, key), f"duplicate key '{key}'")
            out[key] = value_node
        return out

    def mapping(
        self,
        node: yaml.Node,
        path: str,
        required: tuple[str, ...] = (),
        optional: tuple[str, ...] = (),
    ) -> dict[str, yaml.Node]:
        """A mapping with a fixed set of keys: unknown keys and missing required keys are errors."""
        out = self.entries(node, path)
        allowed = required + optional
        for key_node, _ in node.value:
            if key_node.value not in allowed:
                key = key_node.value
                reason = f"unknown key '{key}'{suggest(key, allowed)}"
                raise self.error(key_node, join(path, key), reason)
        for key in required:
            if key not in out:
                raise self.error(node, join(path, key), f"missing required key '{key}'")
        return out

    @staticmethod
    def present(m: dict[str, yaml.Node], key: str) -> yaml.Node | None:
        """The value node of an optional key, None if it is absent or null."""
        node = m.get(key)
        return None if node is None or is_kind(node, "null") else node

    def string(self, node: yaml.Node, path: str) -> str:
        if not is_kind(node, "str"):
            raise self.error(node, path, f"expected a string, got {describe(node)}")
        return node.value

    def integer(self, node: yaml.Node, path: str) -> int:
        # bool is its own YAML tag, so `yes`/`true` are rejected here rather than becoming 1.
        if not is_kind(node, "int"):
            raise self.error(node, path, f"expected an integer, got {describe(node)}")
        try:
            return _CONSTRUCTOR.construct_yaml_int(node)
        except ValueError:
            raise self.error(node, path, f"invalid integer {node.value!r}") from None

    def boolean(self, node: yaml.Node, path: str) -> bool:
        if not is_kind(node, "bool"):
            raise self.error(node, path, f"expected a boolean (true/false), got {describe(node)}")
        return _CONSTRUCTOR.construct_yaml_bool(node)

    def choice(self, node: yaml.Node, path: str, choices: tuple[str, ...]) -> str:
        """One of a fixed set of strings, matched case-insensitively, returned in canonical case."""
        value = self.string(node, path)
        for canonical in choices:
            if value.lower() == canonical.lower():
                return canonical
        field = path.rsplit(".", 1)[-1]
        expected = ", ".join(choices)
        reason = f"invalid {field} {value!r}{suggest(value, choices)}; expected one of {expected}"
        raise self.error(node, path, reason)

    def regex(self, node: yaml.Node, path: str) -> str:
        value = self.string(node, path)
        try:
            re.compile(value)
        except re.error as e:
            raise self.error(node, path, f"not a regular expression: {e}") from None
        return value

    def seconds(self, node: yaml.Node, path: str, maximum: float = 3600) -> float:
        if not (is_kind(node, "int") or is_kind(node, "float")):
            raise self.error(node, path, f"expected a number of seconds, got {describe(node)}")
        # YAML 1.1's own reading: 0x10 is 16, 1:30.5 is 90.5 (sexagesimal), .inf is inf.
        try:
            if is_kind(node, "int"):
                value = float(_CONSTRUCTOR.construct_yaml_int(node))
            else:
                value = float(_CONSTRUCTOR.construct_yaml_float(node))
        except ValueError:
            raise self.error(node, path, f"invalid number {node.value!r}") from None
        if not math.isfinite(value):
            raise self.error(node, path, f"expected a finite number of seconds, got {node.value!r}")
        if not 0 <= value <= maximum:
            raise self.error(
                node, path, f"must be between 0 and {maximum:g} seconds, got {value:g}"
            )
        return value
