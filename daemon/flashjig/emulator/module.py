"""One emulated module (an ESP-01S, or an ESP32, ESP32-C3 or ESP32-S3 board): a pseudo
terminal for its UART, two strapping pins, a flash chip.

The module behaves as the hardware does at its edges: it enters the ROM's download mode
only when its boot strap (GPIO0, GPIO9 on a C3) is low as EN rises, otherwise it boots the
image in flash; bytes sent at the wrong baud arrive as garbage; with the line-rate model
on, every byte takes 10 bits / baud on the wire and the flash takes its datasheet times.
"""

import array
import collections
import contextlib
import dataclasses
import enum
import fcntl
import hashlib
import logging
import os
import random
import select
import threading
import time
import tty
from collections.abc import Callable

from gpiozero.pins import PinInfo
from gpiozero.pins.mock import MockFactory, MockPin

from flashjig.emulator import slip
from flashjig.emulator.bootrom import AppBehaviour, app_behaviour, load_image, rom_banner
from flashjig.emulator.chips import ESP8266, Chip
from flashjig.emulator.faults import Faults
from flashjig.emulator.flashchip import FlashChip
from flashjig.emulator.loader import Loader, Next
from flashjig.emulator.registers import Registers
from flashjig.emulator.uart import AUTOBAUD_MAX, Uart

log = logging.getLogger(__name__)

DEFAULT_APP = AppBehaviour()

TCGETS2 = 0x802C542A  # Linux: termios2 with the real ispeed/ospeed, custom bauds included
BITS_PER_BYTE = 10  # start bit, 8 data bits, stop bit
USB_HEARTBEAT_S = 1.0


class State(enum.Enum):
    RESET = "reset"  # EN held low
    DOWNLOAD = "download"  # ROM loader (or the stub) serving commands
    APP = "app"  # running the firmware from flash
    HUNG = "hung"  # jumped into code that is not there, or a corrupt image


class StrapPin(MockPin):
    """A mock pin on a module's strapping line (boot, EN). Released by the station (its
    side an input), the line is high while a seated, powered module's pull-up (10 kOhm to
    its 3.3 V) is on it, whatever the Pi's own weak pull; with no module, or an unpowered
    one, the Pi's pull decides. The module hears every change."""

    rest: bool | None = None  # a resistor on the board itself holding the line at this level

    def __init__(self, factory: MockFactory, info: PinInfo) -> None:
        self.listeners: list[Callable[[StrapPin, bool], None]] = []
        self.module_pull_up = False
        super().__init__(factory, info)
        self._state = self._released()
        self.clear_states()

    def _released(self) -> bool:
        if self.rest is not None:
            return self.rest
        return self.module_pull_up or self._pull == "up"

    def set_module_pull_up(self, present: bool) -> None:
        """A module's pull-up comes (seated and powered) or goes."""
        self.module_pull_up = present
        if self._function == "input":
            self._change_state(self._released())

    def _set_function(self, value: str) -> None:
        super()._set_function(value)
        if value == "input":
            self._change_state(self._released())

    def _set_pull(self, value: str) -> None:
        super()._set_pull(value)
        self._change_state(self._released())

    def _change_state(self, value: bool) -> bool:
        changed = super()._change_state(value)
        if changed:
            for listener in list(self.listeners):
                listener(self, bool(value))
        return changed


class PulledUpPin(StrapPin):
    """A line the board pulls high at rest (a P-MOSFET's gate with its gate-source pull-up)."""

    rest = True


class PulledDownPin(StrapPin):
    """A line the board pulls low at rest (a transistor's base with its pull-down)."""

    rest = False


def garble(data: bytes, sent_at: int, read_at: int) -> bytes:
    """What a UART at ``read_at`` baud makes of bytes sent at ``sent_at``: noise of about
    the right length, never a SLIP delimiter, so it cannot pass for a frame."""
    length = max(1, round(len(data) * read_at / sent_at))
    noise = hashlib.sha256(data).digest()
    return bytes((noise[i % 32] | 0x01) & 0xBF for i in range(length))


