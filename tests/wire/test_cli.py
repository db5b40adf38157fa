"""``router models`` and ``router check`` against the simulator."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import types
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from router.cli import main
from router.testing.simulator import REALISTIC, Reply
from tests.wire.conftest import FLASH, KINDS, config

pytestmark = pytest.mark.wire

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def conf_file(sim, tmp_path) -> Path:
    path = tmp_path / "router.yaml"
    conf = config(sim, models={"flash": ["pinstripes:ps/deepseek-v4-flash"]})
    path.write_text(yaml.safe_dump(conf))
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_models_table_lists_every_provider(capsys, conf_file):
    status, out, _ = run(capsys, "models", "--config", str(conf_file))
    assert status == 0
    header, *rows = out.splitlines()
    assert header.split()[:3] == ["provider", "model", "context"]
    assert {row.split()[0] for row in rows} == set(KINDS)
    flash = next(r for r in rows if "pinstripes:ps/deepseek-v4-flash" in r).split()
    # context, $/1M in, out, cached: the seed's reference table
    assert flash[2:6] == ["1,000,000", "0.087", "0.173", "0.05"]
    assert not any("sora-2" in row for row in rows)  # generation models need --all


def test_models_filters_and_sorting(capsys, conf_file):
    _, out, _ = run(capsys, "models", "-c", str(conf_file), "--tools", "--sort", "price")
    rows = out.splitlines()[1:]
    assert rows
    assert all(row.split()[8] == "yes" for row in rows)
    prices = [float(row.split()[3]) for row in rows]
    assert prices == sorted(prices)

    _, out, _ = run(capsys, "models", "-c", str(conf_file), "--provider", "routstr")
    assert {row.split()[0] for row in out.splitlines()[1:]} == {"routstr"}

    _, out, _ = run(
        capsys, "models", "-c", str(conf_file), "--min-context", "1000000", "--sort", "context"
    )
    contexts = [int(row.split()[2].replace(",", "")) for row in out.splitlines()[1:]]
    assert contexts
    assert min(contexts) >= 1_000_000
    assert contexts == sorted(contexts, reverse=True)

    _, out, _ = run(capsys, "models", "-c", str(conf_file), "--vision", "--provider", "openrouter")
    assert all(row.split()[9] == "yes" for row in out.splitlines()[1:])


def test_models_json_has_per_token_decimal_strings(capsys, conf_file):
    status, out, _ = run(capsys, "models", "-c", str(conf_file), "--json", "--all")
    assert status == 0
    records = {r["ref"]: r for r in json.loads(out)}
    flash = records["pinstripes:ps/deepseek-v4-flash"]
    assert flash["provider"] == "pinstripes"
    assert flash["id"] == "ps/deepseek-v4-flash"
    assert flash["pricing"]["prompt"] == "0.000000087"
    assert flash["pricing"]["completion"] == "0.000000173"
    assert flash["context_length"] == 1_000_000
    assert flash["stale"] is False
    assert records["pipellm:sora-2"]["kind"] == "generation"
    gpt5 = records["pipellm:gpt-5"]["pricing"]
    assert gpt5["tiers"][0]["above_prompt_tokens"] == 200_000
    assert gpt5["tiers"][0]["prompt"] == "0.0000055"


def test_models_reports_a_failing_provider_and_exits_1(capsys, sim, conf_file):
    sim.set_down("pipellm", True)
    status, out, err = run(capsys, "models", "-c", str(conf_file))
    assert status == 1
    assert "'pipellm'" in err
    assert "HTTP 503" in err
    assert "pinstripes:" in out


def test_check_reports_each_provider(capsys, sim, conf_file):
    status, out, _ = run(capsys, "check", "-c", str(conf_file))
    assert status == 0
    assert "ok     pinstripes (pinstripes): 11 models read (11 chat), 0 skipped" in out
    assert "ok     openrouter (openrouter): 6 models read (6 chat), 0 skipped" in out
    assert out.rstrip().endswith("all good")


def test_check_fails_on_a_provider_error_and_on_a_missing_group_member(capsys, sim, tmp_path):
    conf = config(sim, "pinstripes", "inference-api")
    conf["models"] = {"g": ["pinstripes:ps/no-such-model"]}
    conf["providers"][1]["api_key"] = "inf_wrong"
    path = tmp_path / "router.yaml"
    path.write_text(yaml.safe_dump(conf))
    status, out, _ = run(capsys, "check", "-c", str(path))
    assert status == 1
    assert "FAIL   inference-api (inference-api):" in out
    assert "HTTP 401" in out
    assert "models.g: pinstripes:ps/no-such-model is not in its provider's catalog" in out

    status, out, _ = run(capsys, "check", "-c", str(path), "--json")
    report = json.loads(out)
    assert status == 1
    assert report["ok"] is False
    assert [p["ok"] for p in report["providers"]] == [True, False]


def test_check_fails_on_a_price_cap_typed_per_token(capsys, sim, tmp_path):
    conf = config(sim, "pinstripes", "openrouter")
    conf["policy"] = [{"max_price": {"prompt_per_mtok": 0.000005}}, "cheapest"]
    path = tmp_path / "router.yaml"
    path.write_text(yaml.safe_dump(conf))
    status, out, _ = run(capsys, "check", "-c", str(path))
    assert status == 1
    lines = out.splitlines()
    assert lines[-3:] == [
        "WARN   policy[0].max_price.prompt_per_mtok: $0.000005 per 1M tokens is less than any"
        " provider charges: it looks like a price per token; this option is USD per 1M tokens"
        " (per token x 1,000,000: 5)",
        "FAIL   policy[0].max_price.prompt_per_mtok: below every prompt price in the catalogs"
        " (the lowest is $0.033 per 1M tokens, pinstripes:ps/gpt-oss-120b): no request can be"
        " routed; the cap is USD per 1M tokens",
        "problems found",
    ]
    status, out, _ = run(capsys, "check", "-c", str(path), "--json")
    assert status == 1
    report = json.loads(out)
    assert report["ok"] is False
    assert [(f["key_path"], f["severity"]) for f in report["findings"]] == [
        ("policy[0].max_price.prompt_per_mtok", "warning"),
        ("policy[0].max_price.prompt_per_mtok", "problem"),
    ]


def test_check_warns_about_an_empty_secret_and_names_no_value(capsys, sim, tmp_path, monkeypatch):
    conf = config(sim, "pinstripes", "openai", "openrouter")
    conf["providers"][0]["api_key"] = "${EMPTY_KEY_19}"
    conf["providers"][1]["api_key"] = "${LOCAL_KEY_19:-}"  # optional for kind openai: fine
    monkeypatch.setenv("EMPTY_KEY_19", "")
    path = tmp_path / "router.yaml"
    path.write_text(yaml.safe_dump(conf))
    status, out, _ = run(capsys, "check", "-c", str(path))
    assert status == 1  # the provider refuses the empty key: its catalog fails
    assert "FAIL   pinstripes (pinstripes): " in out
    assert out.splitlines()[-2:] == [
        "WARN   providers[0].api_key: empty: the environment variable it names is set but"
        " empty, so the provider will refuse every request (401); export the key, then run"
        " check again",
        "problems found",
    ]
    assert sim.api_key("openrouter") not in out
    # a key pasted with a line break is refused by the configuration itself
    conf["providers"][2]["api_key"] += "\n"
    path.write_text(yaml.safe_dump(conf))
    status, out, err = run(capsys, "check", "-c", str(path))
    assert status == 2
    assert "providers[2].api_key" in out + err
    assert sim.api_key("openrouter") not in out + err


def test_check_passes_with_warnings_and_says_so(capsys, sim, tmp_path):
    conf = config(sim, "pinstripes", "openai")
    conf["providers"][1]["model_info"] = {
        "*": {"prompt_per_mtok": 0.0000001, "completion_per_mtok": 0.2}
    }
    path = tmp_path / "router.yaml"
    path.write_text(yaml.safe_dump(conf))
    status, out, _ = run(capsys, "check", "-c", str(path))
    assert out.splitlines()[-2:] == [
        "WARN   providers[1].model_info.*.prompt_per_mtok: $0.0000001 per 1M tokens is less"
        " than any provider charges: it looks like a price per token; this option is USD per 1M"
        " tokens (per token x 1,000,000: 0.1)",
        "all good, but 1 warning above",
    ]
    assert status == 0


def test_check_json_counts_skipped_entries(capsys, sim, conf_file):
    sim.script("pinstripes", [Reply(200, json={"data": [{"id": "x", "pricing": {"prompt": "?"}}]})])
    status, out, _ = run(capsys, "check", "-c", str(conf_file), "--json")
    report = json.loads(out)
    ps = next(p for p in report["providers"] if p["provider"] == "pinstripes")
    assert ps["models"] == 0
    assert ps["skipped"] == ["'x': pricing.prompt: not a number: '?'"]
    assert ps["ok"] is True  # skipped entries are reported, not fatal...
    # ...but the group member that was skipped is missing, and that fails the check
    assert report["missing_group_members"] == [
        {"group": "flash", "ref": "pinstripes:ps/deepseek-v4-flash"}
    ]
    assert status == 1


def test_config_error_exits_2_and_names_the_key(capsys, tmp_path):
    path = tmp_path / "router.yaml"
    path.write_text("providers:\n  - {name: 'a:b', kind: pinstripes, api_key: k}\n")
    status, _, err = run(capsys, "check", "-c", str(path))
    assert status == 2
    assert "providers[0].name" in err


def test_no_secret_in_any_cli_output_even_at_debug(capsys, sim, conf_file):
    sim.set_down("routstr", True)  # an error path too
    outputs = []
    for argv in (["models"], ["models", "--json", "--all"], ["check"], ["check", "--json"]):
        _, out, err = run(capsys, *argv, "-c", str(conf_file), "-vv")
        outputs.append(out + err)
    text = "\n".join(outputs)
    assert "pinstripes:ps/deepseek-v4-flash" in text
    for kind in KINDS:
        assert sim.api_key(kind) not in text


def test_python_dash_m_router_runs(sim, conf_file):
    env = {**os.environ, "ROUTER_CONFIG": str(conf_file)}
    result = subprocess.run(
        [sys.executable, "-m", "router", "models", "--provider", "pinstripes"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "pinstripes:ps/gpt-oss-120b" in result.stdout


def test_explain_shows_candidates_and_exclusions_per_policy(capsys, conf_file, tmp_path):
    request = {
        "model": "auto",
        "max_tokens": 20000,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [
            {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
        ],
    }
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    status, out, _ = run(capsys, "explain", "-c", str(conf_file), "--request", str(path))
    assert status == 0
    assert out.startswith(
        "chain: capabilities (filters) -> context_fit (filters) -> cheapest (orders)\nmodel 'auto':"
    )
    assert "1. " in out
    assert "[capabilities] no tools support" in out
    assert "[context_fit] max_tokens 20000 > max output 16384" in out
    assert "[catalog] a generation model" in out

    status, out, _ = run(
        capsys, "explain", "-c", str(conf_file), "-p", "hi", "--model", "flash", "--json"
    )
    decision = json.loads(out)
    assert status == 0
    assert [c["ref"] for c in decision["candidates"]] == ["pinstripes:ps/deepseek-v4-flash"]
    assert decision["candidates"][0]["estimated_cost"].startswith("0.0000")


def test_chat_streams_the_answer_then_ref_and_cost(capsys, conf_file):
    status, out, err = run(capsys, "chat", "-c", str(conf_file), "--model", "flash", "hello router")
    assert status == 0
    assert out.strip() == "You said: hello router"
    assert "-- pinstripes:ps/deepseek-v4-flash  cost $0.000" in err


def test_chat_reports_a_routing_failure(capsys, sim, conf_file):
    status, _, err = run(capsys, "chat", "-c", str(conf_file), "--model", "nope", "hi")
    assert status == 1
    assert "no route for model 'nope'" in err


# -- tables on a terminal, plain text otherwise ---------------------------------------------


class Terminal(io.StringIO):
    """A stdout that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def run_on_terminal(monkeypatch, *argv: str) -> tuple[int, str]:
    monkeypatch.setenv("COLUMNS", "200")
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    status = main(list(argv))
    return status, terminal.getvalue()


