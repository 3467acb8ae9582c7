"""Maatwerk Hub: routes signed, minimal case messages between municipalities, agencies and the
Landelijk Maatwerkloket over RabbitMQ."""

__version__ = "0.1.0"
