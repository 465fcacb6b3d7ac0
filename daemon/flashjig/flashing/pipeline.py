"""The flash pipeline for one socket, over esptool's Python API.

Strap into the ROM loader, connect without esptool's own reset (the station owns the boot
line and EN), identify the chip and take the profile's images for it, start the stub,
raise the baud, identify MAC and flash, refuse images that do not fit before anything is
erased, skip images the module already holds, write the others compressed, verify them by
MD5, and strap the module back into its firmware. Every failure comes back as a
FlashResult with a reason a person can act on; nothing here raises for a module's fault.

Sockets are flashed from threads of one process: mock pins and emulated modules exist in
one process only, a Pi Zero 2 has no memory for a Python process per socket, and the
work is serial I/O and zlib, which release the GIL. esptool's process-wide logger is
routed per thread by ``flashjig.esplog``.
"""

import functools
import hashlib
import itertools
import logging
import struct
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ParamSpec, TypeVar

import serial
from esptool.bin_image import LoadFirmwareImage
from esptool.cmds import attach_flash, detect_chip, detect_flash_size
from esptool.loader import ERASE_WRITE_TIMEOUT_PER_MB, ESPLoader, timeout_per_mb
from esptool.util import FatalError, flash_size_bytes

from flashjig.config import AUTO, Backup, Erase, Profile, RfInit, SocketConfig
from flashjig.config.chips import TRAITS
from flashjig.config.model import DEFAULT_CHIP, Chip, SocketChip
from flashjig.config.sizes import size_name, smallest_holding
from flashjig.errors import BackupError, IdentityError, UnitsExhausted
from flashjig.flashing import backups, capacity, chips, esplog, identity, sdklayout
from flashjig.flashing.bootcheck import check_boot
from flashjig.flashing.esptool_internals import (
    close_port,
    esp8266_stub_scales_from_115200,
    image_incompatibility,
    quick_sync,
    stub_change_baud,
)
from flashjig.flashing.identity import Unit
from flashjig.flashing.images import Image
from flashjig.flashing.parts import Kind
from flashjig.flashing.rates import ROM_BAUD, FastConnect, RateStep, TooFast, rate_below
from flashjig.flashing.result import (
    Cancelled,
    Failure,
    FlashResult,
    Outcome,
    Progress,
    Reason,
    Stage,
)
from flashjig.hardware.strapping import Straps

log = logging.getLogger(__name__)

RATE_CHECK_S = 0.3  # a read after a change of rate: a line that does not hold is silent
CONNECT_ATTEMPTS = 3  # each a fresh strap and 5 syncs, ~0.9 s against a silent module
MIN_BLOCK_TIMEOUT_S = 1.5
# A module holding other firmware (or none) differs in the first sector, whose MD5 the
# stub answers in a few ms; only a match there is worth the whole region's (0.5 s/MiB).
PROBE = 0x1000


ProgressCallback = Callable[[Progress], None]
_P = ParamSpec("_P")
_T = TypeVar("_T")


@dataclass
class FlashJob:
    """One attempt: which socket, over which port, with what."""

    socket: str
    port: str
    lines: Straps
    profile: Profile
    images: tuple[Image, ...]  # every chip's: the pipeline takes those of the chip it finds
    on_progress: ProgressCallback = lambda progress: None
    cancel: threading.Event = field(default_factory=threading.Event)
    baud: int | None = None  # overrides the profile's (retries fall back to a lower one)
    station: str = "flashjig"
    state_dir: Path | None = None  # where backups go
    unit_for: Callable[[str], Unit] | None = None  # the unit a MAC is (identity profiles)
    chip: SocketChip = DEFAULT_CHIP  # what the socket holds, or auto: whatever the ROM says
    fast: FastConnect | None = None  # start faster than esptool (None: as esptool does)

    @classmethod
    def for_socket(
        cls,
        socket: SocketConfig,
        *,
        port: str,
        straps: Straps,
        profile: Profile,
        images: tuple[Image, ...],
        station: str,
        state_dir: Path | None,
        on_progress: ProgressCallback = lambda progress: None,
        cancel: threading.Event | None = None,
        baud: int | None = None,
        unit_for: Callable[[str], Unit] | None = None,
        fast: FastConnect | None = None,
    ) -> "FlashJob":
        """The job for a socket of the config: its name and chip from there, the rest
        from whoever runs it (the station's socket, ``flashjig flash``, the tests)."""
        return cls(
            socket=socket.name,
            port=port,
            lines=straps,
            profile=profile,
            images=images,
            on_progress=on_progress,
            cancel=cancel or threading.Event(),
            baud=baud,
            station=station,
            state_dir=state_dir,
            unit_for=unit_for,
            chip=socket.chip,
            fast=fast,
        )


