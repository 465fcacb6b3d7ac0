"""esptool's one process-wide logger, routed to the socket whose thread is talking: two
sockets flashing at once, each esptool line tagged with its own socket."""

import logging
import threading

import pytest
from helpers import run_job

from flashjig.simulation.hardware import SimulatedHardware

pytestmark = pytest.mark.slow


def test_sockets_flash_in_parallel_with_routed_esptool_logs(station_config, caplog):
    caplog.set_level(logging.DEBUG, logger="flashjig.esptool")
    results = {}
    with SimulatedHardware(station_config, line_rate=True) as hw:

        def work(name):
            results[name] = run_job(station_config, hw, socket=name)[0]

        threads = [threading.Thread(target=work, args=(n,)) for n in ("socket1", "socket2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        macs = {n: hw.modules[n].mac_text for n in results}
    # A thread that raised (or hung) leaves no result: then nothing below would look at it.
    assert sorted(results) == ["socket1", "socket2"], results
    assert all(r.ok for r in results.values()), results
    assert {n: r.mac for n, r in results.items()} == macs
    tagged = {r.SOCKET for r in caplog.records if r.name == "flashjig.esptool"}
    assert tagged == {"socket1", "socket2"}
    stub = [r for r in caplog.records if "Stub flasher running" in r.getMessage()]
    assert sorted(r.SOCKET for r in stub) == ["socket1", "socket2"]  # one line each
    for record in stub:
        assert record.getMessage().startswith(record.SOCKET)
