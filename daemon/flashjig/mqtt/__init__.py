"""Reporting a station to an MQTT broker (``reporter``), with Home Assistant device
discovery built in one place from the config (``discovery``).

The reporter is made of parts, each a module: the connection in words (``connection``),
commands taken from topics (``commands``), discovery announced and kept on record
(``announcer``), the retained states (``states``) and the result outbox's thread
(``outbox``)."""

import logging

# The reporter's parts log as the reporter did before it had parts: the journal's LOGGER
# field, and whatever filters on it, stay the same.
reporter_log = logging.getLogger("flashjig.mqtt.reporter")
