"""The walk over the YAML node tree: any section (a dataclass of model.py) is read by its
fields' readers, with unknown keys refused and every error located. It keeps where each
section and each pin came from, for the rules that span them (rules.py)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_origin, get_type_hints

import yaml

from flashjig.config.nodes import NodeReader
from flashjig.config.readers import Reader

T = TypeVar("T")
Entries = dict[str, yaml.Node]


@dataclass(frozen=True)
class Place:
    """Where a section was read: its node, field path and entries (key -> value node, null
    values too); ``note`` places an image within the file its node names (a build's)."""

    node: yaml.Node
    path: str
    entries: Entries
    note: str = ""


@dataclass(frozen=True)
class PinUse:
    line: int
    index: int
    pin: str
    path: str


def readers(section: type) -> dict[str, Reader]:
    """Each field of ``section`` read from the YAML, with its reader (from the field's
    ``Annotated`` hint); fields without one are filled by another field's reader or the
    section's caller."""
    hints = get_type_hints(section, include_extras=True)
    out = {}
    for field in fields(section):
        hint = hints[field.name]
        if get_origin(hint) is Annotated:
            (reader,) = (meta for meta in hint.__metadata__ if isinstance(meta, Reader))
            out[field.name] = reader
    return out


class Walk(NodeReader):
    def __init__(self, path: Path, check_files: bool) -> None:
        super().__init__(str(path))
        self.base = path.absolute().parent
        self.check_files = check_files
        self.pins: list[PinUse] = []
        self._places: dict[int, Place] = {}

    def section(self, section: type[T], node: yaml.Node, path: str, /, **given: Any) -> T:
        """``section`` read from a mapping; ``given`` fills fields not in the YAML."""
        taken = readers(section)
        required: list[str] = []
        optional: list[str] = []
        for name, reader in taken.items():
            first, *others = reader.keys(name)
            (required if reader.required else optional).append(first)
            optional += others
        place = Place(node, path, self.mapping(node, path, tuple(required), tuple(optional)))
        values = dict(given)
        for name, reader in taken.items():
            values.update(reader.take(self, place, name))
        built = section(**values)
        self._places[id(built)] = place
        return built

    def place(self, built: object, node: yaml.Node, path: str, entries: Entries, note: str) -> None:
        """Keep where ``built``, read by a section's reader, came from."""
        self._places[id(built)] = Place(node, path, entries, note)

    def where(self, built: object) -> Place | None:
        """Where a section was read; None for a default the file did not write."""
        return self._places.get(id(built))

    def pin_read(self, node: yaml.Node, path: str, pin: str) -> None:
        self.pins.append(PinUse(node.start_mark.line + 1, node.start_mark.index, pin, path))
