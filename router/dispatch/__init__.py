"""Sending a planned request: the attempt loop (tenacity, deadlines, cooldowns) and the
answers and stream sessions that turn what came back into the caller's result."""
