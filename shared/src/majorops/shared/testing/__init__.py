"""What the services' tests against a real nats-server share: settings, envelopes, publishing as the
producers do, reading streams back, polling with a deadline, and cleaning up after a test.

Every test of a session shares one nats-server, its streams and the services' durable consumers, so
a test publishes under its own incident ids, reads back only those, and leaves nothing behind that a
later test's runtime would consume as a backlog (:func:`purge_incidents`). Nothing here imports
pytest: the fixtures built on it are in the repository's root ``conftest.py``.

By subject: :mod:`~majorops.shared.testing.configuration` (settings, tokens),
:mod:`~majorops.shared.testing.envelopes` and :mod:`~majorops.shared.testing.examples` (events,
the contract's examples), :mod:`~majorops.shared.testing.hostile` (hostile input: hypothesis
strategies, mutations, damaged bodies, the named cases), :mod:`~majorops.shared.testing.stores` (fakes of the ports),
:mod:`~majorops.shared.testing.streams` (JetStream), :mod:`~majorops.shared.testing.observing`
(HTTP, metrics, traces), :mod:`~majorops.shared.testing.processes` (time, processes) and
:mod:`~majorops.shared.testing.nats_users` (connecting as one NATS user).

This package is the test kit's API, and its one way in: a test imports every name from
``majorops.shared.testing``, never from a submodule (the submodules are how the kit is laid out,
not what a test depends on). That is why the names below are re-exported here and nowhere else:
outside the packages ``majorops.shared.testing`` and ``majorops.shared.events`` no module
re-exports a name (``tests/test_code_shape.py``).
"""

