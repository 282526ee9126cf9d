"""Callbacks: the outbox, signed delivery with retries, the SSRF guard, the worker process."""
