"""Policy's pure domain: incident facts, the After Action rules, business days and deadlines.

No I/O here: the handlers fold stored events with :class:`~majorops.policy.domain.facts.FactsAccumulator`, look repeats up in
their fingerprint index with :func:`~majorops.policy.domain.repeats.find_repeat_of`, and call :func:`~majorops.policy.domain.decision.derive_decision`.
"""
