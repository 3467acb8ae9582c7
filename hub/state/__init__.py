"""The hub's state: the only package with SQL.

:mod:`~hub.state.database` (the SQLite and PostgreSQL engines, the millisecond times),
:mod:`~hub.state.migrations` (the schema), and one owner module per table, the only code that
reads or writes it: ``messages`` in :mod:`~hub.state.seen`, ``expectations`` in
:mod:`~hub.state.ledger`, ``timeouts`` in :mod:`~hub.state.timeouts`, ``outbox`` in
:mod:`~hub.state.outbox`, ``audit_log`` and ``audit_head`` in :mod:`~hub.state.audit`,
``hub_health`` in :mod:`~hub.state.health`. :mod:`~hub.state.retention` owns no table; it purges
through the owners.
"""
