"""What crosses the wire: OpenAI chat and Anthropic Messages codecs, SSE, the aiohttp pool,
safe JSON and ``Retry-After``. Pure translation; no routing decisions."""
