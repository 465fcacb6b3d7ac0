"""Home Assistant discovery on a real mosquitto: sent again on Home Assistant's birth,
sockets taken out of the config removed, two stations on one broker kept apart."""

import dataclasses
import json

import pytest
from helpers import flash_sockets, mqtt_config

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
    import time

    _, _, _, reporter = mqtt_rig()
    topic = reporter.topics.discovery
    recorder.wait(lambda: len(recorder.on(topic)) == 1, what="first discovery")
    for _ in range(20):
        recorder.publish(reporter.topics.birth, "online")
    recorder.wait(lambda: len(recorder.on(topic)) == 2, timeout=10, what="discovery again")
    time.sleep(2.5)  # past the longest spread (BIRTH_DELAY_S): nothing more comes
    assert len(recorder.on(topic)) == 2


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
    assert all(len(c) > 1 for cid, c in cmps.items() if "socket1" in cid)


def test_two_stations_on_one_broker_stay_apart(
    mqtt_rig, recorder, station_config, broker, tmp_path
):
    first = mqtt_config(station_config.path, broker.port)
    second_path = tmp_path / "second.yaml"
    second_path.write_text(station_config.path.read_text().replace("id: bench-1", "id: bench-2"))
    second = mqtt_config(second_path, broker.port)
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


def test_the_example_card_names_entities_that_discovery_makes(station_config):
    """config/home-assistant-card.yaml, for the sample station with commands on: every
    entity it shows is one that discovery announces (the ids Home Assistant gives them)."""
    import re
    from pathlib import Path

    from flashjig.mqtt.discovery import Topics, device_config

    config = mqtt_config(station_config.path, 1883, commands=True)
    cmps = device_config(config, Topics(config))["cmps"].values()
    announced = {c["default_entity_id"] for c in cmps}
    card = (Path(__file__).parents[1] / "config" / "home-assistant-card.yaml").read_text()
    shown = set(re.findall(r"entity: ([a-z_]+\.[a-z0-9_]+)", card))
    assert shown and shown <= announced, shown - announced


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
