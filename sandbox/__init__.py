"""The sandbox: the one place that builds an isolated Maatwerk Hub environment on the real broker,
for the tests, the benchmarks and the demo alike.

- :mod:`sandbox.broker`: where the broker is, AMQP URLs, private vhosts and least-privilege users
  through the management API;
- :mod:`sandbox.keys`: participants' dev keys;
- :mod:`sandbox.participants`: keys, the registry with run-specific broker users, its file, the
  passwords;
- :mod:`sandbox.environment`: participants on a fresh vhost, and clean-up;
- :mod:`sandbox.processes`: hubs and adapters as child processes (log file, SIGTERM, kill);
- :mod:`sandbox.postgres`: fresh PostgreSQL databases, dropped afterwards;
- :mod:`sandbox.ports`: free TCP ports for listeners (never the default broker node's);
- :mod:`sandbox.nodes`, :mod:`sandbox.tls_node`: extra RabbitMQ nodes of our own (a cluster, an
  AMQPS-only node), imported by name, not from here.

The hub and the adapters never import it (import-linter contracts in ``pyproject.toml``).
"""

from sandbox.broker import Broker, BrokerAdminError, Permissions, with_user
from sandbox.environment import Sandbox, fresh_vhost, local_sandbox, open_sandbox
from sandbox.keys import dev_keys, private_key
from sandbox.participants import (
    Participants,
    fresh_passwords,
    load_passwords,
    run_registry,
    write_registry,
)
from sandbox.ports import free_port
from sandbox.postgres import Databases, PostgresUnavailable, fresh_database, pg_url
from sandbox.processes import (
    Child,
    adapter_command,
    child_env,
    hub_command,
    hub_env,
    spawn,
    stop_all,
)

__all__ = [
    "Broker",
    "BrokerAdminError",
    "Child",
    "Databases",
    "Participants",
    "Permissions",
    "PostgresUnavailable",
    "Sandbox",
    "adapter_command",
    "child_env",
    "dev_keys",
    "free_port",
    "fresh_database",
    "fresh_passwords",
    "fresh_vhost",
    "hub_command",
    "hub_env",
    "load_passwords",
    "local_sandbox",
    "open_sandbox",
    "pg_url",
    "private_key",
    "run_registry",
    "spawn",
    "stop_all",
    "with_user",
    "write_registry",
]
