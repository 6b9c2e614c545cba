"""Orchestration: Prefect flows and tasks, the simulator, the CLI. Imports config, models, maps."""

from flows.service.runtime import prepare_environment

prepare_environment()