def flash(job: FlashJob) -> FlashResult:
    """Run the pipeline once; always returns a result, never raises for a module fault."""
    esplog.install()
    started = time.monotonic()
    result = FlashResult(socket=job.socket, profile=job.profile.name)
    result.baud = job.baud or job.profile.baud
    with esplog.socket_context(job.socket):
        try:
            _run(job, result)
            result.outcome = Outcome.OK
        except Failure as e:
            result.reason, result.detail = e.reason, e.detail
        except Cancelled:
            result.reason, result.detail = Reason.CANCELLED, "cancelled by the operator"
        except (FatalError, serial.SerialException, OSError, struct.error, termios.error) as e:
            # A step without its own guard: still the module's fault, still a result.
            result.reason, result.detail = Reason.SERIAL_ERROR, _first_line(e)
        except Exception as e:  # a bug of ours must fail one attempt, not kill the socket
            log.exception("%s: the flash pipeline failed", job.socket)
            result.reason = Reason.INTERNAL_ERROR
            result.detail = f"{type(e).__name__}: {e}"
        finally:
            result.duration_s = round(time.monotonic() - started, 3)
    return result


def _run(job: FlashJob, result: FlashResult) -> None:
    emit = job.on_progress
    emit(Progress(job.socket, Stage.CONNECTING, 0, 0))
    _compress_ahead(job)
    esp, chip_images = start(job, result)
    try:
        _guard("attaching the flash", attach_flash, esp)
        flash_id = _guard("reading the flash id", esp.flash_id)
        result.flash_id = f"{flash_id:06x}"
        result.flash_size = _guard("reading the flash size", detect_flash_size, esp)
        # The module's digests of its flash as found, asked once each: the capacity check
        # and the skip probe both want sector 0. Valid until something is written.
        found = functools.cache(esp.flash_md5sum)
        checked = _real_size(esp, result, found, rewritten=_rewrites_sector_0(job, chip_images))
        size = checked.size
        if checked.marked:  # the check's marker is in sector 0, for the image to replace
            found.cache_clear()
        try:
            images = _images_for(job, result, chip_images, size)
            _check_fits(job.profile, images, size, result.flash_size)
        except Failure:
            if checked.marked:  # refused after all: the module as it came, blank sector 0
                _guard("erasing the capacity check's marker", capacity.unmark, esp)
            raise
        # Nothing the module held is lost yet (the capacity check puts back what it wrote,
        # or leaves its marker only where the image goes): everything above may refuse it.
        if job.profile.backup == Backup.BEFORE_WRITE:
            _backup(esp, job, result, size)
        if job.profile.erase == Erase.ALL:
            _guard("erasing the whole chip", esp.erase_flash)
            found.cache_clear()
        _guard("setting the flash parameters", esp.flash_set_parameters, size)
        total = _write_all(esp, job, result, images, found)
        emit(Progress(job.socket, Stage.BOOTING, total, total))
    finally:
        close_port(esp)
    _boot(job, result)


def start(job: FlashJob, result: FlashResult) -> tuple[ESPLoader, tuple[Image, ...]]:
    """The module connected, identified and running the flasher stub at the write rate
    (``result.baud``): the fast way where the job allows it, and esptool's way when it does
    not or when a faster step did not hold (``result.rate_fallback`` says which)."""
    if job.fast is not None and not job.lines.reenumerates:  # native USB: no rate to raise
        try:
            return _start_fast(job, job.fast, result)
        except TooFast as e:
            result.rate_fallback = e.step
            if e.step is RateStep.STUB_CHANGE:  # the line did not hold the write rate
                result.baud = rate_below(result.baud)
            log.info(
                "%s: %s; connecting at %d baud instead, writing at %d",
                job.socket,
                e,
                ROM_BAUD,
                result.baud,
                extra={"SOCKET": job.socket, "MAC": result.mac or ""},
            )
    esp = connect(job.port, job.lines)
    try:
        chip_images = _identify(esp, job, result)
        esp = _guard("starting the flasher stub", esp.run_stub)
        result.sync_baud = result.stub_baud = ROM_BAUD
        if result.baud != ROM_BAUD:
            _guard(f"changing to {result.baud} baud", esp.change_baud, result.baud)
    except BaseException:
        close_port(esp)
        raise
    return esp, chip_images


