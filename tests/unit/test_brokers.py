"""AMQP_URL as a list of broker nodes (hub.contract.brokers)."""

from __future__ import annotations

import pytest

from hub.contract.brokers import node_of, redact, split_urls
from hub.contract.errors import ConfigError


def test_one_url_is_a_list_of_one() -> None:
    assert split_urls("amqp://u:p@h:5672/v") == ["amqp://u:p@h:5672/v"]


def test_later_hosts_borrow_scheme_credentials_and_vhost_of_the_first() -> None:
    urls = split_urls("amqp://u:p@n1:5672/vh%2Fx, n2:5673 ,amqp://w:q@n3/other")
    assert urls == ["amqp://u:p@n1:5672/vh%2Fx", "amqp://u:p@n2:5673/vh%2Fx",
                    "amqp://w:q@n3/other"]
    assert [node_of(u) for u in urls] == ["n1:5672", "n2:5673", "n3:5672"]
    assert node_of("amqps://x@h/") == "h:5671"


@pytest.mark.parametrize("value", ["", " , ", "http://h/", "amqp://h/,amqps://g/"])
def test_bad_lists_are_refused_with_a_reason(value: str) -> None:
    with pytest.raises(ConfigError, match="AMQP_URL"):
        split_urls(value)


def test_redact_hides_the_password() -> None:
    assert redact("amqp://u:secret@h:1/v") == "amqp://u:******@h:1/v"
    assert redact("amqp://h/") == "amqp://h/"
