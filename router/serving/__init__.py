"""The router over HTTP: httpx transports for OpenAI SDK clients, and ``router serve``."""
