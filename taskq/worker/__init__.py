"""The worker: supervisor -> child processes -> runner loop -> store."""
