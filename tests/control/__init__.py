"""Real-process tests of time and control: periodic jobs, cancel, expiry, unique and
idempotent jobs, retry filters, hooks."""
