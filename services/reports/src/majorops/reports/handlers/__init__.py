"""Reports use cases: record what the streams deliver, keep each review materialised, act on
requests.

- :mod:`~majorops.reports.handlers.consume`: an event, decision or escalation is stored, then its
  incident is marked changed (:func:`~majorops.reports.handlers.consume.record`, one path for the
  three streams);
- :mod:`~majorops.reports.handlers.materialise`: marked reviews are re-assembled in the background
  and before they are read; lists page through the materialised reviews;
- :mod:`~majorops.reports.handlers.narrative`: narrative edits (ETag and compare-and-set);
- :mod:`~majorops.reports.handlers.action_items` and :mod:`~majorops.reports.handlers.publication`:
  action items and publication, each an event :mod:`~majorops.reports.handlers.emit` publishes to
  JetStream, then records here at once.
"""
