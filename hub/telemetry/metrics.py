"""Prometheus metrics of one hub process, in a registry of its own (no module-level globals).

Labels carry codes, types and participant ids only: never a BSN, case id or other personal data.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class HubMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter("maatwerk_messages_received", "Inbound messages taken from the "
                                "hub queue", registry=r)
        self.routed = Counter("maatwerk_messages_routed", "Messages routed to an inbox",
                              ["type", "recipient"], registry=r)
        self.refused = Counter("maatwerk_messages_refused", "Messages refused, by reason code",
                               ["reason"], registry=r)
        self.duplicates = Counter("maatwerk_messages_duplicate", "Message ids seen before, "
                                  "answered with the original outcome", registry=r)
        self.retries = Counter("maatwerk_pipeline_retries", "Processing retried because the "
                               "state store or broker was unavailable", registry=r)
        self.latency = Histogram("maatwerk_pipeline_seconds", "Time from taking a message to "
                                 "acknowledging it", buckets=LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("maatwerk_messages_in_flight", "Messages being processed now",
                               registry=r)
        self.answer_latency = Histogram(
            "maatwerk_answer_seconds", "Time from routing a message to its receipt or business "
            "response, per answering participant", ["awaited", "participant"],
            buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 86400, 2 * 86400, 7 * 86400),
            registry=r)
        self.overdue = Gauge("maatwerk_overdue", "Answers escalated to the Maatwerkloket and "
                             "still missing, per late participant", ["participant"], registry=r)
        self.late = Gauge("maatwerk_late", "Answers past their deadline, per late participant",
                          ["participant"], registry=r)
        self.active_timeouts = Gauge("maatwerk_timeouts_active", "Running time-outs per agency",
                                     ["agency"], registry=r)
        self.hub_messages = Counter("maatwerk_hub_messages_sent", "Messages the hub sent on its "
                                    "own (reminders, overdue, time-out ends)", ["type"],
                                    registry=r)
        self.key_expiry_days = Gauge("maatwerk_key_expiry_days", "Days until a published, "
                                     "unrevoked participant key expires",
                                     ["participant", "kid"], registry=r)
        self.config_reload_failures = Counter(
            "maatwerk_config_reload_failures", "Reloads of the registry, keys, policy or "
            "agreements refused because a file did not validate (the old version stays)",
            registry=r)
        self.config_version_info = Gauge(
            "maatwerk_config_version_info", "1 for the version of each configuration part this "
            "replica decides under (kind: registry, policy, agreements, generation)",
            ["kind", "version"], registry=r)
        self.ready = Gauge("maatwerk_ready", "1 when the broker, topology and state store are up",
                           registry=r)
        self.check = Gauge("maatwerk_check", "1 when a deep readiness check passes (registry, "
                           "policy, signing, state, audit)", ["check"], registry=r)
        self.gauges_leader = Gauge(
            "maatwerk_gauges_leader", "1 on the one replica that exports the database-wide "
            "gauges (maatwerk_overdue, maatwerk_late, maatwerk_timeouts_active)", registry=r)
        self.broker_node = Gauge("maatwerk_broker_node_info", "1 for the broker node this "
                                 "replica is connected to (none while reconnecting)", ["node"],
                                 registry=r)
        self.state_timeouts = Counter("maatwerk_state_timeouts", "State store waits that timed "
                                      "out, by kind (statement, lock, pool, busy)", ["kind"],
                                      registry=r)
        self.redeliveries_finished = Counter(
            "maatwerk_redeliveries_finished", "Redeliveries of messages already decided (the ack "
            "was lost), acknowledged without any message", registry=r)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
