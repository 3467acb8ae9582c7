"""Several broker addresses in one setting: ``AMQP_URL`` may list the nodes of a cluster.

``amqp://u:p@node1:5672/vh,amqp://u:p@node2:5672/vh`` (commas; whitespace ignored). A later URL
may leave out what the first already says: ``amqp://u:p@node1:5672/vh,node2:5672,node3`` takes the
scheme, user, password and vhost of the first. The hub and the SDK try the nodes in turn on
connect and on every reconnect.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from hub.contract.errors import ConfigError


def split_urls(value: str) -> list[str]:
    """The broker URLs in ``value``, in order; a bare ``host[:port]`` borrows from the first."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts:
        raise ConfigError("AMQP_URL is empty: give at least one amqp:// or amqps:// URL")
    first = urlsplit(parts[0])
    if first.scheme not in ("amqp", "amqps"):
        raise ConfigError(f"AMQP_URL: {redact(parts[0])!r} is not an amqp:// or amqps:// URL")
    urls = [parts[0]]
    for part in parts[1:]:
        if "://" in part:
            if urlsplit(part).scheme != first.scheme:
                raise ConfigError("AMQP_URL: every URL of the list uses the same scheme")
            urls.append(part)
            continue
        credentials = first.netloc.rpartition("@")[0]
        netloc = f"{credentials}@{part}" if credentials else part
        urls.append(urlunsplit((first.scheme, netloc, first.path, first.query, "")))
    return urls


def node_of(url: str) -> str:
    """``host:port`` of a broker URL: how logs, ``/readyz`` and metrics name the node."""
    parts = urlsplit(url)
    default = 5671 if parts.scheme == "amqps" else 5672
    return f"{parts.hostname or 'localhost'}:{parts.port or default}"


def redact(url: str) -> str:
    """``url`` without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":******@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
