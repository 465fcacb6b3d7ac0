"""Commands taken from the broker (``mqtt.commands: true``): a topic under
``<base>/cmd`` and its payload, parsed here and carried out by the station's one command
set; only names from the config are accepted, and a refusal is answered on the error
topic, never taken out on the daemon."""

import json

import paho.mqtt.client as mqtt

from flashjig.errors import CommandError
from flashjig.mqtt import reporter_log as log
from flashjig.mqtt.discovery import Topics
from flashjig.station.commands import StationCommands

MAX_COMMAND_BYTES = 256
BUTTON_PAYLOADS = ("", "PRESS")


class CommandHandler:
    """Flash and cancel (all, or one socket), and profile, from their topics."""

    def __init__(self, commands: StationCommands, client: mqtt.Client, topics: Topics) -> None:
        self.commands = commands
        self.client = client
        self.topics = topics

    def handle(self, topic: str, payload: bytes | bytearray) -> None:
        """paho's network thread: carry out the command, or say on the error topic why
        not."""
        try:
            self._command(topic, payload)
        except CommandError as e:
            self._refuse(topic, payload, str(e))
        except Exception as e:  # a command must never take the daemon down
            log.exception("MQTT command on %s failed", topic)
            self._refuse(topic, payload, f"internal error: {e}")

    def _command(self, topic: str, payload: bytes | bytearray) -> None:
        if len(payload) > MAX_COMMAND_BYTES:
            raise CommandError(f"payload of {len(payload)} bytes is too large")
        try:
            text = payload.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise CommandError("payload is not UTF-8 text") from None
        parts = topic[len(self.topics.commands) + 1 :].split("/")
        if parts == ["flash"]:
            _button(text)
            log.info("MQTT: flash all requested")
            self.commands.flash()
        elif len(parts) == 2 and parts[0] == "flash":
            socket = self.commands.known(parts[1])
            _button(text)
            log.info("MQTT: flash %s requested", socket, extra={"SOCKET": socket})
            self.commands.flash(socket)
        elif parts == ["cancel"]:
            _button(text)
            log.info("MQTT: cancel requested")
            self.commands.cancel()
        elif len(parts) == 2 and parts[0] == "cancel":
            socket = self.commands.known(parts[1])
            _button(text)
            log.info("MQTT: cancel %s requested", socket, extra={"SOCKET": socket})
            self.commands.cancel(socket)
        elif parts == ["profile"]:
            self.commands.set_profile(text)
        else:
            raise CommandError("unknown command topic")

    def _refuse(self, topic: str, payload: bytes | bytearray, error: str) -> None:
        log.warning("MQTT command on %s refused: %s", topic, error)
        event = {"topic": topic, "payload": payload[:64].decode("utf-8", "replace"), "error": error}
        self.client.publish(self.topics.error, json.dumps(event), qos=1)


def _button(text: str) -> None:
    """A button's press: Home Assistant sends PRESS; a bare publish, nothing."""
    if text not in BUTTON_PAYLOADS:
        raise CommandError(f"unexpected payload {text[:40]!r} (send PRESS or nothing)")
