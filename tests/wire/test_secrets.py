"""No secret is ever shown: a session with known API keys and a Cashu token, through config
errors, catalog errors, provider errors, retries, debug logging and every CLI command.

Everything the session shows is collected by a :class:`Witness` (exception text with its
whole chain and route, reprs, log records with their arguments, CLI stdout and stderr) and
searched for every configured secret. The secrets are the simulator's ``API_KEYS``; the
Routstr one is a Cashu token.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest
import yaml

from router import Router
from router.cli import main
from router.errors import ConfigError, RouterError
from router.testing.simulator import API_KEYS, Reply, Simulator
from router.types import ChatRequest
from tests.wire.conftest import HELLO, KINDS

pytestmark = pytest.mark.wire

ENV = {
    "pinstripes": "PINSTRIPES_API_KEY",
    "pipellm": "PIPELLM_API_KEY",
    "inference-api": "MAJESTIX_API_KEY",
    "routstr": "ROUTSTR_CASHU_TOKEN",
    "openrouter": "OPENROUTER_API_KEY",
    "openai": "LOCAL_API_KEY",
}
SECRETS = dict(API_KEYS)
assert SECRETS["routstr"].startswith("cashuA")  # a Cashu token: money, not just a key

# One deployment per wire family: OpenAI chat (pinstripes, and routstr with its Cashu
# token), Anthropic Messages (PipeLLM), Majestix events (inference-api).
FAMILIES = {
    "pinstripes": "pinstripes:ps/deepseek-v4-flash",
    "routstr": "routstr:deepseek/deepseek-v4-flash",
    "pipellm": "pipellm:claude-sonnet-4-6",
    "inference-api": "inference-api:gpt-5-mini",
}
LOGGERS = ("router", "httpx", "httpcore")


class Witness:
    """Everything a user could be shown; :meth:`leaks` names what shows a secret."""

    def __init__(self, secrets: dict[str, str] | None = None) -> None:
        self.secrets = SECRETS if secrets is None else secrets
        self.seen: list[tuple[str, str]] = []

    def text(self, where: str, text: object) -> None:
        self.seen.append((where, str(text)))

    def obj(self, where: str, value: object) -> None:
        self.text(f"{where} str", value)
        self.text(f"{where} repr", repr(value))

    def error(self, where: str, exc: BaseException) -> None:
        self.obj(where, exc)
        self.text(f"{where} traceback", "".join(traceback.format_exception(exc)))
        for name in ("message", "code", "problem", "received", "key_path", "excluded"):
            if getattr(exc, name, None) is not None:
                self.text(f"{where}.{name}", getattr(exc, name))
        for attempt in getattr(exc, "attempts", ()):
            self.obj(f"{where} attempt", attempt)
        route = getattr(exc, "route", None)
        if route is not None:
            self.route(f"{where}.route", route)
        if isinstance(getattr(exc, "cause", None), BaseException):
            self.error(f"{where}.cause", exc.cause)  # type: ignore[attr-defined]

    def route(self, where: str, route: Any) -> None:
        self.obj(where, route)
        self.text(f"{where} json", json.dumps(route.to_dict(), default=str))
        for attempt in route.attempts:
            self.obj(f"{where} attempt", attempt)

    def records(self, where: str, records: list[logging.LogRecord]) -> None:
        for record in records:
            at = f"{where} log {record.name}:{record.levelname}"
            self.text(f"{at} message", record.getMessage())
            args = record.args
            values = args.values() if isinstance(args, dict) else args or ()
            for arg in values:
                self.obj(f"{at} arg", arg)
            if record.exc_info and record.exc_info[1] is not None:
                self.error(f"{at} exc_info", record.exc_info[1])

    def leaks(self) -> list[str]:
        found = []
        for where, text in self.seen:
            for kind, secret in self.secrets.items():
                at = text.find(secret)
                if at >= 0:
                    context = text[max(0, at - 160) : at + len(secret) + 20]
                    found.append(f"{where}: shows the {kind} secret: ...{context!r}")
        return found

    def fragments(self, size: int = 12) -> list[str]:
        """Where a piece of a secret (``size`` characters or more) shows, the whole not."""
        found = []
        for kind, secret in self.secrets.items():
            pieces = {secret[i : i + size] for i in range(len(secret) - size + 1)}
            for where, text in self.seen:
                if secret in text or not any(piece in text for piece in pieces):
                    continue
                longest = next(
                    secret[i : i + n]
                    for n in range(len(secret), size - 1, -1)
                    for i in range(len(secret) - n + 1)
                    if secret[i : i + n] in text
                )
                found.append(f"{where}: shows {len(longest)} characters of the {kind} secret")
        return found

    def redacted(self) -> bool:
        """Whether anything shown carries the redaction mark (a secret was blanked out)."""
        return any("**********" in text for _, text in self.seen)


@pytest.fixture
def witness(caplog) -> Witness:
    """A Witness of the test's logs too, at DEBUG for the router, httpx and httpcore."""
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return Witness()


