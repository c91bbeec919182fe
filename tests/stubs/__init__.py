"""Local stand-ins for services deecho talks to over the internet (loopback only)."""
