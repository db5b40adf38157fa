"""Router processes driven over pipes, for the benchmarks that need a fleet
(``cache_trace.py --processes N``, ``propagation.py``) and the multi-process tests
(``tests/state/test_fleet.py`` imports it as ``bench.fleet``).

Each worker is a spawned process (nothing inherited but its config) holding one Router
whose clock the driver sets, so that a replayed trace's idle gaps are the same in every
process. With ``state: redis`` a worker makes the fleet's writes visible before and after
each request (``router.state.sync()``): the trace's turns are seconds apart in real life,
far longer than pub/sub takes; the propagation benchmark measures that delay instead.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from multiprocessing.connection import Connection
from typing import Any


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def serve(config: dict[str, Any], fake_clock: bool, pipe: Connection) -> None:
    from router import Router
    from router.errors import RouterError

    clock = Clock()
    router = Router.from_config(config, timer=clock) if fake_clock else Router.from_config(config)
    router.models()
    pipe.send("ready")
    try:
        while True:
            command, *args = pipe.recv()
            if command == "close":
                break
            try:
                if command == "complete":
                    request, now, sync = args
                    clock.now = now
                    if sync:
                        router.state.sync()
                    answer = router.complete(**request)
                    if sync:
                        router.state.sync()
                    details = answer.usage.prompt_tokens_details
                    pipe.send(
                        {
                            "provider": answer.provider,
                            "chosen": answer.route.chosen,
                            "cost": str(answer.route.cost),
                            "content": answer.choices[0].message.content,
                            "cached": details.cached_tokens if details else 0,
                            "tried": [a.ref for a in answer.route.attempts],
                            "done_at": time.time(),
                        }
                    )
                elif command == "wait_cooling":
                    ref, timeout = args
                    deadline = time.monotonic() + timeout
                    while router.cooldowns.cooling(ref) is None and time.monotonic() < deadline:
                        time.sleep(0.0002)
                    seen = router.cooldowns.cooling(ref) is not None
                    pipe.send({"seen": seen, "at": time.time()})
                elif command == "sync":
                    pipe.send(router.state.sync())
                else:
                    pipe.send({"error": f"unknown command {command}"})
            except RouterError as exc:
                pipe.send({"error": type(exc).__name__})
    finally:
        router.close()


class Fleet:
    """``n`` router processes over one config (spawned: nothing inherited but the config).

    ``fake_clock``: each router's clock is the ``now`` its driver sends with a request;
    otherwise the real one.
    """

    def __init__(self, config: dict[str, Any], n: int, *, fake_clock: bool = True) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes: list[Any] = []
        for _ in range(n):
            ours, theirs = context.Pipe()
            process = context.Process(target=serve, args=(config, fake_clock, theirs), daemon=True)
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)
        for pipe in self.pipes:
            if not pipe.poll(120) or pipe.recv() != "ready":
                self.close()
                raise RuntimeError("a router process did not start")

    def ask(self, i: int, *command: Any) -> Any:
        self.pipes[i].send(command)
        if not self.pipes[i].poll(120):
            raise TimeoutError(f"router process {i} did not answer {command[0]}")
        answer = self.pipes[i].recv()
        if isinstance(answer, dict) and "error" in answer:
            raise RuntimeError(f"router process {i}: {answer['error']}")
        return answer

    def complete(
        self, i: int, request: dict[str, Any], *, now: float = 0.0, sync: bool = False
    ) -> dict[str, Any]:
        """Process ``i`` answers ``request`` (at ``now`` on a fake clock; with ``sync``,
        between the fleet's writes made visible before and after)."""
        answer: dict[str, Any] = self.ask(i, "complete", request, now, sync)
        return answer

    def sync(self) -> None:
        """Every process makes its writes visible to the fleet and reads the fleet's."""
        for i in range(len(self.pipes)):
            if self.ask(i, "sync") is not True:
                raise RuntimeError(f"router process {i} did not sync")

    def close(self) -> None:
        for pipe, process in zip(self.pipes, self.processes, strict=True):
            if process.is_alive():
                with contextlib.suppress(OSError):
                    pipe.send(("close",))
            process.join(15)
            if process.is_alive():
                process.kill()
                process.join(5)

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