def finish(witness: Witness, caplog: pytest.LogCaptureFixture) -> None:
    witness.records("test", caplog.records)
    witness.text("formatted logs", caplog.text)
    leaks = witness.leaks()
    assert not leaks, "\n".join(leaks)


@pytest.fixture
def env(monkeypatch) -> dict[str, str]:
    """Every secret in the environment, as a user would provide it."""
    for kind, name in ENV.items():
        monkeypatch.setenv(name, SECRETS[kind])
    return {ENV[kind]: SECRETS[kind] for kind in KINDS}


def yaml_config(sim: Simulator, **top: Any) -> dict[str, Any]:
    """The session's config: secrets referenced as ``${VAR}``, never written down."""
    providers = []
    for kind in KINDS:
        block: dict[str, Any] = {
            "name": kind,
            "kind": kind,
            "base_url": sim.base_url(kind),
            "api_key": f"${{{ENV[kind]}}}",
        }
        if kind == "openai":
            block["model_info"] = {"*": {"prompt_per_mtok": 0.02, "completion_per_mtok": 0.08}}
        providers.append(block)
    return {"providers": providers, **top}


@pytest.fixture
def conf_file(sim, tmp_path, env) -> Path:
    path = tmp_path / "router.yaml"
    group = {"flash": [FAMILIES["pinstripes"], FAMILIES["routstr"]]}
    path.write_text(yaml.safe_dump(yaml_config(sim, models=group)))
    assert not any(secret in path.read_text() for secret in SECRETS.values())
    return path


def session_router(conf_file: Path, **kwargs: Any) -> Router:
    kwargs.setdefault("sleep", lambda seconds: None)  # retries do not wait
    return Router.from_yaml(str(conf_file), **kwargs)


def fetch_all(router: Router) -> None:
    for name in router.providers:
        router.catalog(name)


def echo(kind: str, status: int) -> Reply:
    """An error answer whose body quotes the key it was sent, in the provider's style."""
    message = f"bad key {SECRETS[kind]}"
    if kind == "inference-api":
        return Reply(status, json={"detail": message})
    if kind == "pipellm":
        return Reply(status, json={"type": "error", "error": {"type": "x", "message": message}})
    return Reply(status, json={"error": {"message": message}})


def consume(router: Router, witness: Witness, where: str, **request: Any) -> None:
    """Send ``request`` (stream when ``stream=True``); witness the answer or the error."""
    streaming = request.pop("stream", False)
    try:
        if streaming:
            chunks = list(router.stream(**request))
            witness.obj(f"{where} chunks", [c.model_dump() for c in chunks])
            witness.route(f"{where} route", chunks[-1].route)
        else:
            reply = router.complete(**request)
            witness.obj(f"{where} reply", reply.model_dump())
            witness.route(f"{where} route", reply.route)
    except RouterError as exc:
        witness.error(where, exc)


# -- reprs -----------------------------------------------------------------------------


def test_reprs_of_router_providers_and_options_hide_secrets(sim, env, conf_file, witness, caplog):
    with session_router(conf_file) as router:
        fetch_all(router)
        witness.obj("router", router)
        witness.obj("providers", dict(router.providers))
        for name, provider in router.providers.items():
            witness.obj(f"{name} provider", provider)
            witness.obj(f"{name} vars", vars(provider))
            witness.obj(f"{name} options", provider.options)
            witness.obj(f"{name} options dump", provider.options.model_dump())
            witness.text(f"{name} options json", provider.options.model_dump_json())
            witness.obj(f"{name} catalog", router.catalog(name))
            witness.obj(f"{name} client", provider.client())
        witness.obj("fallback", router.fallback)
        witness.obj("policies", router.policies)
        witness.obj("cooldowns", router.cooldowns)
    finish(witness, caplog)


