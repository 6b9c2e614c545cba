"""Delay alerts: tables, pure detection, notification texts, lifecycle, the monitor's check."""
