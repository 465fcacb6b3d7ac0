"""Reporting a station to an MQTT broker (``reporter``), with Home Assistant device
discovery built in one place from the config (``discovery``)."""
