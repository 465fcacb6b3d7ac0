"""flashjig: a headless flashing station for ESP8266 modules."""

__version__ = "0.1.0"