def test_rich_tables_on_a_terminal(monkeypatch, sim, conf_file):
    status, out = run_on_terminal(monkeypatch, "models", "-c", str(conf_file))
    assert status == 0
    assert "\x1b[" in out  # styled
    plain = ANSI.sub("", out)
    assert plain.split()[:3] == ["provider", "model", "context"]
    flash = next(line for line in plain.splitlines() if FLASH in line).split()
    assert flash[2:6] == ["1,000,000", "0.087", "0.173", "0.05"]

    status, out = run_on_terminal(monkeypatch, "check", "-c", str(conf_file))
    plain = ANSI.sub("", out)
    assert status == 0
    assert plain.split()[:5] == ["provider", "kind", "models", "chat", "skipped"]
    assert "ok  pinstripes     pinstripes         11    11        0" in plain
    assert plain.rstrip().endswith("all good")

    sim.script("pinstripes", [Reply(200, json={"data": [{"id": "x", "pricing": {"prompt": "?"}}]})])
    status, out = run_on_terminal(monkeypatch, "check", "-c", str(conf_file))
    plain = ANSI.sub("", out)
    assert status == 1
    assert "skipped  pinstripes: 'x': pricing.prompt: not a number: '?'" in plain
    assert f"FAIL  models.flash: {FLASH} is not in its provider's catalog" in plain
    assert plain.rstrip().endswith("problems found")

    status, out = run_on_terminal(
        monkeypatch, "explain", "-c", str(conf_file), "-p", "hi", "--max-tokens", "20000"
    )
    plain = ANSI.sub("", out)
    assert status == 0
    assert plain.startswith("chain: capabilities (filters) -> context_fit (filters)")
    assert "[context_fit] context length unknown" in plain  # text, never rich markup
    assert "  context_fit  " in plain  # exclusions: the policy in its own column
    assert "max_tokens 20000 > max output 16384" in plain


