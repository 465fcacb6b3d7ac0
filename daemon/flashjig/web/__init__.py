"""The read-only status page (``web:`` in the config): aiohttp beside the station, the
page's assets shipped with the package (nothing from the internet), live over server-sent
events."""
