"""Home Assistant discovery on a real mosquitto: sent again on Home Assistant's birth,
sockets taken out of the config removed, two stations on one broker kept apart."""

import dataclasses
import json
import threading

import pytest
from helpers import flash_sockets, mqtt_config, other_station, wait_for
from mqtt_broker import sentinel

pytestmark = pytest.mark.slow


def test_home_assistant_birth_resends_discovery(mqtt_rig, recorder):
    _, _, _, reporter = mqtt_rig()
    topic = reporter.topics.discovery
    recorder.wait(lambda: len(recorder.on(topic)) == 1, what="first discovery")
    recorder.publish(reporter.topics.birth, "online")
    recorder.wait(lambda: len(recorder.on(topic)) == 2, timeout=10, what="discovery again")


def test_a_burst_of_births_is_one_republish(mqtt_rig, recorder):
    """Home Assistant restarting (or several on one broker) says online many times: one
    discovery and one set of states go out, not one per birth."""
    _, _, _, reporter = mqtt_rig(commands=True)
    topics = reporter.topics
    recorder.wait(lambda: len(recorder.on(topics.discovery)) == 1, what="first discovery")
    for _ in range(20):
        recorder.publish(topics.birth, "online")
    # A command after the births, from the same client: its answer on the error topic
    # means the reporter has taken every birth before it (one client's messages in order).
    recorder.publish(f"{topics.commands}/after-the-births", "PRESS")
    recorder.wait(lambda: recorder.on(topics.error), what="the births taken")
    recorder.wait(lambda: len(recorder.on(topics.discovery)) == 2, what="discovery again")

    # Every republish the births started has run once no timer for one is left; what
    # those sent is at the recorder once a sentinel sent after them is.
    def republishing() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "mqtt-republish" and t.is_alive()]

    wait_for(lambda: not republishing(), timeout=10, what="the republish timers to run")
    sentinel(reporter.client, recorder)
    assert len(recorder.on(topics.discovery)) == 2


def test_sockets_taken_out_of_the_config_are_removed(
    mqtt_rig, recorder, station_config, broker, tmp_path
):
    config = mqtt_config(station_config.path, broker.port)
    station, _, _, reporter = mqtt_rig(config=config)
    recorder.wait(lambda: recorder.on(reporter.topics.discovery))
    reporter.stop()
    station.stop()
    fewer = dataclasses.replace(config, sockets=config.sockets[:3])
    mqtt_rig(config=fewer)
    recorder.wait(lambda: len(recorder.on(reporter.topics.discovery)) == 2)
    cmps = json.loads(recorder.last(reporter.topics.discovery))["cmps"]
    gone = [cid for cid, c in cmps.items() if "socket5" in cid]
    assert gone and all(cmps[cid] == {"p": cmps[cid]["p"]} for cid in gone)
    kept = [c for cid, c in cmps.items() if "socket1" in cid]
    assert kept and all(len(c) > 1 for c in kept)


def test_two_stations_on_one_broker_stay_apart(
    mqtt_rig, recorder, station_config, broker, tmp_path
):
    first = mqtt_config(station_config.path, broker.port)
    second = other_station(station_config, "bench-2", broker.port, tmp_path)
    s1, hw1, _, r1 = mqtt_rig(config=first, state=tmp_path / "s1")
    s2, hw2, _, r2 = mqtt_rig(config=second, state=tmp_path / "s2")
    assert r1.topics.base != r2.topics.base and r1.topics.discovery != r2.topics.discovery
    flash_sockets(s2, hw2, ["socket1"])
    recorder.wait(lambda: recorder.on(r2.topics.result), what="second station's result")
    assert recorder.on(r1.topics.result) == []
    ids1 = set(json.loads(recorder.last(r1.topics.discovery))["cmps"])
    ids2 = set(json.loads(recorder.last(r2.topics.discovery))["cmps"])
    assert not ids1 & ids2


def test_the_profile_turning_from_select_to_sensor_removes_the_select(station_config, tmp_path):
    """commands off: the profile select becomes a sensor. The select must be removed by
    name and platform, and the sensor come under an id of its own; one id carrying both
    left the select in Home Assistant."""
    from flashjig.mqtt.discovery import Topics, device_config

    commanding = mqtt_config(station_config.path, 1883, commands=True)
    topics = Topics(commanding)
    before = device_config(commanding, topics)["cmps"]
    (select,) = [cid for cid, c in before.items() if c["p"] == "select"]
    announced = {cid: c["p"] for cid, c in before.items()}
    watching = dataclasses.replace(
        commanding, mqtt=dataclasses.replace(commanding.mqtt, commands=False)
    )
    after = device_config(watching, topics, announced)["cmps"]
    assert after[select] == {"p": "select"}  # removed, as the select it was
    (sensor,) = [cid for cid, c in after.items() if "profile" in cid and c["p"] == "sensor"]
    assert sensor != select and after[sensor]["name"] == "Active profile"


