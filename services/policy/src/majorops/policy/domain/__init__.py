"""Policy's pure domain: incident facts, the After Action rules, business days and deadlines.

No I/O here: the handlers read stored events with
:class:`~majorops.policy.domain.facts.FactsAccumulator` (the shared read model of
:mod:`majorops.shared.incident` underneath), look repeats up in their fingerprint index with
:func:`~majorops.policy.domain.repeats.find_repeat_of`, and call
:func:`~majorops.policy.domain.decision.derive_decision`.
"""
