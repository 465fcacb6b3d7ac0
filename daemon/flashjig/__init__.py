"""flashjig: a headless flashing station for Espressif modules (ESP8266, ESP32, C3, S3)."""

__version__ = "0.1.0"