from majorops.shared.testing.configuration import CONSUMER_SETTINGS as CONSUMER_SETTINGS
from majorops.shared.testing.configuration import DEADLINE_SECONDS as DEADLINE_SECONDS
from majorops.shared.testing.configuration import DEFAULT_STREAM_ROOTS as DEFAULT_STREAM_ROOTS
from majorops.shared.testing.configuration import INGEST_TOKEN as INGEST_TOKEN
from majorops.shared.testing.configuration import PROBE_SETTINGS as PROBE_SETTINGS
from majorops.shared.testing.configuration import READ_TOKEN as READ_TOKEN
from majorops.shared.testing.configuration import TOKEN_SETTINGS as TOKEN_SETTINGS
from majorops.shared.testing.configuration import WRITE_TOKEN as WRITE_TOKEN
from majorops.shared.testing.configuration import SettingsT as SettingsT
from majorops.shared.testing.configuration import bearer as bearer
from majorops.shared.testing.configuration import settings_env as settings_env
from majorops.shared.testing.configuration import settings_for as settings_for
from majorops.shared.testing.configuration import unused_port as unused_port
from majorops.shared.testing.envelopes import EXAMPLE_START as EXAMPLE_START
from majorops.shared.testing.envelopes import EventTime as EventTime
from majorops.shared.testing.envelopes import IncidentEvents as IncidentEvents
from majorops.shared.testing.envelopes import declared_envelope as declared_envelope
from majorops.shared.testing.envelopes import event_envelope as event_envelope
from majorops.shared.testing.envelopes import event_kinds_and_data as event_kinds_and_data
from majorops.shared.testing.envelopes import event_type as event_type
from majorops.shared.testing.envelopes import iso as iso
from majorops.shared.testing.envelopes import step_envelope as step_envelope
from majorops.shared.testing.envelopes import unique_event_id as unique_event_id
from majorops.shared.testing.examples import DAY as DAY
from majorops.shared.testing.examples import EXAMPLE_ACTION_ITEM as EXAMPLE_ACTION_ITEM
from majorops.shared.testing.examples import EXAMPLE_CLOSE as EXAMPLE_CLOSE
from majorops.shared.testing.examples import EXAMPLE_INCIDENT as EXAMPLE_INCIDENT
from majorops.shared.testing.examples import HOUR as HOUR
from majorops.shared.testing.examples import LEARNING_REVIEW_KEYS as LEARNING_REVIEW_KEYS
from majorops.shared.testing.examples import contract_decision as contract_decision
from majorops.shared.testing.examples import contract_example_escalation as contract_example_escalation
from majorops.shared.testing.examples import contract_example_events as contract_example_events
from majorops.shared.testing.examples import contract_example_published as contract_example_published
from majorops.shared.testing.examples import mandatory_decision as mandatory_decision
from majorops.shared.testing.examples import with_deadlines as with_deadlines
from majorops.shared.testing.hostile import ALERT_YEARS_ERRORS as ALERT_YEARS_ERRORS
from majorops.shared.testing.hostile import BAD_DUES as BAD_DUES
from majorops.shared.testing.hostile import BAD_IDS as BAD_IDS
from majorops.shared.testing.hostile import BAD_SUBJECTS as BAD_SUBJECTS
from majorops.shared.testing.hostile import BAD_TIMES as BAD_TIMES
from majorops.shared.testing.hostile import BYTE_DAMAGE as BYTE_DAMAGE
from majorops.shared.testing.hostile import DUPLICATE_KEYS as DUPLICATE_KEYS
from majorops.shared.testing.hostile import FUZZ as FUZZ
from majorops.shared.testing.hostile import GOOD_ID_TAILS as GOOD_ID_TAILS
from majorops.shared.testing.hostile import JSON_VALUES as JSON_VALUES
from majorops.shared.testing.hostile import NOT_JSON_BODIES as NOT_JSON_BODIES
from majorops.shared.testing.hostile import STORE_KEY_DATA as STORE_KEY_DATA
from majorops.shared.testing.hostile import TOO_DEEP_BODIES as TOO_DEEP_BODIES
from majorops.shared.testing.hostile import alert_years_payload as alert_years_payload
from majorops.shared.testing.hostile import am_alert as am_alert
from majorops.shared.testing.hostile import am_payload as am_payload
from majorops.shared.testing.hostile import damaged as damaged
from majorops.shared.testing.hostile import due_batch as due_batch
from majorops.shared.testing.hostile import dumps as dumps
from majorops.shared.testing.hostile import envelopes as envelopes
from majorops.shared.testing.hostile import fields_of as fields_of
from majorops.shared.testing.hostile import mutate as mutate
from majorops.shared.testing.hostile import mutations as mutations
from majorops.shared.testing.hostile import place as place
from majorops.shared.testing.hostile import timed_batch as timed_batch
from majorops.shared.testing.nats_users import REFUSED_WITHIN as REFUSED_WITHIN
from majorops.shared.testing.nats_users import UserConnection as UserConnection
from majorops.shared.testing.nats_users import connect_as as connect_as
from majorops.shared.testing.observing import http_get as http_get
from majorops.shared.testing.observing import metric as metric
from majorops.shared.testing.observing import problem_of as problem_of
from majorops.shared.testing.observing import recorded_spans as recorded_spans
from majorops.shared.testing.observing import scrape as scrape
from majorops.shared.testing.processes import Runtime as Runtime
from majorops.shared.testing.processes import ServiceProcess as ServiceProcess
from majorops.shared.testing.processes import eventually as eventually
from majorops.shared.testing.processes import http_ready as http_ready
from majorops.shared.testing.processes import processes_of as processes_of
from majorops.shared.testing.processes import running as running
from majorops.shared.testing.processes import service_process as service_process
from majorops.shared.testing.processes import up_command as up_command
from majorops.shared.testing.stores import EventStore as EventStore
from majorops.shared.testing.stores import InMemoryEventLog as InMemoryEventLog
from majorops.shared.testing.stores import store_places as store_places
from majorops.shared.testing.stores import stored_event_ids as stored_event_ids
from majorops.shared.testing.stores import stored_note as stored_note
from majorops.shared.testing.streams import connected_jetstream as connected_jetstream
from majorops.shared.testing.streams import consumed_messages as consumed_messages
from majorops.shared.testing.streams import consumers_settled as consumers_settled
from majorops.shared.testing.streams import dead_letters as dead_letters
from majorops.shared.testing.streams import msg_id_of as msg_id_of
from majorops.shared.testing.streams import publish_decision as publish_decision
from majorops.shared.testing.streams import publish_event as publish_event
from majorops.shared.testing.streams import published_events as published_events
from majorops.shared.testing.streams import purge_incidents as purge_incidents
from majorops.shared.testing.streams import service_durables as service_durables
from majorops.shared.testing.streams import stored_messages as stored_messages
