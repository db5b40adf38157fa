"""A router in a process of its own, driven over a pipe: for the multi-process tests."""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from typing import Any


def serve(config: dict[str, Any], pipe: Connection) -> None:
    """Build a Router from ``config`` and answer commands from ``pipe`` until ``close``."""
    from router import Router
    from router.errors import RouterError

    router = Router.from_config(config)
    router.models()
    pipe.send("ready")
    try:
        while True:
            command, *args = pipe.recv()
            if command == "close":
                break
            try:
                if command == "complete":
                    answer = router.complete(**args[0])
                    details = answer.usage.prompt_tokens_details
                    pipe.send(
                        {
                            "provider": answer.provider,
                            "content": answer.choices[0].message.content,
                            "cached": details.cached_tokens if details else 0,
                            "tried": [a.ref for a in answer.route.attempts],
                            "cost": str(answer.route.cost),
                        }
                    )
                elif command == "sync":
                    pipe.send(router.state.sync())
                elif command == "cooling":
                    pipe.send(router.cooldowns.cooling(args[0]))
                else:
                    pipe.send({"error": f"unknown command {command}"})
            except RouterError as exc:
                pipe.send({"error": type(exc).__name__})
    finally:
        router.close()
        pipe.send("closed")


class Fleet:
    """``n`` router processes (spawned: nothing inherited but the config)."""

    def __init__(self, config: dict[str, Any], n: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes = []
        for _ in range(n):
            ours, theirs = context.Pipe()
            process = context.Process(target=serve, args=(config, theirs), daemon=True)
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)
        for pipe in self.pipes:
            if not pipe.poll(60) or pipe.recv() != "ready":
                self.close()
                raise RuntimeError("a router process did not start")

    def ask(self, i: int, *command: Any) -> Any:
        self.pipes[i].send(command)
        if not self.pipes[i].poll(60):
            raise TimeoutError(f"router process {i} did not answer {command[0]}")
        return self.pipes[i].recv()

    def sync(self) -> None:
        for i in range(len(self.pipes)):
            assert self.ask(i, "sync") is True

    def close(self) -> None:
        for pipe, process in zip(self.pipes, self.processes, strict=True):
            if process.is_alive():
                try:
                    pipe.send(("close",))
                    pipe.poll(10)
                except (BrokenPipeError, EOFError, OSError):
                    pass
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join(5)

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
