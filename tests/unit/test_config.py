"""FIRMTEXT_* as operators write them: read by pydantic-settings (firmtext/config.py)."""
import pytest

from firmtext.config import Settings

DEV = {"FIRMTEXT_ENV": "development"}


def test_unset_and_empty_variables_take_the_defaults_and_derived_values_follow_their_sources():
    s = Settings.from_env({**DEV, "FIRMTEXT_HTTP_PORT": "8123", "FIRMTEXT_KAFKA_BROKERS": "3",
                           "FIRMTEXT_DATABASE_URL": "", "FIRMTEXT_LOG_LEVEL": "DEBUG"})
    assert s.public_url == "http://127.0.0.1:8123"
    assert s.topic_replication == 3 and s.kafka_brokers == 3
    assert s.database_url is None and s.log_level == "debug" and s.environment == "development"
    assert Settings.from_env({**DEV, "FIRMTEXT_TOPIC_REPLICATION": "1", "FIRMTEXT_KAFKA_BROKERS": "3"}).topic_replication == 1


def test_a_child_process_reads_back_exactly_the_settings_it_was_handed():
    s = Settings.from_env({**DEV, "FIRMTEXT_CARRIER_RATE": "50", "FIRMTEXT_WORKERS": "2",
                           "FIRMTEXT_STATUS_FOLLOW_UP_SECONDS": "2.5", "FIRMTEXT_MEDIA_DIR": "/tmp/m"})
    assert Settings.from_env(s.as_env()) == s
    assert s.carrier_rate_per_second == 50.0 and s.status_follow_up_seconds == 2.5


@pytest.mark.parametrize("name, value", [("FIRMTEXT_HTTP_PORT", "abc"), ("FIRMTEXT_HTTP_PORT", "70000"),
                                         ("FIRMTEXT_WORKERS", "0"), ("FIRMTEXT_CARRIER_RATE", "-1"),
                                         ("FIRMTEXT_TOPIC_PARTITIONS", "1.5")])
def test_a_wrong_value_is_refused_naming_the_variable_and_what_it_was(name, value):
    with pytest.raises(ValueError) as refused:
        Settings.from_env({**DEV, name: value})
    assert str(refused.value).startswith("Refusing to start: ") and f"{name}={value!r}" in str(refused.value)
