"""Outbox, inbox, durable consumers and request/reply over NATS JetStream."""
