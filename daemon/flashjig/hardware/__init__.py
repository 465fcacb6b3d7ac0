"""The hardware edge: gpiozero devices for a socket's lines (``pins``, ``strapping``,
``socket_lines``), the status lights (``leds``), the Pi's 40-pin header and its buses
(``header``, with hw/pinmap.yaml in ``pinmap``), and where a station's pins and serial
ports come from (``base.Hardware``, real in ``pi``, simulated in flashjig.simulation)."""
