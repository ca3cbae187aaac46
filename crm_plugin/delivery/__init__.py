"""Delivery: the outbox (which is also the message log), the worker that sends it, and rate limits."""
