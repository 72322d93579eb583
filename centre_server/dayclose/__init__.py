"""Closing a day: the summary, the day closer and the outbox to headquarters."""