def test_json_stays_json_on_a_terminal(monkeypatch, conf_file):
    for argv in (["models"], ["check"], ["explain", "-p", "hi"]):
        status, out = run_on_terminal(monkeypatch, *argv, "-c", str(conf_file), "--json")
        assert status == 0
        json.loads(out)


def test_plain_text_on_a_terminal_without_rich(monkeypatch, conf_file):
    monkeypatch.setitem(sys.modules, "rich.console", None)
    status, out = run_on_terminal(monkeypatch, "models", "-c", str(conf_file))
    assert status == 0
    assert "\x1b[" not in out
    assert out.splitlines()[0].split()[:3] == ["provider", "model", "context"]


# -- chat --json and bad requests ---------------------------------------------------------


def test_chat_json_prints_the_completion_and_its_route(capsys, conf_file):
    status, out, _ = run(capsys, "chat", "-c", str(conf_file), "-m", "flash", "--json", "hi")
    reply = json.loads(out)
    assert status == 0
    assert reply["object"] == "chat.completion"
    assert reply["choices"][0]["message"]["content"] == "You said: hi"
    assert reply["provider"] == "pinstripes"
    assert reply["usage"]["cost"] > 0
    assert reply["route"]["chosen"] == FLASH


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{oops", "not valid JSON"),
        ("[1]", "not a JSON object"),
        ('{"messages": []}', "messages:"),
        ('{"messages": [{"role": "user", "content": "x"}], "self": 1}', "unknown field 'self'"),
        (None, "cannot read"),
    ],
)
def test_explain_on_a_bad_request_says_what_is_wrong(capsys, conf_file, tmp_path, content, problem):
    path = tmp_path / "request.json"
    if content is not None:
        path.write_text(content)
    status, out, err = run(capsys, "explain", "-c", str(conf_file), "-r", str(path))
    assert status == 2
    assert out == ""
    assert err.startswith("router: bad request: ")
    assert problem in err
    assert "Traceback" not in err


