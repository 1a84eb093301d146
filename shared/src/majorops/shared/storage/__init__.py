"""Store adapters every service builds on: an idempotent incident event log in SQLite or MongoDB.

Each service keeps its own store (its own SQLite file, or its own MongoDB database) and adds its
own tables or collections next to the event log.
"""
