"""The second pass: rules that span fields or sections of a config the walk has read
(images that overlap, references to profiles, a pin used twice, what a chip can do),
each error located at the node the walk kept for the field it names."""

from __future__ import annotations

import os
import ssl

import yaml

from flashjig.config.chips import NATIVE_USB, TRAITS, UnitData
from flashjig.config.model import (
    AUTO,
    DEFAULT_CHIP,
    Config,
    Identity,
    IdentityMode,
    ImageSpec,
    LabelsConfig,
    MqttConfig,
    PrinterConfig,
    PrinterKind,
    PrintOn,
    Profile,
    RfInit,
    SocketConfig,
    StationConfig,
    TlsConfig,
    Trigger,
    WebConfig,
    tcp_address,
)
from flashjig.config.nodes import located_error, suggest
from flashjig.config.readers import MAX_FLASH, file_size
from flashjig.config.sizes import ESP8266_MAPS, SECTOR_SIZE, header_bytes, size_name
from flashjig.config.walk import Place, Walk

# A unit record is one 4 KiB sector: its JSON's other fields take a few hundred bytes.
MAX_CLIENT_ID = 3072
# What each printer kind prints to.
_PRINTS_TO = {
    PrinterKind.BROTHER_QL: "device",
    PrinterKind.ZEBRA: "device",
    PrinterKind.CUPS: "queue",
}


def check(config: Config, walk: Walk) -> None:
    """Raise the first rule the config breaks, in the order its sections are read."""
    _station(config.station, walk)
    for profile in config.profiles.values():
        _profile(profile, config.station, walk)
    _active_profile(config, walk)
    _sockets(config, walk)
    _pin_reuse(walk)
    if config.mqtt is not None:
        _mqtt(config.mqtt, walk)
    if config.web is not None:
        _web(config.web, walk)


def _at(walk: Walk, section: object) -> Place:
    place = walk.where(section)
    assert place is not None, f"{section!r} was not read from the file"
    return place


# -- station -----------------------------------------------------------------------------


def _station(station: StationConfig, walk: Walk) -> None:
    place = walk.where(station)
    if place is None:  # no station section: its defaults
        return
    _labels(station.labels, walk)
    if station.trigger != Trigger.INSERT and station.button is None:
        reason = f"trigger '{station.trigger}' needs a button pin (station.button)"
        raise walk.error(place.node, "station.trigger", reason)


def _labels(labels: LabelsConfig, walk: Walk) -> None:
    place = walk.where(labels)
    if place is None:
        return
    if labels.printer is not None:
        _printer(labels.printer, walk)
    if labels.print_on == PrintOn.OK and labels.printer is None:
        raise walk.error(place.node, f"{place.path}.printer", "print_on: ok needs a printer")


def _printer(printer: PrinterConfig, walk: Walk) -> None:
    place = _at(walk, printer)
    m, path = place.entries, place.path
    needs = _PRINTS_TO[printer.kind]
    if getattr(printer, needs) is None:
        raise walk.error(place.node, f"{path}.{needs}", f"a {printer.kind} printer needs {needs}")
    device = printer.device
    if device is not None and not (device.startswith("/") or device.startswith("tcp://")):
        reason = f"expected a device path (/dev/usb/lp0) or tcp://host:port, got {device!r}"
        raise walk.error(m["device"], f"{path}.device", reason)
    if device is not None and device.startswith("tcp://"):
        try:
            tcp_address(device)
        except ValueError as e:
            raise walk.error(m["device"], f"{path}.device", str(e)) from None
    if printer.kind == PrinterKind.BROTHER_QL:
        from brother_ql.devicedependent import label_sizes, models

        for key, known in (("model", models), ("label", label_sizes)):
            value = getattr(printer, key)
            if walk.present(m, key) is not None and value not in known:
                reason = f"brother_ql knows no {key} {value!r}{suggest(value, known)}"
                raise walk.error(m[key], f"{path}.{key}", reason)


# -- profiles ----------------------------------------------------------------------------