def test_outgoing_request_repr_hides_credentials(sim, env, conf_file):
    """``router.provider.Outgoing`` (public) carries the auth headers: its repr must not
    show them, or any log line or error that includes one leaks the key."""
    with session_router(conf_file) as router:
        fetch_all(router)
        leaks = []
        for kind, ref in FAMILIES.items():
            provider = router.providers[kind]
            card = next(c for c in router.catalog(kind).models if c.ref == ref)
            request = ChatRequest.model_validate({"model": ref, "messages": HELLO})
            out = provider.chat_request(request, card, stream=True)
            assert SECRETS[kind] in "".join(out.headers.values())  # it is sent, of course
            leaks += [f"{kind}: {text}" for text in (repr(out), str(out)) if SECRETS[kind] in text]
    assert not leaks, "\n".join(leaks)


# -- config errors ------------------------------------------------------------------------

BAD_PROVIDER_BLOCKS = {
    "unknown key holding a key": {"apikey": "${PINSTRIPES_API_KEY}"},
    "unknown kind from an env var": {"kind": "${PINSTRIPES_API_KEY}"},
    "key as the base_url": {"base_url": "${PINSTRIPES_API_KEY}"},
    "key as a number": {"catalog_ttl": "${PINSTRIPES_API_KEY}"},
    "key as the timeout": {"timeout": "${ROUTSTR_CASHU_TOKEN}"},
    "key in a list": {"api_key": ["${PINSTRIPES_API_KEY}"]},
    "key in a name with a colon": {"name": "x:${PINSTRIPES_API_KEY}"},
}
YAML_LEVEL = ("YAML syntax error on the key's line", "bad tag on the key's line")


def _bad_yaml(sim: Simulator, case: str) -> str:
    conf = yaml_config(sim)
    if case == "unknown policy from an env var":
        conf["policy"] = ["${PINSTRIPES_API_KEY}"]
    elif case == "group member from an env var":
        conf["models"] = {"g": ["${ROUTSTR_CASHU_TOKEN}"]}
    elif case == "retry_on from an env var":
        conf["fallback"] = {"retry_on": ["${PINSTRIPES_API_KEY}"]}
    elif case == "usd_per_credit from an env var":
        conf["providers"][2]["usd_per_credit"] = "${MAJESTIX_API_KEY}"
    elif case == "price_unit from an env var":
        conf["providers"][3]["price_unit"] = "${ROUTSTR_CASHU_TOKEN}"
    elif case == "a key pasted inside ${...}":
        # a common slip: the literal key where the variable's name belongs
        conf["providers"][0]["api_key"] = "${" + SECRETS["pinstripes"] + "}"
    elif case == "unset variable next to a literal key":
        conf["providers"][0]["api_key"] = SECRETS["pinstripes"] + "${NOT_SET_ANYWHERE}"
    elif case == "YAML syntax error on the key's line":
        return yaml.safe_dump(conf) + f'extra: "{SECRETS["pinstripes"]}\n'
    elif case == "bad tag on the key's line":
        return yaml.safe_dump(conf) + f"extra: !!int {SECRETS['pinstripes']}\n"
    else:
        conf["providers"][0].update(BAD_PROVIDER_BLOCKS[case])
    return yaml.safe_dump(conf)


CONFIG_CASES = [
    *BAD_PROVIDER_BLOCKS,
    "unknown policy from an env var",
    "group member from an env var",
    "retry_on from an env var",
    "usd_per_credit from an env var",
    "price_unit from an env var",
    "a key pasted inside ${...}",
    "unset variable next to a literal key",
    *YAML_LEVEL,
]