def test_the_example_card_shows_every_station_whatever_its_id(station_config, tmp_path):
    """config/home-assistant-card.yaml, rendered as Home Assistant renders a Markdown card
    (Jinja, with its `states` and its `match` test), over the entities discovery makes
    for two stations with ids the card has never seen: a row for every socket of each."""
    import re
    from pathlib import Path

    import jinja2
    import yaml

    from flashjig.mqtt.discovery import Topics, device_config

    entities: dict[str, str] = {}
    for station in ("bench-1", "line-7"):
        config = other_station(station_config, station, 1883, tmp_path)
        for c in device_config(config, Topics(config))["cmps"].values():
            entities[c["default_entity_id"]] = f"{c['name']} of {station}"

    class Entity:
        def __init__(self, entity_id: str) -> None:
            self.entity_id = entity_id

    class States:  # Home Assistant's `states`: called for a state, .sensor for the sensors
        sensor = [Entity(e) for e in entities if e.startswith("sensor.")]

        def __call__(self, entity_id: str) -> str:
            return entities.get(entity_id, "unknown")

    env = jinja2.Environment()
    env.tests["match"] = lambda value, pattern: re.match(pattern, value) is not None
    card = yaml.safe_load(
        (Path(__file__).parents[1] / "config" / "home-assistant-card.yaml").read_text()
    )
    shown = env.from_string(card["content"]).render(states=States())
    for station in ("bench_1", "line_7"):
        assert f"**{station}**: Flashed today of {station.replace('_', '-')} ok" in shown
        for socket in ("socket1", "socket5"):
            row = (
                f"| {socket} | {socket} state of {station.replace('_', '-')} | "
                f"{socket} progress of {station.replace('_', '-')} % |"
            )
            assert row in shown, shown
    assert "unknown" not in shown


def test_discovery_announced_at_the_old_topic_is_taken_back(mqtt_rig, recorder, tmp_path):
    """flashjig 0.1.0 announced at <prefix>/device/<uid>/config; the topic is now
    flashjig-<station id> (one ACL pattern serves every station). A station whose record
    says it announced there before clears the old retained config, or Home Assistant would
    see two devices with the same entities."""
    from flashjig.mqtt.reporter import DISCOVERY_FILE

    state = tmp_path / "state"
    state.mkdir()
    (state / DISCOVERY_FILE).write_text(json.dumps({"flashjig_bench_1_socket1_state": "sensor"}))
    recorder.publish("homeassistant/device/flashjig_bench_1/config", "{}", retain=True)
    _, _, _, reporter = mqtt_rig(state=state)
    assert reporter.topics.discovery == "homeassistant/device/flashjig-bench-1/config"
    recorder.wait(lambda: recorder.on(reporter.topics.discovery), what="discovery")
    assert recorder.last("homeassistant/device/flashjig_bench_1/config") == b""
    record = json.loads((state / DISCOVERY_FILE).read_text())
    assert record["topic"] == reporter.topics.discovery and record["components"]


def test_every_template_reads_a_field_its_topic_carries(mqtt_rig, recorder):
    """Each component's templates read value_json fields: every one of them is in what the
    station really publishes on that component's topic (socket state, station state, or
    the result event), so no entity shows 'unknown' for a misspelt or missing field."""
    import re

    from flashjig.mqtt.result import FIELDS

    station, hw, _, reporter = mqtt_rig(commands=True)
    topics = reporter.topics
    recorder.wait(lambda: recorder.on(topics.discovery), what="discovery")
    recorder.wait(lambda: recorder.on(topics.station), what="station state")
    cmps = json.loads(recorder.last(topics.discovery))["cmps"]
    carried = {
        topics.station: set(json.loads(recorder.last(topics.station))),
        topics.result: set(FIELDS),
        **{
            topics.socket(n): set(json.loads(recorder.last(topics.socket(n))))
            for n in station.sockets
        },
    }
    checked = 0
    for cid, c in cmps.items():
        for template in ("value_template", "json_attributes_template"):
            for field in re.findall(r"value_json\.(\w+)", c.get(template, "")):
                topic = c.get("json_attributes_topic", c["state_topic"])
                assert field in carried[topic], (cid, field)
                checked += 1
        for availability in c.get("availability", []):
            for field in re.findall(r"value_json\.(\w+)", availability.get("val_tpl", "")):
                assert field in carried[availability["t"]], (cid, field)
    assert checked > 30


def test_home_assistant_gets_categories_classes_and_events(station_config):
    from flashjig.mqtt.discovery import Topics, device_config

    config = mqtt_config(station_config.path, 1883, commands=True, area="Workshop")
    topics = Topics(config)
    payload = device_config(config, topics)
    cmps = payload["cmps"]

    def of(key):
        return cmps[f"{topics.uid}_{key}"]

    assert "state_class" not in of("socket1_progress")  # no long-term statistics
    assert of("socket1_last_result")["device_class"] == "enum"
    assert "ok" in of("socket1_last_result")["options"]
    assert of("socket1_last_duration")["device_class"] == "duration"
    assert of("socket1_inserted")["device_class"] == "plug"
    assert of("socket1_last_mac")["entity_category"] == "diagnostic"
    assert of("profile_select")["entity_category"] == "config"
    for key in ("broker", "journal", "backlog", "version", "cpu_temperature", "disk_free"):
        assert of(key)["entity_category"] == "diagnostic", key
    assert of("healthy")["device_class"] == "problem"
    events = {cid: c for cid, c in cmps.items() if c["p"] == "event"}
    assert len(events) == len(config.sockets) + 1  # one per socket, one for the station
    assert all(c["state_topic"] == topics.result for c in events.values())
    assert all(
        c["event_types"] == ["ok", "failed", "cancelled", "interrupted"] for c in events.values()
    )
    assert "value_json.socket == 'socket2'" in of("socket2_result")["value_template"]
    # A socket's flash button is there only when pressing it would flash something.
    button = of("socket1_flash")
    assert button["availability_mode"] == "all"
    assert [a["t"] for a in button["availability"]] == [
        topics.availability,
        topics.socket("socket1"),
    ]
    assert payload["dev"]["sa"] == "Workshop"