class EmulatedModule:
    """A module on a pseudo terminal; ``device`` is the path a host opens.

    With ``boot`` and ``en`` (StrapPins from a gpiozero MockFactory, on the chip's boot strap
    and EN) the module follows its strapping; without them it is a standalone module waiting
    in download mode. ``native_usb``: an ESP32-C3 on its USB-Serial-JTAG port, no strap
    lines: it boots from flash when seated (into the ROM loader only with its boot button
    held, ``boot_held``), is reset over USB (``usb_reset``), and every chip reset takes its
    USB device away and brings back a new one (a new tty: ``device`` changes and
    ``on_reenumerate`` is told), as the real peripheral does.

    The serial line (emulator.uart): the ROM auto-bauds up to ``autobaud_max`` (above it,
    ``autobaud_sticky`` locks a wrong rate until reset); the USB-serial adapter garbles
    every rate above ``adapter_max_baud`` (None: none does). ``rom_xtal_error``: an ESP32
    ROM's crystal estimate is off by this fraction (its 8 MHz RC clock drifted), which
    esptool's ESP32ROM.change_baud corrects for.
    """

    def __init__(
        self,
        name: str,
        flash: FlashChip,
        *,
        chip: Chip = ESP8266,
        mac: bytes | None = None,
        boot: StrapPin | None = None,
        en: StrapPin | None = None,
        line_rate: bool = False,
        faults: Faults | None = None,
        default_app: AppBehaviour = DEFAULT_APP,
        powered: bool = True,
        native_usb: bool = False,
        boot_held: bool = False,
        autobaud_max: int = AUTOBAUD_MAX,
        autobaud_sticky: bool = False,
        adapter_max_baud: int | None = None,
        rom_xtal_error: float = 0.0,
    ) -> None:
        self.name = name
        self.chip = chip
        self.native_usb = native_usb
        self.boot_held = boot_held
        self.on_reenumerate: list[Callable[[str], None]] = []  # told the new device
        self.flash = flash
        self.mac = mac or chip.oui + hashlib.sha256(name.encode()).digest()[:3]
        self.line_rate = line_rate
        # Its own copy: a pull silences this module, not the spec the next is seated from.
        self.faults = dataclasses.replace(faults) if faults else Faults()
        self.default_app = default_app
        self.arrival = 0.0
        self._boot_pin = boot
        self._en = en
        self._rng = random.Random(self.faults.seed)
        self._bytes_in = 0
        self._lock = threading.RLock()
        self._frames: collections.deque[bytes] = collections.deque()
        self._decoder = slip.Decoder()
        self._rx_clock = 0.0
        self._tx_clock = 0.0
        self._stop = threading.Event()
        self._interrupt = threading.Event()  # set on reset and close: stop modelled waits
        self._epoch = 0  # counts resets, so a command cut short by one is not acted on
        self._master, self._slave = self._open_tty()
        self.device = os.ttyname(self._slave)
        self.uart = Uart(
            chip.apb_hz,
            self.host_baud,
            autobaud_max=autobaud_max,
            autobaud_sticky=autobaud_sticky,
            adapter_max_baud=adapter_max_baud,
        )
        # Both None once the module is closed (see close).
        self.registers: Registers | None = Registers(
            chip, self.mac, flash, self.uart.divider, rom_xtal_error=rom_xtal_error
        )
        self.loader: Loader | None = Loader(chip, flash, self.registers, self)
        self.state = State.RESET
        self.powered = powered
        self.output: list[bytes] = []  # what the module printed, for tests and boot checks
        self._pull_ups(powered)  # before it listens: its own pull-up is not a reset
        if en is not None:
            en.listeners.append(self._on_en)
        if powered:
            self._power_on()
        self._thread = threading.Thread(target=self._serve, name=f"module-{name}", daemon=True)
        self._thread.start()

    @property
    def mac_text(self) -> str:
        return ":".join(f"{b:02x}" for b in self.mac)

    # -- strapping -----------------------------------------------------------------------

    def _on_en(self, pin: StrapPin, high: bool) -> None:
        if not self.powered:
            return
        if not high:
            self._hold_reset()
            return
        self._boot(download=self._boot_pin is not None and not self._boot_pin.state, cause=2)

    def _hold_reset(self) -> None:
        with self._lock:
            self._epoch += 1
            self.state = State.RESET
            self._interrupt.set()

    def _power_on(self) -> None:
        """Power-on reset: a standalone module waits in download mode."""
        if self.native_usb:
            self._boot(download=self.boot_held, cause=1)
        elif self._en is None:
            self._boot(download=True, cause=1)
        elif self._en.state:
            self._boot(download=self._boot_pin is not None and not self._boot_pin.state, cause=1)

    def set_power(self, on: bool) -> None:
        """The socket's power switch: off silences the chip, on is a power-on reset."""
        if on == self.powered:
            return
        self.powered = on
        if not on:
            self._hold_reset()
        self._pull_ups(on)  # a pull-up to an unpowered module's 3.3 V pulls to 0 V
        if on:
            self._power_on()

    def _pull_ups(self, present: bool) -> None:
        for pin in (self._boot_pin, self._en):
            if pin is not None:
                pin.set_module_pull_up(present)

    def _boot(self, *, download: bool, cause: int) -> None:
        """Come out of reset: the boot strap sampled low means the UART loader, else flash
        boot."""
        with self._lock:
            if self._stop.is_set():  # closed: a crash or heartbeat timer came too late
                return
            self._epoch += 1
            self._interrupt.clear()
            if self.native_usb:
                self._reenumerate()
            if self.registers is not None:  # None once closed: nothing would serve it
                self.loader = Loader(self.chip, self.flash, self.registers, self)
            self._decoder.reset()
            self._frames.clear()
            self.uart.reset(self.chip.rom_baud)
            self._emit(rom_banner(self.chip, download, cause))
            if download:
                self.uart.reset(None)
                self.state = State.DOWNLOAD
                return
            log_text, runnable = load_image(self.flash, self.chip)
            self._emit(log_text)
            if not runnable:
                self.state = State.HUNG
                return
            self._run_app()

    def _run_app(self) -> None:
        app = app_behaviour(self.flash, self.default_app)
        self.uart.reset(app.baud)
        self.state = State.APP
        self._emit(app.banner.encode())
        if self.native_usb:
            self._heartbeat(self._epoch, app.banner.encode())
        if self.faults.reset_after is not None:
            timer = threading.Timer(self.faults.reset_after, self._crash, args=(self._epoch,))
            timer.daemon = True
            timer.start()

    def _crash(self, epoch: int) -> None:
        """The firmware hangs and the hardware watchdog resets the chip (rst cause 4)."""
        if epoch == self._epoch and self.state is State.APP and not self._stop.is_set():
            self._boot(download=False, cause=4)

    def _heartbeat(self, epoch: int, banner: bytes) -> None:
        """Over USB the host opens the new device only after the chip has booted, so what
        the firmware printed at start is gone: firmware meant for a USB boot check says its
        line again, once a second, while it runs."""

        def again() -> None:
            if epoch == self._epoch and self.state is State.APP and not self._stop.is_set():
                self._emit(banner)
                self._heartbeat(epoch, banner)

        timer = threading.Timer(USB_HEARTBEAT_S, again)
        timer.daemon = True
        timer.start()

    def usb_reset(self, *, download: bool) -> None:
        """esptool's USB-JTAG reset (into the ROM loader) or its hard reset over USB (into
        the firmware). A blank chip boot-loops on its empty flash, and its USB device with
        it: it comes up in the loader only with its boot button held (esp-idf #12110)."""
        if not self.powered or self.faults.silent:
            return
        if download and self.state is State.HUNG and not self.boot_held:
            download = False
        self._boot(download=download, cause=4)

    def _open_tty(self) -> tuple[int, int]:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        return master, slave

    def _reenumerate(self) -> None:
        """The USB device goes with the chip's reset and comes back as a new tty."""
        old = (self._master, self._slave)
        self._master, self._slave = self._open_tty()
        self.device = os.ttyname(self._slave)
        for fd in old:
            with contextlib.suppress(OSError):
                os.close(fd)
        for listener in list(self.on_reenumerate):
            listener(self.device)

    def pull(self) -> None:
        """Take the module out of its socket: from now on it says nothing."""
        self.faults.silent = True
        self._pull_ups(False)

    # -- the serial line -----------------------------------------------------------------

    def host_baud(self) -> int:
        buf = array.array("i", [0] * 64)
        try:
            fcntl.ioctl(self._master, TCGETS2, buf)
        except OSError:
            return 0
        return buf[10]

    def baud(self) -> int:
        """The module's UART rate; the ROM loader follows the host (auto-baud)."""
        return self.uart.baud()

    def sleep_until(self, when: float) -> None:
        """Let modelled time pass; a reset or close cuts it short."""
        delay = when - time.monotonic()
        if delay > 0:
            self._interrupt.wait(delay)

    def _emit(self, data: bytes) -> None:
        """Print raw text (boot log, banner) at the module's current baud."""
        if data and not self.faults.silent:
            self.output.append(data)
            self._transmit(data)

    def send(self, payload: bytes) -> None:
        """Send one SLIP frame; nothing leaves a module that is no longer in the loader."""
        if self.state is State.DOWNLOAD and not self.faults.silent:
            self._transmit(slip.encode(payload))

    def _transmit(self, data: bytes) -> None:
        baud = self.baud()
        if self.line_rate:
            self._tx_clock = max(self._tx_clock, time.monotonic()) + len(data) * 10 / baud
            self.sleep_until(self._tx_clock)
        host = self.host_baud()
        if not self.uart.clear(host):
            data = garble(data, baud, host)
        if self.faults.drop_rate or self.faults.corrupt_rate:
            data = self._damage(data)
        self._write(data)

    def _damage(self, data: bytes) -> bytes:
        out = bytearray()
        for b in data:
            roll = self._rng.random()
            if roll < self.faults.drop_rate:
                continue
            if roll < self.faults.drop_rate + self.faults.corrupt_rate:
                b ^= 1 << self._rng.randrange(8)
            out.append(b)
        return bytes(out)

    def _write(self, data: bytes) -> None:
        """Write to the pty; with nobody reading, bytes are lost as on a real UART."""
        deadline = time.monotonic() + 1.0
        view = memoryview(data)
        while view and not self._stop.is_set():
            try:
                written = os.write(self._master, view)
                view = view[written:]
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return
                select.select([], [self._master], [], 0.05)
            except OSError:
                return

    def _read_chunk(self, timeout: float) -> bytes:
        master = self._master
        try:
            ready, _, _ = select.select([master], [], [], timeout)
        except (OSError, ValueError):  # the tty went with a USB re-enumeration
            return b""
        if not ready:
            return b""
        try:
            data = os.read(master, 65536)
        except (BlockingIOError, OSError):
            return b""
        self._bytes_in += len(data)
        limit = self.faults.silent_after_bytes
        if limit is not None and self._bytes_in >= limit:
            self.faults.silent = True
        if self.faults.silent or self.state is not State.DOWNLOAD:
            return b""
        host = self.host_baud()
        self.uart.hear(host)
        baud = self.baud()
        if not self.uart.clear(host):
            data = garble(data, host, baud)
        if self.line_rate:
            self._rx_clock = max(self._rx_clock, time.monotonic()) + len(data) * 10 / baud
        return data

    def receive(self, timeout: float) -> bytes | None:
        """The next frame from the host (the stub's read-flash acks come this way)."""
        deadline = time.monotonic() + timeout
        while not self._frames:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._stop.is_set():
                return None
            self._frames.extend(self._decoder.feed(self._read_chunk(remaining)))
        return self._frames.popleft()

    def _serve(self) -> None:
        while not self._stop.is_set():
            data = self._read_chunk(0.1)
            if not data:
                continue
            self._frames.extend(self._decoder.feed(data))
            while self._frames and self.state is State.DOWNLOAD:
                packet = self._frames.popleft()
                if self.line_rate:
                    self.sleep_until(self._rx_clock)
                self.arrival = max(self._rx_clock, time.monotonic())
                epoch = self._epoch
                loader = self.loader
                if loader is None:  # closed meanwhile: _stop is set, this loop is over
                    return
                try:
                    outcome = loader.handle(packet)
                except Exception:  # a malformed packet must not kill the module
                    log.exception("%s: command failed", self.name)
                    continue
                with self._lock:
                    if epoch == self._epoch:
                        self._after(outcome)

    def _after(self, outcome: Next) -> None:
        if outcome is Next.RUN_APP:
            log_text, runnable = load_image(self.flash, self.chip)
            self.uart.reset(self.chip.rom_baud)
            self._emit(log_text)
            if runnable:
                self._run_app()
            else:
                self.state = State.HUNG
        elif outcome is Next.REBOOT_TO_ROM:
            self._boot(download=self._boot_pin is None or not self._boot_pin.state, cause=4)
        elif outcome is Next.HANG:
            self.state = State.HUNG

    def close(self) -> None:
        with self._lock:  # a boot under way (a timer's) finishes before the flash goes
            self._stop.set()
        self._interrupt.set()
        if self._en is not None:
            with contextlib.suppress(ValueError):
                self._en.listeners.remove(self._on_en)
        self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        # The loader and registers point back at the module: break the cycle so a
        # module's memory goes when it is taken out, not at some later garbage collection.
        self.loader = None
        self.registers = None

    def __enter__(self) -> "EmulatedModule":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
