"""Soak: many insert-flash-remove cycles over five simulated sockets with faults thrown
in at random (modules pulled mid-write, noisy lines, modules that never sync, the broker
stopped and restarted, the daemon killed and restarted). It stops by itself; CI runs a
few cycles, `pytest tests/test_station_soak.py --soak-cycles 1000 -s` the long run, which
prints its figures."""

import json
import os
import random
import signal
import time
from pathlib import Path

import pytest
import yaml
from helpers import wait_for
from mqtt_broker import Broker, Recorder

from flashjig.config import load_config
from flashjig.mqtt.discovery import Topics
from flashjig.station.journal import JOURNAL_FILE, Journal

pytestmark = pytest.mark.slow

FAULTS = ["none"] * 6 + ["silent", "pulled-mid-write", "noisy"]
FINISHED = {"ok", "failed", "cancelled", "interrupted"}
SETTLED = {"ok", "failed"}


def usage(daemon) -> tuple[float, int]:
    """Resident memory (MB) and open file descriptors of the daemon's process."""
    pid = daemon.proc.pid
    rss = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    return rss / 1024, len(os.listdir(f"/proc/{pid}/fd"))


def one_cycle(daemon, names, rng, events, cycle: int, *, kill: bool) -> None:
    """Seat a module (with a fault drawn at random) in every socket; maybe pull one the
    station is working on, maybe kill the daemon mid-flash; end with every socket empty."""
    for name in names:
        daemon.ask("insert", socket=name, fault=rng.choice(FAULTS))
        events["inserted"] += 1
    pull = cycle % 3 == 2
    pulled = None
    if pull or kill:
        wait_for(
            lambda: any(s["state"] == "flashing" for s in daemon.sockets().values()),
            timeout=30,
            what="a socket flashing",
            interval=0.1,
        )
    if pull:  # take out a module the station is working on
        busy = [n for n, s in daemon.sockets().items() if s["state"] == "flashing"]
        pulled = rng.choice(busy or names)
        daemon.ask("remove", socket=pulled)
        events["pulled"] += 1
    if kill:
        daemon.stop(signal.SIGKILL)
        events["kills"] += 1
        daemon.start()
    else:
        wait_for(
            lambda: all(
                s["state"] in SETTLED or (n == pulled and s["state"] == "empty")
                for n, s in daemon.sockets().items()
            ),
            timeout=60,
            what=f"cycle {cycle}: sockets settled",
            interval=0.1,
        )
        for name, s in daemon.sockets().items():
            if s["state"] != "empty":
                daemon.ask("remove", socket=name)
    wait_for(
        lambda: all(s["state"] == "empty" for s in daemon.sockets().values()),
        timeout=30,
        what=f"cycle {cycle}: sockets empty",
        interval=0.1,
    )


