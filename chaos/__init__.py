"""The reliability campaign (``make chaos``, ``python -m chaos --seed N [--short]``).

A 3-node nats-server cluster, two replicas of each service, a seeded workload posted over HTTP and
NATS while a seeded fault driver kills, pauses and restarts processes and locks a store; then the
system is healed and drained, and every promise of RELIABILITY.md is checked against what the
streams and the reviews hold, with the expected decisions and escalations computed by the services'
own pure domain. See RELIABILITY.md for the promises, how each is tested, and the figures.
"""