@pytest.mark.parametrize("case", CONFIG_CASES)
def test_config_errors_never_quote_a_secret(sim, env, tmp_path, capsys, witness, caplog, case):
    text = _bad_yaml(sim, case)
    with pytest.raises(ConfigError) as info:
        Router.from_yaml(text)
    witness.error("from_yaml", info.value)
    if case not in YAML_LEVEL:
        with pytest.raises(ConfigError) as info:
            Router.from_config(yaml.safe_load(text))
        witness.error("from_config", info.value)

    path = tmp_path / "bad.yaml"
    path.write_text(text)
    for command in (["check"], ["models"], ["explain", "--prompt", "hi"], ["chat", "hi"]):
        status = main([*command, "--config", str(path), "-vv"])
        out, err = capsys.readouterr()
        assert status == 2
        witness.text(f"cli {command[0]} stdout", out)
        witness.text(f"cli {command[0]} stderr", err)
    finish(witness, caplog)


# -- catalog errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    ["wrong key (401)", "500 echoing the key", "text body echoing the key", "down (503)"],
)
def test_catalog_errors_never_show_a_secret(sim, env, conf_file, witness, caplog, fault):
    for kind in KINDS:
        if fault == "wrong key (401)":
            sim.set_api_key(kind, f"another-{kind}-key")
        elif fault == "500 echoing the key":
            sim.script(kind, [echo(kind, 500)] * 2)
        elif fault == "text body echoing the key":
            sim.script(kind, [Reply(502, body=f"bad key {SECRETS[kind]}")] * 2)
        else:
            sim.set_down(kind, True)
    with session_router(conf_file) as router:
        for kind in KINDS:
            try:
                router.catalog(kind)
            except RouterError as exc:
                witness.error(f"catalog {kind}", exc)
        witness.obj("models", router.models())
        witness.route("explain auto", router.explain(model="auto", messages=HELLO))
        for kind, ref in FAMILIES.items():
            consume(router, witness, f"complete {kind}", model=ref, messages=HELLO)
    sim.reset()
    finish(witness, caplog)


def test_a_stale_catalog_never_shows_a_secret(sim, env, conf_file, clock, witness, caplog):
    with session_router(conf_file, timer=clock) as router:
        fetch_all(router)
        clock.advance(301)
        for kind in KINDS:
            sim.script(kind, [echo(kind, 500)])
            catalog = router.catalog(kind)
            assert catalog.stale
            witness.obj(f"stale {kind}", catalog)
            witness.text(f"stale {kind} error", catalog.error)
        witness.route("explain auto", router.explain(model="auto", messages=HELLO))
    finish(witness, caplog)


# -- provider errors, retries -------------------------------------------------------------

CHAT_FAULTS = {
    "500 echoing the key": lambda kind: [echo(kind, 500)] * 4,
    "401 echoing the key": lambda kind: [echo(kind, 401)],
    "400 echoing the key": lambda kind: [echo(kind, 400)],
    "429 echoing the key": lambda kind: [echo(kind, 429)] * 4,
    "502 text echoing the key": lambda kind: [Reply(502, body=f"bad key {SECRETS[kind]}")] * 4,
    "200 that is not JSON": lambda kind: [Reply(200, body=f"<html>{SECRETS[kind]}</html>")] * 4,
    "200 answer quoting the key": lambda kind: [Reply(200, json={"choices": SECRETS[kind]})] * 4,
}


@pytest.mark.parametrize("fault", sorted(CHAT_FAULTS))
@pytest.mark.parametrize("kind", sorted(FAMILIES))
def test_provider_errors_never_show_a_secret(sim, env, conf_file, witness, caplog, kind, fault):
    with session_router(conf_file) as router:
        fetch_all(router)
        for streaming in (False, True):
            sim.script(kind, CHAT_FAULTS[fault](kind))
            where = f"{'stream' if streaming else 'complete'} {kind} {fault}"
            consume(router, witness, where, model=FAMILIES[kind], messages=HELLO, stream=streaming)
            sim.reset()
    if "echoing" in fault:  # the provider's message is kept, with the key blanked out
        assert witness.redacted()
    finish(witness, caplog)


@pytest.mark.parametrize("kind", sorted(FAMILIES))
def test_a_stream_error_event_never_shows_a_secret(sim, env, conf_file, witness, caplog, kind):
    """The provider's error event, mid-stream, quotes the key it was sent."""
    with session_router(conf_file) as router:
        fetch_all(router)
        for streaming in (True, False):
            sim.script(kind, [Reply(200, error_event=f"bad key {SECRETS[kind]}")])
            where = f"{'stream' if streaming else 'complete'} {kind}"
            consume(router, witness, where, model=FAMILIES[kind], messages=HELLO, stream=streaming)
    finish(witness, caplog)