def _start_fast(
    job: FlashJob, fast: FastConnect, result: FlashResult
) -> tuple[ESPLoader, tuple[Image, ...]]:
    """Strap once; sync an ESP8266 (or a socket that may hold one) at the fast sync rate and
    upload the stub at it, or have an ESP32-family ROM change to the write rate first; then
    the stub to the write rate. TooFast when a step of that does not hold."""
    sync = fast.sync if _syncs_fast(job) else ROM_BAUD
    job.lines.enter_bootloader(1)
    esp = _synced(job, sync)
    try:
        chip_images = _identify(esp, job, result)
        traits = TRAITS[Chip(chips.chip_of(esp))]  # one the profile has images for
        stub_at = sync
        if fast.rom_change and traits.rom_changes_rate and result.baud != sync:
            _too_fast(RateStep.ROM_CHANGE, "the ROM's change of rate", esp.change_baud, result.baud)
            stub_at = result.baud
        step = RateStep.SYNC if stub_at == sync else RateStep.ROM_CHANGE
        esp = _too_fast(step, f"uploading the stub at {stub_at} baud", esp.run_stub)
        if result.baud != stub_at:
            _too_fast(
                RateStep.STUB_CHANGE,
                f"the stub's change to {result.baud} baud",
                _stub_to,
                esp,
                result.baud,
                stub_at,
                from_115200=not traits.rom_changes_rate,
            )
        result.sync_baud, result.stub_baud = sync, stub_at
    except BaseException:
        close_port(esp)
        raise
    return esp, chip_images


def _syncs_fast(job: FlashJob) -> bool:
    """An ESP8266 can only be fast from its sync (its ROM has no change of rate), and only
    with a stub known to change rate from there; an ESP32-family ROM syncs at 115200 and
    changes rate itself."""
    may_hold_esp8266 = job.chip == AUTO or not TRAITS[job.chip].rom_changes_rate
    return may_hold_esp8266 and esp8266_stub_scales_from_115200()


def _synced(job: FlashJob, baud: int) -> ESPLoader:
    """The port opened at ``baud`` and the ROM synced there (two SYNCs: a ROM answering
    every other one syncs too), then identified as esptool does."""
    try:
        probe = ESPLoader(job.port, baud)
    except serial.SerialException as e:
        raise Failure(Reason.SERIAL_ERROR, f"cannot open {job.port}: {e}") from None
    if not quick_sync(probe, tries=2):
        close_port(probe)
        raise TooFast(RateStep.SYNC, f"no sync at {baud} baud")
    return _too_fast(
        RateStep.SYNC,
        f"identifying the chip at {baud} baud",
        detect_chip,
        probe._port,
        baud,
        connect_mode="no-reset-no-sync",
        connect_attempts=1,
    )


def _stub_to(esp: ESPLoader, baud: int, started_at: int, *, from_115200: bool) -> None:
    """The stub to ``baud``, and one read to prove the line holds at it."""
    stub_change_baud(esp, baud, started_at, from_115200=from_115200)
    esp.read_reg(esp.CHIP_DETECT_MAGIC_REG_ADDR, timeout=RATE_CHECK_S)


def _too_fast(
    step: RateStep, what: str, act: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
) -> _T:
    """Run a faster step: a silent or garbled line is TooFast (fall back), a cancel still
    a cancel."""
    try:
        return act(*args, **kwargs)
    except (FatalError, serial.SerialException, struct.error, OSError) as e:
        raise TooFast(step, f"{what} failed ({_first_line(e)})") from None


def _identify(esp: ESPLoader, job: FlashJob, result: FlashResult) -> tuple[Image, ...]:
    """What the ROM says the module is, and the job's images for it (refused here when they
    are not for this chip or its revision)."""
    result.chip = _guard("reading the chip type", esp.get_chip_description)
    result.chip_revision = _guard("reading the chip revision", chips.revision, esp)
    result.mac = ":".join(f"{b:02x}" for b in _guard("reading the MAC", esp.read_mac))
    chip_images = _images_of_chip(job, esp)
    _check_revision(chip_images, esp, result)
    job.on_progress(Progress(job.socket, Stage.STUB, 0, 0, mac=result.mac))
    return chip_images


def _compress_ahead(job: FlashJob) -> None:
    """Compress the images while the module is strapped, synced and given its stub (over a
    second at 115200 baud), not after: zlib runs without the GIL. Once per station."""

    def compress() -> None:
        for image in job.images:
            if job.chip in (AUTO, image.chip):
                image.prepare()

    threading.Thread(target=compress, name=f"compress-{job.socket}", daemon=True).start()


