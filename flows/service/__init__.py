"""The long-running service: the monitor job, the notification sender and the scheduler runtime."""
