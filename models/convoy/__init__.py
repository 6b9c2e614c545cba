"""Convoys, passengers and custody: tables, stages, screening, check-ins and the store."""
