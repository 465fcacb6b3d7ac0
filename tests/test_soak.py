"""Soak: many insert-flash-remove cycles over five simulated sockets with faults thrown
in at random (modules pulled mid-write, noisy lines, modules that never sync, the broker
stopped and restarted, the daemon killed and restarted). It stops by itself; CI runs a
few cycles, `pytest tests/test_soak.py --soak-cycles 1000 -s` the long run, which prints
its figures."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from mqtt_broker import Broker, Recorder

from flashjig.config import load_config
from flashjig.mqtt.discovery import Topics
from flashjig.station.control import ControlError, request
from flashjig.station.journal import JOURNAL_FILE, Journal

FAULTS = ["none"] * 6 + ["silent", "pulled-mid-write", "noisy"]
FINISHED = {"ok", "failed", "cancelled", "interrupted"}
SETTLED = {"ok", "failed"}


class Daemon:
    def __init__(self, config: Path, state: Path) -> None:
        self.config, self.state = config, state
        self.sock = state / "control.sock"
        self.proc: subprocess.Popen | None = None
        self.log = state.parent / "daemon.log"
        self.start()

    def start(self) -> None:
        log = open(self.log, "ab")  # noqa: SIM115 - the child keeps its own copy
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flashjig",
                "run",
                "--simulate",
                "--config",
                str(self.config),
                "--state-dir",
                str(self.state),
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + 20
        while True:
            try:
                request(self.sock, {"cmd": "status"}, timeout=10)
                return
            except (ControlError, OSError):
                assert self.proc.poll() is None, "daemon died on start"
                assert time.monotonic() < deadline, "daemon did not start"
                time.sleep(0.05)

    def ask(self, cmd: str, **kwargs) -> dict:
        try:
            return request(self.sock, {"cmd": cmd, **kwargs}, timeout=10)
        except TimeoutError:
            # A station that stops answering: keep every thread's stack for the record.
            self.proc.send_signal(signal.SIGUSR1)
            time.sleep(1)
            raise AssertionError(f"no answer to {cmd}; thread stacks in {self.log}") from None

    def sockets(self) -> dict[str, dict]:
        return {s["name"]: s for s in self.ask("status")["status"]["sockets"]}

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def usage(self) -> tuple[float, int]:
        """Resident memory (MB) and open file descriptors of the daemon."""
        pid = self.proc.pid
        rss = next(
            int(line.split()[1])
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("VmRSS:")
        )
        return rss / 1024, len(os.listdir(f"/proc/{pid}/fd"))


def wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"stuck: {what}")


def test_soak(station_config, tmp_path, pytestconfig):
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
    daemon = Daemon(config, state)
    names = list(daemon.sockets())
    samples: list[tuple[float, int]] = []
    events = {"kills": 0, "broker_restarts": 0, "pulled": 0, "inserted": 0}
    started = time.monotonic()
    try:
        for cycle in range(cycles):
            broker_away = cycle % 4 == 1
            # Kills are spread so that memory is measured over long stretches without one.
            kill = cycle % max(5, cycles // 10) == 3
            if broker_away:
                broker.stop()
            for name in names:
                daemon.ask("insert", socket=name, fault=rng.choice(FAULTS))
                events["inserted"] += 1
            pull = cycle % 3 == 2
            pulled = None
            if pull or kill:
                wait(
                    lambda: any(s["state"] == "flashing" for s in daemon.sockets().values()),
                    30,
                    "a socket flashing",
                )
            if pull:  # take out a module the station is working on
                busy = [n for n, s in daemon.sockets().items() if s["state"] == "flashing"]
                pulled = rng.choice(busy or names)
                daemon.ask("remove", socket=pulled)
                events["pulled"] += 1
            if kill:
                daemon.kill()
                events["kills"] += 1
                daemon.start()
                samples.clear()  # a new process: memory is measured per process
            else:
                wait(
                    lambda pulled=pulled: all(
                        s["state"] in SETTLED or (n == pulled and s["state"] == "empty")
                        for n, s in daemon.sockets().items()
                    ),
                    60,
                    f"cycle {cycle}: sockets settled",
                )
                for name, s in daemon.sockets().items():
                    if s["state"] != "empty":
                        daemon.ask("remove", socket=name)
            wait(
                lambda: all(s["state"] == "empty" for s in daemon.sockets().values()),
                30,
                f"cycle {cycle}: sockets empty",
            )
            if not broker_away and not kill:
                wait(dashboard_shows_empty, 30, f"cycle {cycle}: the dashboard shows them empty")
            if broker_away:
                broker.start()
                events["broker_restarts"] += 1
            samples.append(daemon.usage())
            if (cycle + 1) % 50 == 0:  # a long run reports as it goes
                print(
                    f"soak: cycle {cycle + 1}/{cycles} after {time.monotonic() - started:.0f} s,"
                    f" rss {samples[-1][0]:.1f} MB, fds {samples[-1][1]}, {events}",
                    flush=True,
                )
        assert daemon.stop() == 0
        daemon.start()  # the last results go out from a fresh start too
        with Journal(state / JOURNAL_FILE, readonly=True) as journal:
            wait(
                lambda: all(r.published for r in journal.attempts()),
                60,
                "every result published",
            )
            rows = journal.attempts()
        wait(
            lambda: {r["id"] for r in recorder.json_on(topics.result)} >= {r.id for r in rows},
            60,
            "every result received",
        )
    finally:
        if daemon.proc.poll() is None:
            daemon.stop()
        recorder.close()
        dashboard.close()
        broker.stop()
    elapsed = time.monotonic() - started
    assert all(r.result in FINISHED for r in rows), "an attempt without a result"
    assert all(r.reason for r in rows if r.result != "ok"), "a failure without a reason"
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
    if len(samples) >= 4:
        warm = samples[1]
        figures["rss_mb_start"], figures["fds_start"] = round(warm[0], 1), warm[1]
        figures["rss_mb_end"], figures["fds_end"] = round(samples[-1][0], 1), samples[-1][1]
        assert samples[-1][0] - warm[0] < 20, f"memory grows: {samples}"
        assert samples[-1][1] - warm[1] <= 3, f"file descriptors leak: {samples}"
    print("\nsoak: " + json.dumps(figures))