def connect(
    port: str, lines: Straps, *, attempts: int = CONNECT_ATTEMPTS, strap: bool = True
) -> ESPLoader:
    """Strap the module into its ROM loader and sync with it, strapping it again before
    each attempt: a module that missed one reset (a slow supply, a bouncing socket) gets a
    fresh one, not three more syncs against a chip that is not listening; later attempts
    hold the boot line longer past EN's rise, as esptool's own resets escalate (a board with a
    slow EN RC samples its strap late: ``hardware.strapping.boot_hold``). esptool's own reset
    is off (``no-reset``): the station owns the boot line and EN. Without ``strap``, only the
    sync (``flashjig probe``: a module running its firmware must not answer)."""
    for attempt in range(1, attempts + 1):
        if strap:
            lines.enter_bootloader(attempt)
        try:
            esp = detect_chip(port, ROM_BAUD, connect_mode="no-reset", connect_attempts=1)
            break
        except serial.SerialException as e:
            raise Failure(Reason.SERIAL_ERROR, f"cannot open {port}: {e}") from None
        except FatalError as e:
            if attempt == attempts:
                raise Failure(
                    Reason.NO_SYNC,
                    f"no answer from the ROM bootloader on {port} ({lines.why_silent()}): "
                    f"{_first_line(e)}",
                ) from None
    return esp


def _images_of_chip(job: FlashJob, esp: ESPLoader) -> tuple[Image, ...]:
    """The job's images for the chip the ROM says it is: a chip the socket does not hold,
    or one the profile has no images for, fails as the wrong chip before anything else."""
    found = chips.chip_of(esp)
    if job.chip not in (AUTO, found):
        raise Failure(
            Reason.WRONG_CHIP,
            f"found {esp.CHIP_NAME}, the socket holds {chips.target(job.chip).CHIP_NAME}",
        )
    images = tuple(image for image in job.images if image.chip == found)
    if not images:
        have = ", ".join(dict.fromkeys(image.chip for image in job.images))
        raise Failure(
            Reason.WRONG_CHIP,
            f"found {esp.CHIP_NAME}: profile {job.profile.name!r} has images for {have} only",
        )
    return images


def _check_revision(images: tuple[Image, ...], esp: ESPLoader, result: FlashResult) -> None:
    """Refuse, as esptool's write-flash does, a bootloader (given alone or inside a merged
    image) whose header says it is not for this chip or its revision; an app such is
    logged, as esptool notes it (ESP-IDF's bootloader checks the app's range at boot)."""
    for image in images:
        if image.chip == Chip.ESP8266:  # its image header names no chip or revision
            continue
        for part in image.parts:
            if part.kind is Kind.PARTITION_TABLE:
                continue
            header = LoadFirmwareImage(image.chip, image.data[part.start :])  # checked at load
            problem = _guard(
                "reading the chip revision", image_incompatibility, esp, header, image.path.name
            )
            if problem is None:
                continue
            where = f"{problem} ({part.describe()})"
            if part.kind is Kind.BOOTLOADER:
                raise Failure(Reason.WRONG_CHIP, where)
            log.warning(
                "%s: %s on %s: the bootloader may not start it",
                result.socket,
                where,
                result.mac,
                extra={"SOCKET": result.socket, "MAC": result.mac or ""},
            )


