"""Sandboxes for tests: extra RabbitMQ nodes on this machine."""