def _profile(profile: Profile, station: StationConfig, walk: Walk) -> None:
    place = _at(walk, profile)
    m, path = place.entries, place.path
    identity = profile.identity
    if identity is not None:
        _identity(identity, profile.name, station, walk)
    for chip in profile.chips:
        _laid_out(profile.images_for(chip), profile.flash_size, walk)
    others = sorted(chip for chip in profile.chips if not TRAITS[chip].flash_maps)
    if profile.flash_size in ESP8266_MAPS and others:
        reason = (
            f"{profile.flash_size} is an ESP8266 flash map (the NONOS SDK's OTA layout); this "
            f"profile also has {', '.join(others)} images: give those a profile of their own"
        )
        raise walk.error(m["flash_size"], f"{path}.flash_size", reason)
    if profile.rf_init == RfInit.AUTO and not any(TRAITS[c].rf_init for c in profile.chips):
        reason = "RF init data is the ESP8266 SDK's: this profile has no esp8266 images"
        raise walk.error(m["rf_init"], f"{path}.rf_init", reason)
    if identity is not None:
        _identity_chips(identity, profile, walk)
    if identity is not None and identity.offset is not None:
        _record_offset(profile, identity.offset, walk)


def _laid_out(images: tuple[ImageSpec, ...], flash_size: str, walk: Walk) -> None:
    """One list of images (one chip's): each on the flash, none overlapping another."""
    capacity = header_bytes(flash_size)
    for j, spec in enumerate(images):
        place = _at(walk, spec)
        node, here, entry = place.node, place.path, place.note
        size = file_size(spec.path)
        end = spec.offset + (size or 0)
        if capacity is not None and (spec.offset >= capacity or end > capacity):
            reason = f"image {_span(spec.offset, size)} does not fit in {flash_size} of flash"
            raise walk.error(node, here, entry + reason)
        if end > MAX_FLASH:
            reason = f"image {_span(spec.offset, size)} does not fit in {size_name(MAX_FLASH)}"
            raise walk.error(node, here, f"{entry}{reason}, the most flash any module has")
        for i, other in enumerate(images[:j]):
            other_size = file_size(other.path)
            if _overlaps(other.offset, other_size, spec.offset, size):
                reason = (
                    f"image {_span(spec.offset, size)} overlaps images[{i}] "
                    f"{_span(other.offset, other_size)} ({other.path.name})"
                )
                raise walk.error(node, here, entry + reason)


def _identity(identity: Identity, profile: str, station: StationConfig, walk: Walk) -> None:
    place = _at(walk, identity)
    mode, path = identity.mode, place.path
    # record's offset is the ESP8266's: _identity_chips asks for it
    needs = {IdentityMode.PLACEHOLDER: "placeholder", IdentityMode.FOLDER: "folder"}.get(mode)
    if needs is not None and getattr(identity, needs) is None:
        raise walk.error(place.node, f"{path}.{needs}", f"identity mode '{mode}' needs {needs}")
    # The longest client id this station gives out must fit where it goes.
    serial = station.serial_range[1]
    longest = identity.template.format(serial=serial, mac="5ccf7f000000")
    room = len(identity.placeholder.encode()) if identity.placeholder else MAX_CLIENT_ID
    node = walk.present(place.entries, "template") or place.node
    if mode != IdentityMode.FOLDER and len(longest.encode()) > room:
        where = "its placeholder" if mode == IdentityMode.PLACEHOLDER else "a unit record"
        reason = (
            f"client id {longest[:40]!r} ({len(longest.encode())} bytes, serial "
            f"{serial}) does not fit {where} ({room} bytes)"
        )
        raise walk.error(node, f"{path}.template", reason)
    _on_label(node, f"{path}.template", longest, profile, station, walk)


def _on_label(
    node: yaml.Node, path: str, client_id: str, profile: str, station: StationConfig, walk: Walk
) -> None:
    """A unit's label (``flashjig labels``, the printer) shows its client id on a line
    and carries it in a QR code: the longest one must be one line and fit the code."""
    if "".join(client_id.splitlines()) != client_id:
        reason = f"client id {client_id[:40]!r} has a line break: a label prints it on one"
        raise walk.error(node, path, reason)
    # segno takes a while to import: only a config that gives units an identity needs it
    from flashjig.config.labelcode import overflow

    serial = station.serial_range[1]
    problem = overflow(serial=serial, client_id=client_id, station=station.id, profile=profile)
    if problem is not None:
        reason = (
            f"client id {client_id[:40]!r} ({len(client_id.encode())} bytes, serial "
            f"{serial}) does not fit a label: {problem}"
        )
        raise walk.error(node, path, reason)


