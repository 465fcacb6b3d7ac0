"""How each config field is read from its YAML node: the readers model.py declares beside
the fields they fill (``Annotated[int, Number(0, 10)]``), which the walk (walk.py) calls.

A reader checks what one field can be on its own (kind, range, choices, a file that must
exist); rules that span fields or sections are rules.py's, once everything is read.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from gpiozero.pins.pi import PiBoardInfo

from flashjig.config.flasher_args import FlasherArgsError, read_flasher_args
from flashjig.config.nodes import describe, is_kind, join
from flashjig.config.passwords import read_password
from flashjig.config.pimodel import DEFAULT_PI_MODEL, machine_pi_model
from flashjig.config.sizes import BYTES as SIZE_BYTES
from flashjig.config.sizes import SECTOR_SIZE, size_name
from flashjig.config.templates import template_problem
from flashjig.errors import PasswordError

if TYPE_CHECKING:
    from flashjig.config.model import Chip, ImageSpec
    from flashjig.config.walk import Place, Walk

# Whatever flash_size says (detect and keep say nothing), no offset lies beyond this.
MAX_FLASH = max(SIZE_BYTES.values())
# Serials are SQLite INTEGERs: 64-bit signed.
MAX_SERIAL = 2**63 - 1
# The value encodings of the NVS generator's CSV a per-unit field may take.
NVS_ENCODINGS = (
    *("u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64"),
    *("string", "hex2bin", "base64"),
)
# NVS keys and namespaces: 15 characters at most (and a NUL).
_NVS_KEY_RE = re.compile(r"[A-Za-z0-9_.-]{1,15}")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_MAX_BCM = 27
_PIN_RE = re.compile(r"(GPIO|BCM|BOARD|J8:)?(\d+)", re.IGNORECASE)
# BOARD<n> and J8:<n> are positions on the 40-pin header, the same on every model the
# station runs on (3B+, 4, 5, Zero 2 W): gpiozero's board data says which GPIO each is.
_J8 = PiBoardInfo.from_revision(0xC03111).headers["J8"].pins  # a Pi 4 B


@dataclass(frozen=True, kw_only=True)
class Reader:
    """Reads one field from its key (``key``, else the field's name). A ``required`` key
    must be there, and is read even when null; an optional null key is an absent one."""

    key: str | None = None
    required: bool = False

    def keys(self, field: str) -> tuple[str, ...]:
        """The YAML keys this reader takes, the first of them the required one."""
        return (self.key or field,)

    def take(self, walk: Walk, section: Place, field: str) -> dict[str, Any]:
        """The fields this reader fills from the section's entries (none: the defaults)."""
        key = self.key or field
        m = section.entries
        node = m.get(key) if self.required else walk.present(m, key)
        if node is None:
            return {}
        return {field: self.read(walk, node, join(section.path, key))}

    def read(self, walk: Walk, node: yaml.Node, path: str) -> Any:
        raise NotImplementedError


# -- plain values ------------------------------------------------------------------------


@dataclass(frozen=True)
class Text(Reader):
    strip: bool = False

    def read(self, walk: Walk, node: yaml.Node, path: str) -> str:
        value = walk.string(node, path)
        return value.strip() if self.strip else value


@dataclass(frozen=True)
class Matching(Reader):
    """A string matching ``pattern``; else "invalid <what> ...: <rule>"."""

    pattern: re.Pattern[str]
    what: str
    rule: str

    def read(self, walk: Walk, node: yaml.Node, path: str) -> str:
        value = walk.string(node, path)
        if not self.pattern.fullmatch(value):
            raise walk.error(node, path, f"invalid {self.what} {value!r}: {self.rule}")
        return value


@dataclass(frozen=True)
class Topic(Reader):
    """An MQTT topic the station builds on: no wildcards, no trailing /."""

    def read(self, walk: Walk, node: yaml.Node, path: str) -> str:
        text = walk.string(node, path)
        if not text or any(c in text for c in "#+") or text.endswith("/"):
            reason = "a topic without wildcards (# +) or a trailing /"
            raise walk.error(node, path, f"expected {reason}, got {text!r}")
        return text


@dataclass(frozen=True)
class Flag(Reader):
    def read(self, walk: Walk, node: yaml.Node, path: str) -> bool:
        return walk.boolean(node, path)


@dataclass(frozen=True)
class Number(Reader):
    """An integer from ``low`` to ``high``; ``reason`` says what else it must be."""

    low: int
    high: int
    reason: str = "must be between {low} and {high}"

    def read(self, walk: Walk, node: yaml.Node, path: str) -> int:
        value = walk.integer(node, path)
        if not self.low <= value <= self.high:
            reason = self.reason.format(low=self.low, high=self.high, value=value)
            raise walk.error(node, path, reason)
        return value


@dataclass(frozen=True)
class OneOf(Reader):
    """An integer from a fixed set; ``reason`` formats {value} and {values}."""

    values: tuple[int, ...]
    reason: str = "expected one of {values}"

    def read(self, walk: Walk, node: yaml.Node, path: str) -> int:
        value = walk.integer(node, path)
        if value not in self.values:
            values = ", ".join(map(str, self.values))
            raise walk.error(node, path, self.reason.format(value=value, values=values))
        return value


@dataclass(frozen=True)
class Measure(Reader):
    """A number (integer or float) from ``low`` to ``high``, as a float: a label's size."""

    low: float
    high: float

    def read(self, walk: Walk, node: yaml.Node, path: str) -> float:
        if not (is_kind(node, "int") or is_kind(node, "float")):
            raise walk.error(node, path, f"expected a number, got {describe(node)}")
        value = float(node.value)
        if not self.low <= value <= self.high:
            raise walk.error(node, path, f"expected {self.low} to {self.high}, got {node.value}")
        return value


@dataclass(frozen=True)
class Seconds(Reader):
    maximum: float = 3600

    def read(self, walk: Walk, node: yaml.Node, path: str) -> float:
        return walk.seconds(node, path, self.maximum)


@dataclass(frozen=True)
class Choice(Reader):
    """One of a fixed set of strings (case-insensitive), or of a StrEnum's values, read as
    its member; ``also``: values beside the enum's, read as themselves (a socket's "auto")."""

    choices: tuple[str, ...] | type[StrEnum]
    also: tuple[str, ...] = ()

    def read(self, walk: Walk, node: yaml.Node, path: str) -> str:
        if isinstance(self.choices, tuple):
            return walk.choice(node, path, self.choices)
        value = walk.choice(node, path, (*self.choices, *self.also))
        return value if value in self.also else self.choices(value)


@dataclass(frozen=True)
class Choices(Reader):
    """A list of choices; ``noun``: it may not be empty ("expected a list of <noun>")."""

    choices: tuple[str, ...]
    noun: str | None = None

    def read(self, walk: Walk, node: yaml.Node, path: str) -> tuple[str, ...]:
        if self.noun is not None:
            if not isinstance(node, yaml.SequenceNode) or not node.value:
                raise walk.error(node, path, f"expected a list of {self.noun}")
        elif not isinstance(node, yaml.SequenceNode):
            raise walk.error(node, path, f"expected a list, got {describe(node)}")
        return tuple(
            walk.choice(item, f"{path}[{i}]", self.choices) for i, item in enumerate(node.value)
        )


@dataclass(frozen=True)
class Regex(Reader):
    def read(self, walk: Walk, node: yaml.Node, path: str) -> str:
        return walk.regex(node, path)


@dataclass(frozen=True)
class Regexes(Reader):
    def read(self, walk: Walk, node: yaml.Node, path: str) -> tuple[str, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise walk.error(node, path, "expected a list of patterns")
        return tuple(walk.regex(item, f"{path}[{i}]") for i, item in enumerate(node.value))


@dataclass(frozen=True)
class Pin(Reader):
    """GPIO17 / gpio17 / BCM17 / 17 / BOARD11 / J8:11, as gpiozero's 'GPIO17'. The walk
    keeps where each pin was read: a pin used twice is refused (rules.py)."""

    def read(self, walk: Walk, node: yaml.Node, path: str) -> str:
        if is_kind(node, "int"):
            prefix, number = "", walk.integer(node, path)
        elif is_kind(node, "str"):
            match = _PIN_RE.fullmatch(node.value.strip())
            if match is None:
                reason = f"invalid pin {node.value!r}: use GPIO<n>, BCM<n>, BOARD<n> or a number"
                raise walk.error(node, path, reason)
            prefix, number = (match.group(1) or "").upper(), int(match.group(2))
        else:
            reason = f"expected a pin like GPIO17 or a BCM number, got {describe(node)}"
            raise walk.error(node, path, reason)
        if prefix in ("BOARD", "J8:"):
            header = _J8.get(number)
            if header is None:
                raise walk.error(node, path, f"{prefix}{number} is not on the 40-pin header")
            if "gpio" not in header.interfaces:
                raise walk.error(node, path, f"{prefix}{number} is a {header.name} pin, not a GPIO")
            number = int(header.name.removeprefix("GPIO"))
        elif not 0 <= number <= _MAX_BCM:
            reason = f"GPIO{number} is outside the usable BCM range 0..{_MAX_BCM}"
            raise walk.error(node, path, reason)
        pin = f"GPIO{number}"
        walk.pin_read(node, path, pin)
        return pin


@dataclass(frozen=True)
class PiModel(Reader):
    """Absent or "auto": this machine's model (usb-map writes it; a config copied to
    another Pi follows it), the reference station's on a machine that is not a Pi."""

    models: tuple[str, ...]

    def take(self, walk: Walk, section: Place, field: str) -> dict[str, Any]:
        node = walk.present(section.entries, field)
        model = "auto" if node is None else self.read(walk, node, join(section.path, field))
        return {field: machine_pi_model() or DEFAULT_PI_MODEL if model == "auto" else model}

    def read(self, walk: Walk, node: yaml.Node, path: str) -> str:
        return walk.choice(node, path, (*self.models, "auto"))


@dataclass(frozen=True)
class SerialRange(Reader):
    def read(self, walk: Walk, node: yaml.Node, path: str) -> tuple[int, int]:
        if not isinstance(node, yaml.SequenceNode) or len(node.value) != 2:
            raise walk.error(node, path, "expected [first, last], e.g. [1, 500]")
        first = walk.integer(node.value[0], f"{path}[0]")
        last = walk.integer(node.value[1], f"{path}[1]")
        if not 0 <= first <= last:
            raise walk.error(node, path, f"expected 0 <= first <= last, got [{first}, {last}]")
        if last > MAX_SERIAL:
            reason = f"serials are stored as 64-bit integers: the last may be {MAX_SERIAL} at most"
            raise walk.error(node.value[1], f"{path}[1]", reason)
        return first, last


# -- files -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuntimeFile(Reader):
    """A file the station reads at run time (secrets, certificates): it must exist."""

    def read(self, walk: Walk, node: yaml.Node, path: str) -> Path:
        value = walk.base / walk.string(node, path)
        if walk.check_files:
            if not value.is_file():
                raise walk.error(node, path, f"file not found: {value}")
            try:  # as the user that loads it: the service's, under systemd
                with value.open("rb"):
                    pass
            except OSError as e:
                reason = f"cannot read {value}: {e.strerror} (the service user must be able to)"
                raise walk.error(node, path, reason) from None
        return value


@dataclass(frozen=True)
class PasswordFile(RuntimeFile):
    """A password file, read as its users will read it (``passwords``) when files are
    checked: refused here, naming the field, not in the thread that connects."""

    def read(self, walk: Walk, node: yaml.Node, path: str) -> Path:
        value = super().read(walk, node, path)
        if walk.check_files:
            try:
                read_password(value)
            except PasswordError as e:
                raise walk.error(node, path, str(e)) from None
        return value


@dataclass(frozen=True)
class Folder(Reader):
    def read(self, walk: Walk, node: yaml.Node, path: str) -> Path:
        folder = walk.base / walk.string(node, path)
        if walk.check_files and not folder.is_dir():
            raise walk.error(node, path, f"folder not found: {folder}")
        return folder


def file_size(image_path: Path) -> int | None:
    """An image file's size, None if it is not there to measure."""
    return image_path.stat().st_size if image_path.is_file() else None


def check_image_file(walk: Walk, node: yaml.Node, path: str, image: Path, entry: str = "") -> None:
    """When files are checked, an image file must be there, a file, and not empty."""
    if not walk.check_files:
        return
    if not image.exists():
        raise walk.error(node, path, f"{entry}image file not found: {image}")
    size = file_size(image)
    if size is None:
        raise walk.error(node, path, f"{entry}image file is not a regular file: {image}")
    if size == 0:
        raise walk.error(node, path, f"{entry}image file is empty: {image}")


@dataclass(frozen=True)
class ImageFile(Reader):
    def read(self, walk: Walk, node: yaml.Node, path: str) -> Path:
        raw = walk.string(node, path)
        if not raw.strip():
            raise walk.error(node, path, "image file name is empty")
        # normpath, not resolve(): keep symlinks such as firmware/current.bin as written.
        image = Path(os.path.normpath(walk.base / Path(raw).expanduser()))
        check_image_file(walk, node, path, image)
        return image


# -- flash -------------------------------------------------------------------------------


def check_offset(walk: Walk, node: yaml.Node, path: str, value: int, entry: str = "") -> None:
    """On a sector, and on the flash whatever flash_size says (detect and keep say
    nothing): no module has more than MAX_FLASH."""
    if value < 0:
        raise walk.error(node, path, f"{entry}offset must not be negative, got {value}")
    if value % SECTOR_SIZE:
        raise walk.error(node, path, f"{entry}offset {value:#x} is not aligned to a 4 KiB sector")
    if value >= MAX_FLASH:
        reason = (
            f"{entry}offset {value:#x} is beyond {size_name(MAX_FLASH)}, the most flash any "
            "supported module has"
        )
        raise walk.error(node, path, reason)


@dataclass(frozen=True)
class Offset(Reader):
    """A flash offset: a YAML int (0x1000 is an int in YAML 1.1) or a string like '0x10000'."""

    def read(self, walk: Walk, node: yaml.Node, path: str) -> int:
        if is_kind(node, "str"):
            try:
                value = int(node.value.strip(), 0)
            except ValueError:
                reason = f"expected an integer offset like 0x10000, got {node.value!r}"
                raise walk.error(node, path, reason) from None
        elif is_kind(node, "int"):
            value = walk.integer(node, path)
        else:
            raise walk.error(node, path, f"expected an integer offset, got {describe(node)}")
        check_offset(walk, node, path, value)
        return value


@dataclass(frozen=True)
class Sha256(Reader):
    def read(self, walk: Walk, node: yaml.Node, path: str) -> str:
        digest = walk.string(node, path).strip().lower()
        if not _SHA256_RE.fullmatch(digest):
            raise walk.error(node, path, f"sha256 must be 64 hex characters, got {node.value!r}")
        return digest


# -- identity ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Template(Reader):
    """A client id template: {serial} and {mac} with format specs."""

    def read(self, walk: Walk, node: yaml.Node, path: str) -> str:
        template = walk.string(node, path)
        problem = template_problem(template, ("serial", "mac"))
        if problem:
            raise walk.error(node, path, problem)
        return template


@dataclass(frozen=True)
class NvsKey(Reader):
    def read(self, walk: Walk, node: yaml.Node, path: str) -> str:
        value = walk.string(node, path)
        if not _NVS_KEY_RE.fullmatch(value):
            reason = f"an NVS key or namespace is 1 to 15 letters, digits, _ . -; got {value!r}"
            raise walk.error(node, path, reason)
        return value


@dataclass(frozen=True)
class NvsFields(Reader):
    """Extra NVS entries per unit, from a CSV in the NVS generator's format (key, type,
    encoding, value; type data), values templates of {serial}, {client_id}, {mac}."""

    def read(self, walk: Walk, node: yaml.Node, path: str) -> tuple[tuple[str, str, str], ...]:
        csv_path = walk.base / walk.string(node, path)
        if not walk.check_files and not csv_path.is_file():
            return ()
        try:
            rows = list(csv.DictReader(csv_path.read_text().splitlines()))
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise walk.error(node, path, f"cannot read {csv_path}: {e}") from None
        entries = []
        for number, row in enumerate(rows, 2):
            problem = _nvs_row_problem(row)
            if problem:
                raise walk.error(node, path, f"{csv_path} line {number}: {problem}")
            entries.append((row["key"], row["encoding"], row["value"]))
        return tuple(entries)


def _nvs_row_problem(row: dict[str, str]) -> str | None:
    if set(row) != {"key", "type", "encoding", "value"} or None in row.values():
        return "expected the columns key,type,encoding,value"
    if row["type"] != "data" or row["encoding"] not in NVS_ENCODINGS:
        return f"type must be data and encoding one of {', '.join(NVS_ENCODINGS)}"
    if not _NVS_KEY_RE.fullmatch(row["key"]):
        return f"key {row['key']!r} is not 1 to 15 characters"
    return template_problem(row["value"], ("serial", "client_id", "mac"))


# -- sections ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Nested(Reader):
    """A section of its own: ``section``'s fields read by their readers."""

    section: type

    def read(self, walk: Walk, node: yaml.Node, path: str) -> Any:
        return walk.section(self.section, node, path)


@dataclass(frozen=True)
class Sections(Reader):
    """A non-empty list of sections, ``noun`` naming them in errors."""

    section: type
    noun: str

    def read(self, walk: Walk, node: yaml.Node, path: str) -> tuple[Any, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise walk.error(node, path, f"expected a list of {self.noun}, got {describe(node)}")
        if not node.value:
            raise walk.error(node, path, f"at least one {self.noun.rstrip('s')} is required")
        return tuple(
            walk.section(self.section, item, f"{path}[{i}]") for i, item in enumerate(node.value)
        )


# -- what only one section has -----------------------------------------------------------

# Profile names end up in field paths and CLI arguments: no dots or spaces.
_PROFILE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Profiles(Reader):
    """The profiles by name."""

    profile: type

    def read(self, walk: Walk, node: yaml.Node, path: str) -> dict[str, Any]:
        m = walk.entries(node, path, "a mapping of profile name to profile")
        if not m:
            raise walk.error(node, path, "at least one profile is required")
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            name = key_node.value
            here = f"{path}.{name}"
            if not _PROFILE_RE.fullmatch(name):
                reason = f"invalid profile name {name!r}: use 1-64 of [A-Za-z0-9_-]"
                raise walk.error(key_node, here, reason)
            out[name] = walk.section(self.profile, value_node, here, name=name)
        return out


@dataclass(frozen=True)
class ActiveProfile(Reader):
    """The profile flashed; it may go unsaid when there is one (rules.py: it exists)."""

    def take(self, walk: Walk, section: Place, field: str) -> dict[str, Any]:
        node = walk.present(section.entries, field)
        if node is not None:
            return {field: walk.string(node, field)}
        # the profiles, read before this field, are a mapping by now
        names = [key.value for key, _ in section.entries["profiles"].value]
        if len(names) == 1:
            return {field: names[0]}
        reason = f"required when there is more than one profile ({', '.join(names)})"
        raise walk.error(section.node, field, reason)


@dataclass(frozen=True)
class Images(Reader):
    """A profile's images: a list for the profile's ``chip`` (default ``default``), a
    build's ``flasher_args.json`` (its chip the file's), or a mapping of chip to either.
    How they lie on the flash is rules.py's."""

    spec: type[ImageSpec]
    chips: type[Chip]
    default: Chip

    def keys(self, field: str) -> tuple[str, ...]:
        return (field, "chip")

    def take(self, walk: Walk, section: Place, field: str) -> dict[str, Any]:
        node, path = section.entries[field], join(section.path, field)
        chip_node = walk.present(section.entries, "chip")
        if is_kind(node, "str"):
            chip = None if chip_node is None else self.chip(walk, chip_node, f"{section.path}.chip")
            return {field: self.build(walk, node, path, chip)}
        if not isinstance(node, yaml.MappingNode):
            chip = (
                self.default
                if chip_node is None
                else self.chip(walk, chip_node, f"{section.path}.chip")
            )
            return {field: self.listed(walk, node, path, chip)}
        if chip_node is not None:
            reason = "chip names the images' chip when images is a list; here each list is named"
            raise walk.error(chip_node, join(section.path, "chip"), reason)
        if not walk.entries(node, path, "a mapping of chip to images"):
            raise walk.error(node, path, "at least one chip's images are required")
        out: list[ImageSpec] = []
        for key_node, images in node.value:
            here = f"{path}.{key_node.value}"
            chip = self.chip(walk, key_node, here)
            if any(spec.chip == chip for spec in out):
                raise walk.error(key_node, here, f"{chip} has a second list here")
            if is_kind(images, "str"):
                out += self.build(walk, images, here, chip)
            else:
                out += self.listed(walk, images, here, chip)
        return {field: tuple(out)}

    def chip(self, walk: Walk, node: yaml.Node, path: str) -> Chip:
        return self.chips(walk.choice(node, path, tuple(self.chips)))

    def listed(self, walk: Walk, node: yaml.Node, path: str, chip: Chip) -> tuple[ImageSpec, ...]:
        if not isinstance(node, yaml.SequenceNode):
            reason = (
                "expected a list of images, a build's flasher_args.json (or chip: list), "
                f"got {describe(node)}"
            )
            raise walk.error(node, path, reason)
        if not node.value:
            raise walk.error(node, path, "at least one image is required")
        return tuple(
            walk.section(self.spec, item, f"{path}[{i}]", chip=chip)
            for i, item in enumerate(node.value)
        )

    def build(
        self, walk: Walk, node: yaml.Node, path: str, chip: Chip | None
    ) -> tuple[ImageSpec, ...]:
        """The images a build's ``flasher_args.json`` lists, checked as if each had been
        written in the profile; the build's chip must be ``chip`` when one is named."""
        file = Path(os.path.normpath(walk.base / Path(walk.string(node, path)).expanduser()))
        try:
            build = read_flasher_args(file)
        except FlasherArgsError as e:
            raise walk.error(node, path, str(e)) from None
        if build.chip not in tuple(self.chips):
            flashes = ", ".join(self.chips)
            reason = f"{file} is a build for {build.chip}; the station flashes {flashes}"
            raise walk.error(node, path, reason)
        if chip is not None and build.chip != chip:
            raise walk.error(node, path, f"{file} is a build for {build.chip}, not {chip}")
        out = []
        for offset, image_path in build.files:
            entry = f"{file.name}: flash_files {offset:#x} ({image_path.name}): "
            check_offset(walk, node, path, offset, entry)
            check_image_file(walk, node, path, image_path, entry)
            spec = self.spec(offset=offset, path=image_path, chip=self.chips(build.chip))
            walk.place(spec, node, path, {}, entry)
            out.append(spec)
        return tuple(out)


@dataclass(frozen=True)
class SerialDevice(Reader):
    """A device path (/dev/...) or a pyserial URL (rfc2217://, socket://) for emulators."""

    def read(self, walk: Walk, node: yaml.Node, path: str) -> str:
        value = walk.string(node, path).strip()
        if not (value.startswith("/") or "://" in value):
            reason = f"expected an absolute device path like /dev/serial/by-path/..., got {value!r}"
            raise walk.error(node, path, reason)
        return value


@dataclass(frozen=True)
class StrapLines(Reader):
    """A socket's boot and en lines (``boot`` names the boot strap by its role; ``gpio0``,
    its old name, still works), or none for a native USB socket (rules.py: what it may
    not have). Fills boot, boot_key, en and native_usb."""

    def keys(self, field: str) -> tuple[str, ...]:
        return ("boot", "gpio0", "en", "native_usb")

    def take(self, walk: Walk, section: Place, field: str) -> dict[str, Any]:
        m, path = section.entries, section.path
        usb = walk.present(m, "native_usb")
        if usb is not None and walk.boolean(usb, join(path, "native_usb")):
            return {"boot": None, "en": None, "native_usb": True}
        given = [key for key in ("boot", "gpio0") if key in m]
        if not given:
            raise walk.error(section.node, join(path, "boot"), "missing required key 'boot'")
        if len(given) == 2:
            reason = "boot and gpio0 name the same line (gpio0 is its old name): keep one"
            raise walk.error(m["gpio0"], join(path, "gpio0"), reason)
        boot_key = given[0]
        boot = Pin().read(walk, m[boot_key], join(path, boot_key))
        if "en" not in m:
            raise walk.error(section.node, join(path, "en"), "missing required key 'en'")
        en = Pin().read(walk, m["en"], join(path, "en"))
        return {"boot": boot, "boot_key": boot_key, "en": en}


@dataclass(frozen=True)
class Listen(Reader):
    """The status page's HOST:PORT, filling host and port."""

    def keys(self, field: str) -> tuple[str, ...]:
        return ("listen",)

    def take(self, walk: Walk, section: Place, field: str) -> dict[str, Any]:
        node, path = section.entries["listen"], join(section.path, "listen")
        listen = walk.string(node, path).strip()
        host, sep, port_text = listen.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            reason = f"expected HOST:PORT such as 127.0.0.1:8080 or 0.0.0.0:8080, got {listen!r}"
            raise walk.error(node, path, reason)
        return {"host": host, "port": int(port_text)}
