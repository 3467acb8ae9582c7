"""The schema of the state store: versioned migrations, applied once, in order, in one transaction.

Each migration is recorded in ``schema_migrations``; replicas that start together serialise on it
(SQLite on its write lock, PostgreSQL on an advisory lock). The tables are read and written only
by their owner modules: ``messages`` by :mod:`hub.state.seen`, ``expectations`` by
:mod:`hub.state.ledger`, ``timeouts`` by :mod:`hub.state.timeouts`, ``outbox`` by
:mod:`hub.state.outbox`, ``audit_log`` and ``audit_head`` by :mod:`hub.state.audit`,
``hub_health`` by :mod:`hub.state.health`, ``hub_leases`` by :mod:`hub.state.leases`,
``audit_checkpoints`` by :mod:`hub.state.checkpoints`, ``config_versions`` and
``config_reload_requests`` (and the version columns of ``messages``) by
:mod:`hub.state.config_versions`, ``deviations`` by
:mod:`hub.state.deviations`, ``info_requests`` by :mod:`hub.state.information`,
``register_contacts`` by :mod:`hub.state.register_contacts`, ``escalations`` and
``escalation_events`` by :mod:`hub.state.escalations`, ``bridging`` by :mod:`hub.state.bridging`,
``trust_serials`` by :mod:`hub.state.trust_serials`.
"""

from __future__ import annotations

from hub.state.database import Database

_AUDIT_LOG_COLUMNS = """time BIGINT NOT NULL,
            event TEXT NOT NULL,
            message_id TEXT,
            message_type TEXT,
            sender TEXT,
            recipient TEXT,
            decision TEXT,
            reason TEXT,
            rule TEXT,
            policy_version TEXT,
            body_hash TEXT,
            case_id TEXT,
            trace_id TEXT NOT NULL,
            span_id TEXT NOT NULL,
            parent_span_id TEXT,
            status_code BIGINT NOT NULL,
            name TEXT NOT NULL,
            start_time BIGINT NOT NULL,
            end_time BIGINT NOT NULL,
            attributes TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL"""