def _identity_chips(identity: Identity, profile: Profile, walk: Walk) -> None:
    """A unit record needs its offset where a chip takes one; the chips that take their
    unit data in NVS get it in record mode only (placeholder and folder do not write it)."""
    path = _at(walk, profile).path + ".identity"
    node = _at(walk, profile).entries["identity"]
    records = [chip for chip in profile.chips if TRAITS[chip].unit_data == UnitData.RECORD]
    if identity.mode == IdentityMode.RECORD and identity.offset is None and records:
        reason = "identity mode 'record' needs offset (where the ESP8266's record goes)"
        raise walk.error(node, f"{path}.offset", reason)
    nvs = sorted(chip for chip in profile.chips if TRAITS[chip].unit_data == UnitData.NVS)
    if identity.mode != IdentityMode.RECORD and nvs:
        reason = (
            f"identity mode '{identity.mode}' is for ESP8266 images; {', '.join(nvs)} units get "
            "their data in NVS: use mode 'record'"
        )
        raise walk.error(node, f"{path}.mode", reason)


def _record_offset(profile: Profile, offset: int, walk: Walk) -> None:
    """The unit record's sector must be its own, and on the flash."""
    place = _at(walk, profile)
    node, path = place.entries["identity"], f"{place.path}.identity.offset"
    capacity = header_bytes(profile.flash_size)
    if capacity is not None and offset + SECTOR_SIZE > capacity:
        reason = f"unit record at {offset:#x} is beyond {profile.flash_size} of flash"
        raise walk.error(node, path, reason)
    for i, spec in enumerate(_record_neighbours(profile, walk)):
        size = file_size(spec.path)
        if _overlaps(spec.offset, size, offset, SECTOR_SIZE):
            reason = (
                f"unit record at {offset:#x}-{offset + SECTOR_SIZE - 1:#x} overlaps "
                f"images[{i}] {_span(spec.offset, size)}"
            )
            raise walk.error(node, path, reason)


def _record_neighbours(profile: Profile, walk: Walk) -> tuple[ImageSpec, ...]:
    """The images a unit record shares the flash with: a single list's (or build's), or
    of a mapping by chip, the list of the chips that take a record."""
    if not isinstance(_at(walk, profile).entries["images"], yaml.MappingNode):
        return profile.images
    return tuple(spec for spec in profile.images if TRAITS[spec.chip].unit_data == UnitData.RECORD)


def _active_profile(config: Config, walk: Walk) -> None:
    place = _at(walk, config)
    station = config.station
    if config.active_profile not in config.profiles:
        names = list(config.profiles)
        value = config.active_profile
        reason = f"unknown profile {value!r}{suggest(value, names)}; profiles: {', '.join(names)}"
        raise walk.error(place.entries["active_profile"], "active_profile", reason)
    if station.recovery_profile is not None and station.recovery_profile not in config.profiles:
        known = ", ".join(config.profiles)
        reason = f"no profile {station.recovery_profile!r} (profiles: {known})"
        node = _at(walk, station).entries["recovery_profile"]
        raise walk.error(node, "station.recovery_profile", reason)


# -- sockets -----------------------------------------------------------------------------


def _sockets(config: Config, walk: Walk) -> None:
    names: dict[str, str] = {}
    serials: dict[str, str] = {}
    for socket in config.sockets:
        place = _at(walk, socket)
        m, path = place.entries, place.path
        if socket.name in names:
            reason = f"duplicate socket name {socket.name!r} (also {names[socket.name]}.name)"
            raise walk.error(m["name"], f"{path}.name", reason)
        names[socket.name] = path
        # One device however it is spelled: /dev//x, a udev symlink and its target.
        serial = socket.serial
        device = serial if "://" in serial else os.path.realpath(serial)
        if device in serials:
            reason = f"serial device {serial} is also used by {serials[device]}"
            raise walk.error(m["serial"], f"{path}.serial", reason)
        serials[device] = path
        if socket.native_usb:
            _native_usb(socket, place, walk)
        _socket_chip(socket, config.profile, place, walk)
        if socket.power is not None and walk.present(m, "power_active_low") is None:
            # No default: guessed wrong, a switch would power every empty socket.
            reason = (
                "required with power: true when the pin drives a P-MOSFET gate "
                "directly (low = on), false when it drives a transistor or load switch "
                "(high = on)"
            )
            raise walk.error(m["power"], f"{path}.power_active_low", reason)