NO_WAIT = {"Retry-After": "0"}


def test_retries_and_fallbacks_never_show_a_secret(sim, env, conf_file, witness, caplog):
    group = {"g": list(FAMILIES.values())}
    conf = yaml.safe_load(conf_file.read_text())
    conf["models"] = group
    conf["fallback"] = {"attempts": 8, "cooldown_after": 100}
    conf_file.write_text(yaml.safe_dump(conf))
    with session_router(conf_file) as router:
        fetch_all(router)
        for kind in FAMILIES:
            sim.script(
                kind,
                [
                    echo(kind, 500),
                    Reply(429, json={"error": {"message": SECRETS[kind]}}, headers=NO_WAIT),
                ],
            )
        for streaming in (False, True):
            consume(router, witness, "group g", model="g", messages=HELLO, stream=streaming)
        # and once more where every attempt fails: AllProvidersFailed lists them all
        for kind in FAMILIES:
            sim.script(kind, [echo(kind, 503)] * 4)
        consume(router, witness, "group g, all failing", model="g", messages=HELLO)
    assert witness.redacted()  # the providers' messages were kept, keys blanked out
    finish(witness, caplog)


def test_an_unreachable_provider_never_shows_its_secret(env, witness, caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = {
        "providers": [
            {
                "name": "dead",
                "kind": "pinstripes",
                "base_url": f"http://127.0.0.1:{port}/v1",
                "api_key": "${PINSTRIPES_API_KEY}",
            }
        ]
    }
    with Router.from_config(conf) as router:
        try:
            router.catalog("dead")
        except RouterError as exc:
            witness.error("catalog dead", exc)
        consume(router, witness, "complete dead", model="dead:m", messages=HELLO)
    finish(witness, caplog)


# -- redaction before truncation -----------------------------------------------------------


def _cut_catalog(secret: str) -> Reply:
    # an HTML error page echoing the credential, served as a 200: "not JSON (starts ...)"
    return Reply(200, body=f"<html>{secret}</html>")


DISTINCT = {"pinstripes": "sk-ps-Zq8RkY3vTnW6uJ1cHb5m", "inference-api": "inf_Lx9Pd2Qw7Ey4Rt6Yu1Io"}
SPENT = "Payment required: the Cashu token in this request was already spent or is invalid:"
SNIPPET_CASES = {
    # routstr's Cashu token is longer than the 60 characters quoted from a non-JSON body
    "catalog: HTML page echoing the Cashu token": ("routstr", "catalog", _cut_catalog),
    "catalog: 200 not JSON, key at char 44": (
        "pinstripes",
        "catalog",
        lambda secret: Reply(200, body="y" * 44 + secret),
    ),
    "catalog: 500 message, key at char 180": (
        "inference-api",
        "catalog",
        lambda secret: Reply(500, json={"detail": "m" * 180 + secret}),
    ),
    "chat: 502 text body, key at byte 100": (
        "pinstripes",
        "chat",
        lambda secret: Reply(502, body="x" * 100 + secret),
    ),
    "chat: 502 text body echoing the Cashu token": (
        "routstr",
        "chat",
        lambda secret: Reply(502, body=f"{SPENT} {secret} (spent)"),
    ),
}


@pytest.mark.parametrize("case", sorted(SNIPPET_CASES))
def test_error_snippets_are_redacted_before_they_are_cut(
    sim, env, conf_file, monkeypatch, caplog, case
):
    """A provider's text is quoted in part (the first 60, 120 or 200 characters): a
    credential straddling the cut must not show in part either."""
    kind, route, reply = SNIPPET_CASES[case]
    secret = DISTINCT.get(kind, SECRETS[kind])  # shares no piece with another secret
    monkeypatch.setenv(ENV[kind], secret)
    sim.set_api_key(kind, secret)
    witness = Witness({kind: secret})
    with session_router(conf_file) as router:
        if route == "chat":
            router.catalog(kind)
        sim.script(kind, [reply(secret)] * 4)
        try:
            router.catalog(kind)
        except RouterError as exc:
            witness.error("catalog", exc)
        consume(router, witness, "complete", model=FAMILIES[kind], messages=HELLO)
    witness.records("test", caplog.records)
    assert witness.leaks() == []
    fragments = witness.fragments()
    assert not fragments, "\n".join(fragments)


# -- debug logging: no Authorization or x-api-key value ------------------------------------


def test_debug_logs_never_show_auth_headers(sim, env, conf_file, caplog):
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    with session_router(conf_file) as router:
        fetch_all(router)
        for ref in FAMILIES.values():
            router.complete(model=ref, messages=HELLO)
            list(router.stream(model=ref, messages=HELLO))
    assert any(r.name.startswith("httpcore") for r in caplog.records)  # DEBUG was on
    sent = {r.headers.get("authorization") for k in KINDS for r in sim.requests(k)}
    sent |= {r.headers.get("x-api-key") for k in KINDS for r in sim.requests(k)}
    sent.discard(None)
    assert sent  # what went over the wire, which the logs must not show
    witness = Witness()
    witness.records("session", caplog.records)
    witness.text("formatted logs", caplog.text)
    shown = [(where, value) for where, text in witness.seen for value in sent if value in text]
    assert shown == []
    leaks = witness.leaks()
    assert not leaks, "\n".join(leaks)


# -- every CLI command, in-process and as a program at -vv ----------------------------------


def _cli(capsys, witness: Witness, where: str, *argv: str) -> int:
    status = main(list(argv))
    out, err = capsys.readouterr()
    witness.text(f"{where} stdout", out)
    witness.text(f"{where} stderr", err)
    return status


CLI_COMMANDS = (
    ["models"],
    ["models", "--json", "--all"],
    ["check"],
    ["check", "--json"],
    ["explain", "--prompt", "hello there router"],
    ["explain", "--prompt", "hello there router", "--json", "--model", "flash"],
    ["chat", "--model", "flash", "hello there router"],
)


@pytest.mark.parametrize(
    "fault",
    [
        "none",
        "catalogs echo the key",
        "wrong keys",
        "chat echoes the key",
        "stream error event echoes the key",
    ],
)
def test_cli_commands_never_show_a_secret(sim, env, conf_file, capsys, witness, caplog, fault):
    for command in CLI_COMMANDS:
        for kind in KINDS:
            if fault == "catalogs echo the key":
                sim.script(kind, [echo(kind, 500)])
            elif fault == "wrong keys":
                sim.set_api_key(kind, f"another-{kind}-key")
        if fault == "chat echoes the key":
            # the catalog answer first, then the chat route's
            sim.script("pinstripes", [Reply(200), echo("pinstripes", 500)])
            sim.script("routstr", [Reply(200), echo("routstr", 500)])
        elif fault == "stream error event echoes the key":
            event = Reply(200, error_event=f"bad key {SECRETS['pinstripes']}")
            sim.script("pinstripes", [Reply(200), event])
        _cli(capsys, witness, " ".join(command), *command, "--config", str(conf_file), "-vv")
        sim.reset()
    finish(witness, caplog)


@pytest.mark.parametrize(
    "command",
    [["models"], ["check"], ["explain", "--prompt", "hi"], ["chat", "--model", "flash", "hi"]],
    ids=["models", "check", "explain", "chat"],
)
def test_the_cli_program_at_debug_never_shows_a_secret(sim, env, conf_file, command):
    """``python -m router ... -vv``: the real logging setup, httpx and httpcore at DEBUG,
    with every provider's catalog echoing its key and the chat answer's stream too."""
    for kind in KINDS:
        if kind != "pinstripes":
            sim.script(kind, [echo(kind, 500)])
    # pinstripes serves its catalog, then breaks its chat stream with an event quoting its key
    event = Reply(200, error_event=f"bad key {SECRETS['pinstripes']}")
    sim.script("pinstripes", [Reply(200), event])
    result = subprocess.run(
        [sys.executable, "-m", "router", *command, "--config", str(conf_file), "-vv"],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "ROUTER_NO_ENTRY_POINTS": "1"},
        timeout=60,
        check=False,
    )
    assert "DEBUG" in result.stderr  # the most verbose level was on
    witness = Witness()
    witness.text("stdout", result.stdout)
    witness.text("stderr", result.stderr)
    leaks = witness.leaks()
    assert not leaks, "\n".join(leaks)