def test_soak(station_config, tmp_path, pytestconfig, start_daemon):
    cycles = pytestconfig.getoption("--soak-cycles")
    rng = random.Random(8266)
    broker = Broker(tmp_path, persistent=True)
    data = yaml.safe_load(station_config.path.read_text())
    # No retries: a failed attempt is its own journal row either way, and the long run
    # must fit in an evening.
    data["station"].update(trigger="insert", settle_time=0.1, debounce=0.02, retries=0)
    data["mqtt"] = {"host": "127.0.0.1", "port": broker.port, "keepalive": 10}
    config = tmp_path / "soak.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    topics = Topics(load_config(config))
    recorder = Recorder(broker.port, topic=topics.result, client_id="soak-recorder")
    dashboard = Recorder(broker.port, topic=f"{topics.base}/#")  # live, as Home Assistant

    def dashboard_shows_empty() -> bool:
        """The socket and station states a dashboard holds last: all empty, none flashing
        (states come from several threads; an older one must never arrive last)."""
        station = dashboard.last(topics.station)
        return (
            station is not None
            and json.loads(station)["flashing"] == 0
            and all(
                (payload := dashboard.last(topics.socket(name))) is not None
                and json.loads(payload)["state"] == "empty"
                for name in names
            )
        )

    state = tmp_path / "state"
    daemon = start_daemon(config=config, state=state)
    names = list(daemon.sockets())
    # (rss, fds) after each cycle, one list per daemon process: a kill starts a new one.
    runs: list[list[tuple[float, int]]] = [[]]
    events = {"kills": 0, "broker_restarts": 0, "pulled": 0, "inserted": 0}
    started = time.monotonic()
    try:
        for cycle in range(cycles):
            broker_away = cycle % 4 == 1
            # Kills are spread so that memory is measured over long stretches without one.
            kill = cycle % max(5, cycles // 10) == 3
            if broker_away:
                broker.stop()
            one_cycle(daemon, names, rng, events, cycle, kill=kill)
            if kill:
                runs.append([])  # a new process: memory is measured per process
            if not broker_away and not kill:
                wait_for(
                    dashboard_shows_empty,
                    timeout=30,
                    what=f"cycle {cycle}: the dashboard shows them empty",
                    interval=0.1,
                )
            if broker_away:
                broker.start()
                events["broker_restarts"] += 1
            runs[-1].append(usage(daemon))
            if (cycle + 1) % 50 == 0:  # a long run reports as it goes
                print(
                    f"soak: cycle {cycle + 1}/{cycles} after {time.monotonic() - started:.0f} s,"
                    f" rss {runs[-1][-1][0]:.1f} MB, fds {runs[-1][-1][1]}, {events}",
                    flush=True,
                )
        assert daemon.stop() == 0
        daemon.start()  # the last results go out from a fresh start too
        with Journal(state / JOURNAL_FILE, readonly=True) as journal:
            wait_for(
                lambda: all(r.published for r in journal.attempts()),
                timeout=60,
                what="every result published",
                interval=0.1,
            )
            rows = journal.attempts()
        wait_for(
            lambda: {r["id"] for r in recorder.json_on(topics.result)} >= {r.id for r in rows},
            timeout=60,
            what="every result received",
            interval=0.1,
        )
    finally:
        if daemon.running:
            daemon.stop()
        recorder.close()
        dashboard.close()
        broker.stop()
    elapsed = time.monotonic() - started
    assert all(r.result in FINISHED for r in rows), "an attempt without a result"
    # Pulls, silent modules and the kill fail attempts: with none failed the check below
    # would look at nothing.
    failures = [r for r in rows if r.result != "ok"]
    assert failures, f"no attempt failed in {len(rows)}: the faults took no effect"
    assert all(r.reason for r in failures), "a failure without a reason"
    assert len(rows) >= events["inserted"] - events["kills"] * len(names)
    received = [r["id"] for r in recorder.json_on(topics.result)]
    results = {}
    for r in rows:
        results[r.result] = results.get(r.result, 0) + 1
    figures = {
        "cycles": cycles,
        "attempts": len(rows),
        "seconds": round(elapsed, 1),
        "duplicates_received": len(received) - len(set(received)),
        **events,
        **results,
    }
    # The longest stretch one process ran: its second cycle (warm) against its last. At
    # the default 6 cycles (a kill at cycle 3) that is 3 cycles; before, the samples were
    # cleared at the kill and the checks skipped for having fewer than 4.
    longest = max(runs, key=len)
    assert len(longest) >= 3, f"no process ran 3 cycles without a kill: {runs}"
    warm, end = longest[1], longest[-1]
    figures["rss_mb_start"], figures["fds_start"] = round(warm[0], 1), warm[1]
    figures["rss_mb_end"], figures["fds_end"] = round(end[0], 1), end[1]
    assert end[0] - warm[0] < 20, f"memory grows: {longest}"
    assert end[1] - warm[1] <= 3, f"file descriptors leak: {longest}"
    print("\nsoak: " + json.dumps(figures))