def _native_usb(socket: SocketConfig, place: Place, walk: Walk) -> None:
    """A module on its own USB port: the chips that have one, and no strap lines."""
    m, path = place.entries, place.path
    if socket.chip != AUTO and socket.chip not in NATIVE_USB:
        reason = (
            f"native USB (USB-Serial-JTAG) is on {', '.join(NATIVE_USB)}; "
            f"this socket's chip is {socket.chip}: set chip"
        )
        raise walk.error(m["native_usb"], f"{path}.native_usb", reason)
    for key in ("boot", "gpio0", "en", "detect", "power", "power_active_low"):
        if key in m:
            reason = (
                f"a native USB socket has no {key} line: the module is seated when its "
                "USB device appears, and reset over USB"
            )
            raise walk.error(m[key], f"{path}.{key}", reason)


def _socket_chip(socket: SocketConfig, active: Profile, place: Place, walk: Walk) -> None:
    if socket.chip == AUTO or socket.chip in active.chips:
        return
    reason = (
        f"the socket holds an {socket.chip} (the default is {DEFAULT_CHIP}) and the active "
        f"profile {active.name!r} has images for {', '.join(active.chips)} only: "
        "set chip here, or give the profile images for it"
    )
    node = walk.present(place.entries, "chip") or place.node
    raise walk.error(node, f"{place.path}.chip", reason)


def _pin_reuse(walk: Walk) -> None:
    """Two functions on one GPIO would fight each other; report the later use in the file."""
    first: dict[str, str] = {}
    for use in sorted(walk.pins, key=lambda use: (use.line, use.index)):
        if use.pin in first:
            reason = f"{use.pin} is used twice: {first[use.pin]} and {use.path}"
            raise located_error(walk.file, use.line, use.path, reason)
        first[use.pin] = use.path


# -- mqtt, web ---------------------------------------------------------------------------


def _mqtt(mqtt: MqttConfig, walk: Walk) -> None:
    place = _at(walk, mqtt)
    if mqtt.tls is not None:
        _tls(mqtt.tls, walk)
    if mqtt.password_file is not None and mqtt.username is None:
        raise walk.error(place.node, "mqtt.username", "password_file needs a username")


def _tls(tls: TlsConfig, walk: Walk) -> None:
    """Load the certificates as the MQTT client will (an ssl context, as paho-mqtt's
    tls_set builds it), so a file that is not what it should be is refused here, not
    found out by the daemon's connection thread."""
    place = _at(walk, tls)
    if (tls.cert_file is None) != (tls.key_file is None):
        raise walk.error(place.node, "mqtt.tls", "cert_file and key_file go together")
    if not walk.check_files:
        return
    context = ssl.create_default_context()
    if tls.ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(tls.ca_file))
        except ssl.SSLError as e:
            reason = f"not a PEM certificate ({e.reason or e})"
            raise walk.error(place.entries["ca_file"], "mqtt.tls.ca_file", reason) from None
    if tls.cert_file is not None:
        try:
            # A callable password: an encrypted key is refused, never prompted for.
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file), password=lambda: b"")
        except ssl.SSLError as e:
            reason = (
                "the certificate and key_file do not load together (a PEM certificate, "
                f"its unencrypted private key): {e.reason or e}"
            )
            raise walk.error(place.entries["cert_file"], "mqtt.tls.cert_file", reason) from None


def _web(web: WebConfig, walk: Walk) -> None:
    if not web.loopback and web.password_file is None:
        reason = (
            f"the status page listens beyond loopback ({web.host}): give it a password_file "
            "(HTTP basic auth), or listen on 127.0.0.1"
        )
        raise walk.error(_at(walk, web).node, "web.password_file", reason)
    if web.commands and web.password_file is None:
        reason = (
            "the page's commands need a password_file, on loopback too: it must not hand a "
            "local user outside the service's group what the control socket refuses"
        )
        raise walk.error(_at(walk, web).node, "web.commands", reason)


def _span(offset: int, size: int | None) -> str:
    return f"at {offset:#x}" if not size else f"at {offset:#x}-{offset + size - 1:#x}"


def _overlaps(a: int, a_size: int | None, b: int, b_size: int | None) -> bool:
    """Overlap of [a, a+a_size) and [b, b+b_size); an unknown size only collides at its start."""
    if a == b:
        return True
    lo, lo_size, hi = (a, a_size, b) if a < b else (b, b_size, a)
    return lo_size is not None and lo + lo_size > hi