def test_chat_on_a_bad_request_says_what_is_wrong(capsys, conf_file):
    status, _, err = run(
        capsys, "chat", "-c", str(conf_file), "-m", "flash", "--max-tokens", "-5", "hi"
    )
    assert status == 2
    assert "router: bad request: max_tokens" in err
    assert "Traceback" not in err


# -- router demo -----------------------------------------------------------------------


def test_demo_runs_run_demo_without_a_config(capsys, monkeypatch, tmp_path):
    calls = []
    demo = types.ModuleType("router.demo")
    demo.run_demo = lambda: calls.append("ran") or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "router.demo", demo)
    monkeypatch.setenv("ROUTER_CONFIG", str(tmp_path / "absent.yaml"))
    assert main(["demo"]) == 0
    assert calls == ["ran"]
    demo.run_demo = lambda: 3  # type: ignore[attr-defined]
    assert main(["demo"]) == 3


def test_demo_that_cannot_be_imported_is_a_clear_error(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "router.demo", None)
    status, _, err = run(capsys, "demo")
    assert status == 1
    assert err.startswith("router: the demo cannot run:")
    assert "Traceback" not in err


def test_every_command_has_help(capsys):
    for command in ("models", "check", "explain", "chat", "serve", "demo"):
        with pytest.raises(SystemExit) as info:
            main([command, "--help"])
        assert info.value.code == 0
        assert f"usage: router {command}" in capsys.readouterr().out


# -- router sim: the offline sandbox -------------------------------------------------------


