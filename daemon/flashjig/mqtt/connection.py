"""The broker connection in words, for the station's status and the log: why a connection
attempt failed, each problem logged once until it changes, and a second station with the
same client id told apart from a broker that is merely away."""

import ssl
import threading
import time
from collections.abc import Callable
from socket import gaierror

from paho.mqtt.reasoncodes import ReasonCode

from flashjig.mqtt import reporter_log as log

# Connections the broker closes this soon after it accepted them, this many times in a
# row: another client has our client id (a second station with the same station id).
SHORT_CONNECTION_S = 5.0
SHORT_CONNECTIONS = 3


class ConnectionWatch:
    """What the reporter's paho callbacks learn of the connection, kept and said: ``text``
    ("connected to ..." or what is wrong) goes to ``show`` on every change, a problem to
    the log once."""

    def __init__(
        self, broker: str, client_id: str, station_id: str, show: Callable[[str], None]
    ) -> None:
        self.broker = broker  # host:port
        self.client_id = client_id
        self.station_id = station_id
        self._show = show
        self._text = f"connecting to {broker}"
        self._connected = threading.Event()
        self._logged_problem: str | None = None
        self._connected_at = 0.0
        self._short_connections = 0

    @property
    def text(self) -> str:
        return self._text

    def _say(self, text: str) -> None:
        self._text = text
        self._show(text)

    @property
    def connected(self) -> bool:
        """Up, and subscribed: what is published now reaches the broker's subscribers."""
        return self._connected.is_set()

    def opened(self) -> None:
        """The broker accepted the connection (not yet subscribed: see ``ready``)."""
        self._say(f"connected to {self.broker}")
        self._connected_at = time.monotonic()
        if self._logged_problem is None:
            log.info("connected to MQTT broker %s", self.broker)

    def ready(self) -> None:
        """Subscribed too: from now on the reporter publishes."""
        self._connected.set()

    def refused(self, reason_code: ReasonCode) -> None:
        self._problem(f"the MQTT broker {self.broker} refused the connection: {reason_code}")

    def failed(self, error: BaseException | None) -> None:
        """A connection attempt that never reached the broker; ``error`` says why."""
        self._problem(f"cannot connect to the MQTT broker {self.broker}: {_why(error)}")

    def closed(self, reason_code: ReasonCode) -> None:
        """The connection is gone; a run of short ones is another client with our id."""
        if self._connected.is_set():
            self._connected.clear()
            if time.monotonic() - self._connected_at < SHORT_CONNECTION_S:
                self._short_connections += 1
            else:
                self._short_connections = 0
            if self._short_connections >= SHORT_CONNECTIONS:
                self._problem(
                    f"the MQTT broker {self.broker} closes the connection right after it "
                    f"opens ({self._short_connections} times in a row): another client uses "
                    f"client id {self.client_id!r}; is a second station running "
                    f"with station id {self.station_id}?"
                )
                return
            log.warning("lost the MQTT broker (%s); results wait in the journal", reason_code)
            self._say(f"lost {self.broker} ({reason_code}), reconnecting")
        self._connected.clear()

    def note_stable(self) -> None:
        """A connection that has lasted is the end of a problem: say so, once. (A broker
        that closes each connection at once, for a client id used twice, is no end.)"""
        stable = time.monotonic() - self._connected_at >= SHORT_CONNECTION_S
        if not (self._connected.is_set() and stable):
            return
        self._short_connections = 0
        if self._logged_problem is not None:
            log.info("connected to MQTT broker %s (it was: %s)", self.broker, self._logged_problem)
            self._logged_problem = None

    def _problem(self, text: str) -> None:
        """A connection problem: shown in status at once, logged once until it changes."""
        self._say(text)
        if text != self._logged_problem:
            log.warning("%s (retrying)", text)
            self._logged_problem = text


def _why(error: BaseException | None) -> str:
    """An exception from connecting, in a person's words."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"its TLS certificate does not verify ({error.verify_message})"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed ({error.reason or error})"
    if isinstance(error, gaierror):
        return f"the name does not resolve ({error.strerror})"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the broker running, on this port?)"
    if isinstance(error, TimeoutError):
        return "no answer (timed out)"
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return str(error) if error is not None else "unknown error"
