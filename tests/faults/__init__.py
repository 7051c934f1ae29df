"""Real-fault tests: worker subprocesses killed, paused, signalled; servers restarted."""