def sandbox_env(env_file: Path) -> dict[str, str]:
    """The environment after ``source router-sim.env`` (its lines are ``export NAME=value``)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    for line in env_file.read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = value.strip("'")
    return env


def test_router_sim_serves_every_command_offline_until_ctrl_c(tmp_path):
    import signal

    sim = subprocess.Popen(
        [sys.executable, "-m", "router", "sim"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        lines = []
        while not lines or lines[-1] != "Ctrl-C stops the simulator.":
            line = sim.stdout.readline()
            assert line, sim.stderr.read() if sim.stderr else ""
            lines.append(line.rstrip("\n"))
        port = re.match(
            r"router sim: 5 simulated providers on http://127\.0\.0\.1:(\d+) ", lines[0]
        )
        assert port, lines[0]
        assert lines[1] == (
            "  they answer in plain sentences of 225-375 tokens, as long as a real model's"
            " answers (max_tokens cuts them)"
        )
        assert lines[2] == f"wrote {tmp_path / 'router-sim.yaml'}"
        assert lines[3] == (
            f"  and {tmp_path / 'router-sim.env'}: in another shell, run  source router-sim.env"
        )
        assert lines[5] == f"    export ROUTER_CONFIG={tmp_path / 'router-sim.yaml'}"
        assert f"    export PINSTRIPES_BASE_URL=http://127.0.0.1:{port[1]}/pinstripes/v1" in lines
        env = sandbox_env(tmp_path / "router-sim.env")
        assert env["ROUTER_CONFIG"] == str(tmp_path / "router-sim.yaml")

        def router(*argv: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "router", *argv],
                capture_output=True,
                text=True,
                env=env,
                cwd=tmp_path,
                timeout=60,
                check=False,
            )

        check = router("check")
        assert check.returncode == 0, check.stdout + check.stderr
        assert check.stdout.splitlines() == [
            "ok     pinstripes (pinstripes): 11 models read (11 chat), 0 skipped",
            "ok     pipellm (pipellm): 5 models read (4 chat), 0 skipped",
            "ok     majestix (inference-api): 6 models read (6 chat), 0 skipped",
            "ok     routstr (routstr): 5 models read (5 chat), 0 skipped",
            "ok     openrouter (openrouter): 6 models read (6 chat), 0 skipped",
            "all good",
        ]
        explain = router("explain", "-p", "Hello", "--model", "deepseek-v4-flash")
        assert explain.returncode == 0, explain.stderr
        assert explain.stdout.splitlines()[2].startswith("  1. pinstripes:ps/deepseek-v4-flash ")
        chat = router("chat", "Hello there")
        assert chat.returncode == 0, chat.stderr
        # an answer as long as a real one: REALISTIC's draw for this prompt, 253 tokens
        assert REALISTIC.draw(["Hello there"]) == 253
        assert chat.stdout == " ".join(REALISTIC.words(["Hello there"], 253)) + "\n"
        # ps/gpt-oss-120b: $0.033 / $0.153 per 1M tokens; "Hello there" is 3 prompt tokens
        assert 3 * Decimal("0.000000033") + 253 * Decimal("0.000000153") == Decimal("0.000038808")
        assert chat.stderr.startswith("-- pinstripes:ps/gpt-oss-120b  cost $0.000038808")
    finally:
        sim.send_signal(signal.SIGINT)
        _, err = sim.communicate(timeout=30)
    assert sim.returncode == 0
    assert err == "router sim: stopped\n"


def test_router_sim_says_when_its_port_is_taken(capsys, sim, tmp_path):
    status, out, err = run(
        capsys, "sim", "--port", str(sim.port), "--write", str(tmp_path / "x.yaml")
    )
    assert status == 1
    assert out == ""
    assert err.startswith(f"router: cannot bind 127.0.0.1:{sim.port}: ")
    assert not (tmp_path / "x.yaml").exists()


def test_models_shows_write_rates_and_tiers(capsys, conf_file):
    _, out, _ = run(capsys, "models", "-c", str(conf_file), "--provider", "openrouter")
    header, *rows = out.splitlines()
    assert "$/1M write 1h" in header
    sonnet = next(r for r in rows if "anthropic/claude-sonnet-4.6" in r).split()
    # in, out, cached, write, write 1h: $3, $15, $0.30, $3.75, $6 per 1M
    assert sonnet[3:8] == ["3", "15", "0.3", "3.75", "6"]
    gemini = next(r for r in rows if "google/gemini-2.5-pro" in r).split()
    assert gemini[3:8] == ["1.25", "10", "0.31", "1.625", "-"]
    assert gemini[10] == ">=200000:2.5/15"  # from 200,000 prompt tokens, $2.50 / $15
    assert (gemini[11], sonnet[10], sonnet[11]) == ("catalog", "-", "catalog")