"""The columns of audit_log after seq (the same in migrations 3 and 6)."""
_AUDIT_NAMES = "seq, " + ", ".join(c.split()[0] for c in _AUDIT_LOG_COLUMNS.split(",\n"))

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (1, "messages: one row per authenticated message id (dedupe and ledger)", [
        """CREATE TABLE IF NOT EXISTS messages (
            id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            sender TEXT NOT NULL,
            recipient TEXT NOT NULL,
            case_id TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            in_reply_to TEXT,
            status TEXT NOT NULL,
            reason TEXT,
            policy_version TEXT,
            rule TEXT,
            received_at BIGINT NOT NULL,
            decided_at BIGINT
        )""",
        "CREATE INDEX IF NOT EXISTS messages_case ON messages (case_id)",
        "CREATE INDEX IF NOT EXISTS messages_conversation ON messages (conversation_id)",
    ]),
    (2, "ledger: expectations (receipt, response), time-outs, outbox of hub messages", [
        """CREATE TABLE IF NOT EXISTS expectations (
            message_id TEXT NOT NULL,
            awaited TEXT NOT NULL,
            message_type TEXT NOT NULL,
            case_id TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            sender TEXT NOT NULL,
            recipient TEXT NOT NULL,
            routed_at BIGINT NOT NULL,
            deadline BIGINT NOT NULL,
            grace_ms BIGINT NOT NULL,
            fulfilled_at BIGINT,
            fulfilled_by TEXT,
            outcome TEXT,
            reminded_at BIGINT,
            escalated_at BIGINT,
            PRIMARY KEY (message_id, awaited)
        )""",
        "CREATE INDEX IF NOT EXISTS expectations_open ON expectations (fulfilled_at, deadline)",
        "CREATE INDEX IF NOT EXISTS expectations_case ON expectations (case_id)",
        """CREATE TABLE IF NOT EXISTS timeouts (
            request_id TEXT PRIMARY KEY,
            case_id TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            municipality TEXT NOT NULL,
            agency TEXT NOT NULL,
            state TEXT NOT NULL,
            outcome TEXT,
            requested_from TEXT NOT NULL,
            requested_months BIGINT NOT NULL,
            granted_months BIGINT NOT NULL DEFAULT 0,
            effective_from TEXT,
            effective_until TEXT,
            paused_scope TEXT,
            reason_code TEXT,
            extensions BIGINT NOT NULL DEFAULT 0,
            pending_extension_months BIGINT NOT NULL DEFAULT 0,
            ended_on TEXT,
            ended_by TEXT,
            updated_at BIGINT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS timeouts_case ON timeouts (case_id)",
        """CREATE TABLE IF NOT EXISTS outbox (
            id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            case_id TEXT NOT NULL,
            recipient TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            claimed_at BIGINT,
            claimed_by TEXT,
            sent_at BIGINT
        )""",
        "CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (sent_at, created_at)",
        "CREATE INDEX IF NOT EXISTS outbox_case ON outbox (case_id)",
    ]),
    (3, "audit: hash-chained audit trail of routing decisions and ledger events (hub.audit)", [
        f"""CREATE TABLE IF NOT EXISTS audit_log (
            seq BIGINT PRIMARY KEY,
            {_AUDIT_LOG_COLUMNS}
        )""",
        "CREATE INDEX IF NOT EXISTS audit_log_case ON audit_log (case_id)",
        """CREATE TABLE IF NOT EXISTS audit_head (
            id BIGINT PRIMARY KEY,
            seq BIGINT NOT NULL,
            hash TEXT NOT NULL
        )""",
    ]),
    (4, "hub_health: each replica's last write probe (readiness)", [
        "CREATE TABLE IF NOT EXISTS hub_health (replica TEXT PRIMARY KEY, "
        "checked_at BIGINT NOT NULL)",
    ]),
    (5, "messages.content_sha256: the canonical bytes' hash, to tell a copy from a reused id", [
        "ALTER TABLE messages ADD COLUMN content_sha256 TEXT",
    ]),
    (6, "hub_leases (which replica exports the database-wide gauges); audit_checkpoints "
        "(signed audit heads)", [
        "CREATE TABLE IF NOT EXISTS hub_leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, "
        "expires_at BIGINT NOT NULL)",
        """CREATE TABLE IF NOT EXISTS audit_checkpoints (
            seq BIGINT PRIMARY KEY,
            hash TEXT NOT NULL,
            time BIGINT NOT NULL,
            hub TEXT NOT NULL,
            kid TEXT NOT NULL,
            signature TEXT NOT NULL
        )""",
    ]),
    (7, "config_versions: committed configuration generations, reload requests, and "
        "the versions each decision used (messages)", [
        """CREATE TABLE IF NOT EXISTS config_versions (
            generation BIGINT PRIMARY KEY,
            hash TEXT NOT NULL,
            registry_version TEXT NOT NULL,
            policy_version TEXT NOT NULL,
            agreements_version TEXT NOT NULL,
            bundle TEXT NOT NULL,
            committed_at BIGINT NOT NULL,
            committed_by TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS config_reload_requests (
            id BIGINT PRIMARY KEY,
            requested_at BIGINT NOT NULL,
            requested_by TEXT NOT NULL
        )""",
        "ALTER TABLE messages ADD COLUMN config_generation BIGINT",
        "ALTER TABLE messages ADD COLUMN registry_version TEXT",
        "ALTER TABLE messages ADD COLUMN agreements_version TEXT",
    ]),
    (8, "instruments: deviations register, information requests, register contact overrides, "
        "agency-started time-out changes", [
        """CREATE TABLE IF NOT EXISTS deviations (
            message_id TEXT PRIMARY KEY,
            case_id TEXT NOT NULL,
            organisation TEXT NOT NULL,
            law TEXT NOT NULL,
            article TEXT NOT NULL,
            decision_code TEXT NOT NULL,
            decided_by_role TEXT NOT NULL,
            ground_law TEXT NOT NULL,
            ground_article TEXT NOT NULL,
            approval_reference TEXT,
            approved_on TEXT,
            period_from TEXT NOT NULL,
            period_until TEXT NOT NULL,
            amount_cents BIGINT,
            recorded_at BIGINT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS deviations_case ON deviations (case_id)",
        """CREATE TABLE IF NOT EXISTS info_requests (
            request_id TEXT PRIMARY KEY,
            case_id TEXT NOT NULL,
            asker TEXT NOT NULL,
            holder TEXT NOT NULL,
            purpose_code TEXT NOT NULL,
            rule TEXT NOT NULL,
            fields TEXT NOT NULL,
            state TEXT NOT NULL,
            answered_fields TEXT,
            refused_fields TEXT,
            refusal_reason TEXT,
            requested_at BIGINT NOT NULL,
            answered_at BIGINT
        )""",
        "CREATE INDEX IF NOT EXISTS info_requests_case ON info_requests (case_id)",
        """CREATE TABLE IF NOT EXISTS register_contacts (
            participant TEXT PRIMARY KEY,
            contact_point TEXT,
            email TEXT,
            phone TEXT,
            message_id TEXT NOT NULL,
            updated_at BIGINT NOT NULL
        )""",
        "ALTER TABLE timeouts ADD COLUMN agency_reason TEXT",
        "ALTER TABLE timeouts ADD COLUMN suspended_from TEXT",
    ]),
    (9, "audit: one chain per replica (chain, seq), so replicas append without a global lock", [
        # A table rebuild (SQLite cannot change a primary key): the old tables move aside, the
        # new ones take their names, the rows of the one old chain become chain '' (hashes
        # unchanged: a record of chain '' does not hash its chain), and the old tables go.
        "ALTER TABLE audit_log RENAME TO audit_log_v5",
        "ALTER TABLE audit_head RENAME TO audit_head_v5",
        "DROP INDEX IF EXISTS audit_log_case",
        f"""CREATE TABLE IF NOT EXISTS audit_log (
            chain TEXT NOT NULL,
            seq BIGINT NOT NULL,
            {_AUDIT_LOG_COLUMNS},
            PRIMARY KEY (chain, seq)
        )""",
        """CREATE TABLE IF NOT EXISTS audit_head (
            chain TEXT PRIMARY KEY,
            seq BIGINT NOT NULL,
            hash TEXT NOT NULL
        )""",
        f"INSERT INTO audit_log (chain, {_AUDIT_NAMES}) SELECT '', {_AUDIT_NAMES} "  # noqa: S608
        "FROM audit_log_v5",
        "INSERT INTO audit_head (chain, seq, hash) SELECT '', seq, hash FROM audit_head_v5",
        "DROP TABLE audit_log_v5",
        "DROP TABLE audit_head_v5",
        "CREATE INDEX IF NOT EXISTS audit_log_case ON audit_log (case_id)",
        "ALTER TABLE audit_checkpoints RENAME TO audit_checkpoints_v6",
        """CREATE TABLE IF NOT EXISTS audit_checkpoints (
            chain TEXT NOT NULL,
            seq BIGINT NOT NULL,
            hash TEXT NOT NULL,
            time BIGINT NOT NULL,
            hub TEXT NOT NULL,
            kid TEXT NOT NULL,
            signature TEXT NOT NULL,
            PRIMARY KEY (chain, seq)
        )""",
        "INSERT INTO audit_checkpoints (chain, seq, hash, time, hub, kid, signature) "
        "SELECT '', seq, hash, time, hub, kid, signature FROM audit_checkpoints_v6",
        "DROP TABLE audit_checkpoints_v6",
    ]),
    (10, "escalations as tracked cases with step deadlines; the overbrugging ledger", [
        """CREATE TABLE IF NOT EXISTS escalations (
            escalation_id TEXT PRIMARY KEY,
            case_id TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            escalated_by TEXT NOT NULL,
            loket TEXT NOT NULL,
            loket_reference TEXT,
            state TEXT NOT NULL,
            step_party TEXT,
            step_message TEXT,
            step_deadline BIGINT,
            grace_ms BIGINT NOT NULL DEFAULT 0,
            reminded_at BIGINT,
            overdue_at BIGINT,
            referral_id TEXT,
            let_decision TEXT,
            responsible_party TEXT,
            submitted_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS escalations_case ON escalations (case_id)",
        "CREATE INDEX IF NOT EXISTS escalations_step ON escalations (step_deadline)",
        """CREATE TABLE IF NOT EXISTS escalation_events (
            escalation_id TEXT NOT NULL,
            state TEXT NOT NULL,
            at BIGINT NOT NULL,
            PRIMARY KEY (escalation_id, state, at)
        )""",
        """CREATE TABLE IF NOT EXISTS bridging (
            decision_id TEXT PRIMARY KEY,
            case_id TEXT NOT NULL,
            escalation_id TEXT,
            loket TEXT NOT NULL,
            beneficiary TEXT NOT NULL,
            loket_reference TEXT NOT NULL,
            kind TEXT NOT NULL,
            amount_cents BIGINT NOT NULL,
            creditor_kind TEXT NOT NULL,
            responsible_party TEXT,
            state TEXT NOT NULL,
            settlement_id TEXT,
            conversation_id TEXT,
            due_on TEXT,
            requested_cents BIGINT NOT NULL DEFAULT 0,
            repaid_cents BIGINT NOT NULL DEFAULT 0,
            repaid_on TEXT,
            decided_at BIGINT NOT NULL,
            reminded_at BIGINT,
            overdue_at BIGINT,
            repaid_at BIGINT,
            updated_at BIGINT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS bridging_case ON bridging (case_id)",
    ]),
    (11, "trust_serials: each trust document serial a replica claimed (broadcast once)", [
        """CREATE TABLE IF NOT EXISTS trust_serials (
            serial BIGINT PRIMARY KEY,
            sha256 TEXT NOT NULL,
            registry_version TEXT NOT NULL,
            policy_version TEXT NOT NULL,
            agreements_version TEXT NOT NULL,
            recipients BIGINT NOT NULL,
            claimed_by TEXT NOT NULL,
            claimed_at BIGINT NOT NULL
        )""",
    ]),
]


async def migrate(db: Database) -> int:
    """Apply pending migrations in one transaction; return the schema version now in force.

    Replicas that start together serialise: SQLite on its write lock, PostgreSQL on an advisory
    lock taken first in the transaction.
    """
    async with db.transaction() as tx:
        await tx.lock_for_migration()
        await tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version BIGINT PRIMARY KEY, description TEXT NOT NULL)"
        )
        for version, description, statements in MIGRATIONS:
            claimed = await tx.execute(
                "INSERT INTO schema_migrations (version, description) VALUES ($1, $2) "
                "ON CONFLICT (version) DO NOTHING",
                version,
                description,
            )
            for statement in statements if claimed else []:
                await tx.execute(statement)
    row = await db.fetchone("SELECT MAX(version) AS v FROM schema_migrations")
    return int(row["v"]) if row and row["v"] is not None else 0
