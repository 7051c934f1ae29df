"""Operating taskq: dead letters, inspection."""
