"""Tests of the coordinators' console and the managers' view."""