def _guard(what: str, step: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run one esptool step; a silent or garbled line becomes a Failure saying where."""
    try:
        return step(*args, **kwargs)
    except serial.SerialException as e:
        raise Failure(Reason.SERIAL_ERROR, f"serial error while {what}: {e}") from None
    except struct.error:  # esptool could not parse a garbled reply
        raise Failure(Reason.SERIAL_ERROR, f"garbled reply while {what}") from None
    except FatalError as e:
        reason = _classify(e)
        if reason is Reason.TIMEOUT:
            raise Failure(reason, f"module stopped answering while {what} (pulled?)") from None
        raise Failure(reason, f"{_first_line(e)} (while {what})") from None


def _classify(error: FatalError) -> Reason:
    text = str(error)
    silent = ("Timed out", "No serial data", "stopped", "No more data")
    return Reason.TIMEOUT if any(s in text for s in silent) else Reason.SERIAL_ERROR


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _rewrites_sector_0(job: FlashJob, images: tuple[Image, ...]) -> bool:
    """Is sector 0 written next, so the capacity check may leave its marker there? Not
    when a backup of the module as found is taken first."""
    return job.profile.backup != Backup.BEFORE_WRITE and any(i.offset == 0 for i in images)


def _real_size(
    esp: ESPLoader, result: FlashResult, md5: Callable[[int, int], str], *, rewritten: bool
) -> capacity.Capacity:
    """The flash the module really holds: its JEDEC size unless addresses wrap earlier."""
    detected = result.flash_size
    if detected is None:
        raise Failure(Reason.FLASH_TOO_SMALL, "flash size not recognised from its JEDEC id")
    claimed = flash_size_bytes(detected)
    checked = _guard(
        "checking the flash's real size",
        capacity.real_capacity,
        esp,
        claimed,
        md5,
        rewritten=rewritten,
    )
    real = checked.size
    if real != claimed:
        result.claimed_flash_size = detected
        result.flash_size = size_name(real)
        log.warning(
            "%s: counterfeit flash on %s: its id claims %s, it holds %s",
            result.socket,
            result.mac,
            detected,
            result.flash_size,
            extra={"SOCKET": result.socket, "MAC": result.mac or ""},
        )
    return checked


def _images_for(
    job: FlashJob, result: FlashResult, images: tuple[Image, ...], size: int
) -> tuple[Image, ...]:
    """The chip's images made this unit's own, plus (ESP8266) the SDK's system area."""
    profile = job.profile
    if profile.identity is not None:
        if job.unit_for is None:
            raise Failure(Reason.NO_IDENTITY, "this profile needs the station's journal")
        assert result.mac is not None  # _run reads the MAC first
        try:
            unit = job.unit_for(result.mac)
            images = identity.images_for_unit(images, profile, unit, station=job.station)
        except (UnitsExhausted, IdentityError, OSError) as e:
            raise Failure(Reason.NO_IDENTITY, str(e)) from None
        result.serial, result.client_id = unit.serial, unit.client_id
    if profile.rf_init == RfInit.AUTO and TRAITS[images[0].chip].rf_init:
        images = (*images, *sdklayout.rf_init_images(size))
    ordered = sorted(images, key=lambda image: image.offset)
    for before, after in itertools.pairwise(ordered):
        if before.end > after.offset:
            raise Failure(
                Reason.IMAGE_LAYOUT,
                f"{before.path} ({before.offset:#x}-{before.end - 1:#x}) overlaps "
                f"{after.path} at {after.offset:#x} on a {size_name(size)} module",
            )
    return images


def _check_fits(profile: Profile, images: tuple[Image, ...], size: int, name: str) -> None:
    """Refuse, before any erase, a module with less flash than the profile needs."""
    need = max(image.end for image in images)
    if profile.min_flash_size:
        need = max(need, flash_size_bytes(profile.min_flash_size))
    if need > size:
        raise Failure(
            Reason.FLASH_TOO_SMALL,
            f"flash too small (detected {name}, profile needs {smallest_holding(need)})",
        )


def _backup(esp: ESPLoader, job: FlashJob, result: FlashResult, size: int) -> None:
    if job.state_dir is None:
        raise Failure(Reason.BACKUP_FAILED, "no state directory to keep backups in")

    def progress(done: int, total: int, offset: int) -> None:
        job.on_progress(Progress(job.socket, Stage.BACKUP, done, total))

    progress(0, size, 0)
    assert result.mac is not None  # _run reads the MAC first
    try:
        path = _guard(
            "reading the flash back",
            backups.read_back,
            esp,
            size=size,
            state_dir=job.state_dir,
            mac=result.mac,
            socket=job.socket,
            station=job.station,
            progress=progress,
        )
    except BackupError as e:
        raise Failure(Reason.BACKUP_FAILED, str(e)) from None
    result.backup = str(path)


def _boot(job: FlashJob, result: FlashResult) -> None:
    """Strap the module into its new firmware; with a boot check, listen to it boot (and
    burn in) before calling it good."""
    check = job.profile.boot_check
    if check is None:
        job.lines.run_firmware()
        return
    burn_in = job.profile.burn_in
    stage = Stage.BURN_IN if burn_in else Stage.BOOTING
    job.on_progress(Progress(job.socket, stage, result.bytes, result.bytes))
    try:
        heard = check_boot(
            job.port,
            check.baud or ROM_BAUD,
            reboot=job.lines.run_firmware,
            check=check,
            burn_in=burn_in,
            cancel=job.cancel,
            reopen=job.lines.reenumerates,
        )
    except serial.SerialException as e:
        raise Failure(Reason.SERIAL_ERROR, f"cannot listen on {job.port}: {e}") from None
    result.boot_log = heard.log
    if heard.failure is not None:
        raise Failure(heard.failure, heard.reason)


def _write_all(
    esp: ESPLoader,
    job: FlashJob,
    result: FlashResult,
    images: tuple[Image, ...],
    found: Callable[[int, int], str],
) -> int:
    """Write what the module does not already hold; the job's size in bytes."""
    profile = job.profile
    header_size = result.flash_size if profile.flash_size == "detect" else profile.flash_size
    assert header_size is not None  # _real_size has named the module's size
    datas = [
        image.for_module(profile.flash_mode, profile.flash_freq, header_size) for image in images
    ]
    total = sum(len(data) for data in datas)
    # Checked before anything is written; a match is as good as written and verified.
    plan = [
        (image, data, _holds(found, job, image.offset, data, total))
        for image, data in zip(images, datas, strict=True)
    ]
    done = sum(len(data) for _, data, held in plan if held)
    if done:
        job.on_progress(Progress(job.socket, Stage.WRITING, done, total))
    for image, data, held in plan:
        if not held:
            done = _write_image(esp, job, image.offset, data, image.compressed(data), done, total)
        result.images.append(
            {
                "offset": image.offset,
                "file": str(image.path),
                "sha256": image.sha256,
                "size": len(image.data),
                "skipped": held,
            }
        )
    written = sum(len(data) for _, data, held in plan if not held)
    if written:
        _guard("finishing the write", esp.flash_defl_finish, reboot=False)
    result.bytes = written
    if profile.verify:
        job.on_progress(Progress(job.socket, Stage.VERIFYING, total, total))
        for image, data, held in plan:
            if not held:
                _verify(esp, image.offset, data)
    return total


def _holds(
    found: Callable[[int, int], str], job: FlashJob, offset: int, data: bytes, total: int
) -> bool:
    """Does the module's flash already hold ``data`` at ``offset``? (esptool's
    skip_flashed, with a first-sector probe so that a blank module pays milliseconds.)"""
    if len(data) > PROBE and _found_md5(found, offset, PROBE) != _digest(data[:PROBE]):
        return False
    job.on_progress(Progress(job.socket, Stage.VERIFYING, 0, total))
    return _found_md5(found, offset, len(data)) == _digest(data)


def _write_image(
    esp: ESPLoader, job: FlashJob, offset: int, data: bytes, packed: bytes, done: int, total: int
) -> int:
    """Stream one image's zlib data in stub-sized blocks, reporting bytes written."""
    block_size = esp.FLASH_WRITE_SIZE
    _guard(
        f"starting the write at {offset:#x}", esp.flash_defl_begin, len(data), len(packed), offset
    )
    inflate = _Inflated(len(data), len(packed))
    for seq, start in enumerate(range(0, len(packed), block_size)):
        if job.cancel.is_set():
            raise Cancelled
        block = packed[start : start + block_size]
        written = inflate.after(start + len(block))
        # The stub erases and programs what this block inflates to before it answers.
        work = written - inflate.position
        timeout = max(MIN_BLOCK_TIMEOUT_S, timeout_per_mb(ERASE_WRITE_TIMEOUT_PER_MB, work))
        _guard(
            f"writing at {offset + inflate.position:#x}",
            esp.flash_defl_block,
            block,
            seq,
            timeout=timeout,
        )
        inflate.position = written
        job.on_progress(Progress(job.socket, Stage.WRITING, done + written, total))
    return done + len(data)


class _Inflated:
    """Maps compressed bytes sent to uncompressed bytes written, for progress."""

    def __init__(self, size: int, packed_size: int) -> None:
        self.size = size
        self.packed_size = packed_size
        self.position = 0

    def after(self, packed_sent: int) -> int:
        return min(self.size, self.size * packed_sent // self.packed_size)


def _found_md5(found: Callable[[int, int], str], offset: int, length: int) -> str:
    return _guard(f"checking the flash at {offset:#x}", found, offset, length)


def _digest(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _verify(esp: ESPLoader, offset: int, data: bytes) -> None:
    digest = _guard(f"verifying at {offset:#x}", esp.flash_md5sum, offset, len(data))
    if digest != _digest(data):
        raise Failure(
            Reason.VERIFY_FAILED,
            f"MD5 of flash at {offset:#x}+{len(data):#x} is {digest}, expected {_digest(data)}",
        )
