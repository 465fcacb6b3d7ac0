"""The station config: its data model (``model``), the YAML loader with located errors
(``loader`` over ``nodes``), and the flash size table (``sizes``). Everything above reads
the frozen dataclasses this package builds."""

from flashjig.config.loader import load_config, parse_config
from flashjig.config.model import (
    BAUD_RATES,
    BUSES,
    FLASH_FREQS,
    FLASH_MODES,
    FLASH_SIZES,
    PI_MODELS,
    SECTOR_SIZE,
    TRIGGERS,
    BootCheck,
    BurnIn,
    Config,
    Identity,
    ImageSpec,
    LedPins,
    MqttConfig,
    Profile,
    SocketConfig,
    StationConfig,
    TlsConfig,
)

__all__ = [
    "BAUD_RATES",
    "BUSES",
    "FLASH_FREQS",
    "FLASH_MODES",
    "FLASH_SIZES",
    "PI_MODELS",
    "SECTOR_SIZE",
    "TRIGGERS",
    "BootCheck",
    "BurnIn",
    "Config",
    "Identity",
    "ImageSpec",
    "LedPins",
    "MqttConfig",
    "Profile",
    "SocketConfig",
    "StationConfig",
    "TlsConfig",
    "load_config",
    "parse_config",
]
