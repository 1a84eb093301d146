"""MajorOps After Action shared contract: events, subjects, payloads, and runtime helpers."""
