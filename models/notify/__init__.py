"""Telling people: the notification outbox, message texts and escort task notices."""
