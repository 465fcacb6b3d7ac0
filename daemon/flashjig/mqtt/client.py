"""A paho-mqtt 2.x client for the broker a config's mqtt section names: its account (the
password read from its file) and its TLS, one way for the reporter and the fleet viewer."""

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from flashjig.config import MqttConfig
from flashjig.config.passwords import read_password


def client_for(settings: MqttConfig, client_id: str, *, persistent: bool = False) -> mqtt.Client:
    """``persistent``: a session the broker keeps while we are away (QoS 1 messages for
    our subscriptions wait for us), under a client id that must stay the same.
    PasswordError for a password file it cannot use."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=not persistent
    )
    if settings.username:
        password = None
        if settings.password_file:
            password = read_password(settings.password_file)
        client.username_pw_set(settings.username, password)
    if settings.tls is not None:
        tls = settings.tls
        client.tls_set(
            ca_certs=str(tls.ca_file) if tls.ca_file else None,
            certfile=str(tls.cert_file) if tls.cert_file else None,
            keyfile=str(tls.key_file) if tls.key_file else None,
        )
        client.tls_insecure_set(tls.insecure)
    return client
