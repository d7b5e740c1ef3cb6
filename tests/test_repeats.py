"""Repeats, flaky cells and infrastructure failures: what a real-model run needs to be trusted.

``CANARY_MODEL_FLAKE=P:SEED`` makes the scripted model misbehave on a seed (429s, answers
that skip the memory tool), so all of it is tested without a real model, deterministically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.cp_sim.platform import PlatformState
from harness.errors import UsageError
from harness.events import A2ACall, ModelCall, conversation_key, parse_key
from harness.model_sim.flake import NO_MEMORY_TOOL, RATE_LIMIT, STALL, Flake, from_env
from harness.results import CanaryResult, Sample, Status, summed_up, template_status
from harness.run import infra
from harness.run.judge import combine
from tests.support.runs import MODEL_RUNTIME, ROOT, run_cli, run_template, write_config

P, F, E, S, INF = (Status.PASSED, Status.FAILED, Status.ERROR, Status.SKIPPED, Status.INFRA)


def _samples(*outcomes: Status) -> list[Sample]:
    return [Sample(o, None if o == P else f"sample {n}", "memory") for n, o in enumerate(outcomes)]


def test_a_cell_is_passed_failed_or_flaky_by_its_samples_with_verdicts() -> None:
    assert summed_up(_samples(P, P, P))[0] == P
    assert summed_up(_samples(F, F, F))[0] == F
    assert summed_up(_samples(E, E))[0] == E
    outcome, source = summed_up(_samples(P, F, P, F, P))
    assert (outcome, source and source.message) == (Status.FLAKY, "sample 1")
    assert summed_up(_samples(P, F, P, F, P), pass_rate=0.8)[0] == F  # 3/5 is under 80%
    assert summed_up(_samples(P, F, P, P, P), pass_rate=0.8)[0] == Status.FLAKY
    # Infra samples are no verdict: never the runtime's failure, never its pass.
    assert summed_up(_samples(P, INF, P))[0] == P
    assert summed_up(_samples(INF, INF))[0] == INF
    assert summed_up(_samples(S, INF))[0] == S  # a check that does not apply, whatever happened


def test_the_flaky_policy_decides_the_gate_and_infra_alone_is_an_error() -> None:
    flaky = {"memory_recall": CanaryResult(Status.FLAKY, message="3 of 5 samples passed")}
    assert template_status(flaky, "fail") == F
    assert template_status(flaky, "pass") == P
    assert template_status(flaky, "advisory") == P
    untested = {"memory_recall": CanaryResult(INF), "name_recall": CanaryResult(P)}
    assert template_status(untested) == E  # no verdict about the runtime, and not a pass


def test_combined_samples_say_how_many_passed_and_keep_every_sample() -> None:
    combined = combine(
        [(CanaryResult(P), 0), (CanaryResult(F, message="no colour", layer="memory"), 1),
         (CanaryResult(INF, message="infrastructure: 429"), 2)]
    )  # fmt: skip
    assert combined.outcome == Status.FLAKY
    assert combined.message == "1 of 2 samples passed (1 infra); sample 2: no colour"
    assert [s.retries for s in combined.samples] == [0, 1, 2]
    assert combined.retries == 3
    skipped = combine([(CanaryResult(P), 0), (CanaryResult(F, message="no colour"), 0),
                       (CanaryResult(S, message="no probe"), 0)])  # fmt: skip
    assert skipped.message == "1 of 2 samples passed; sample 2: no colour"  # a skip is no infra
    single = CanaryResult(P, duration_s=1.5)
    assert combine([(single, 0)]) is single  # one sample, never retried: as before


def test_conversation_keys_name_sample_and_attempt_and_read_back() -> None:
    assert conversation_key("name_recall") == "name_recall"
    assert conversation_key("name_recall", 3, 1) == "name_recall~3~1"
    assert parse_key("name_recall~3~1") == ("name_recall", 3, 1)
    assert parse_key("name_recall") == ("name_recall", 1, 0)


def test_the_flake_switch_is_a_pure_function_of_its_seed() -> None:
    flake = Flake(0.3, "7")
    fates = [flake.fate("langgraph-sim", f"memory_recall~{k}~0", 2) for k in range(1, 200)]
    assert fates == [Flake(0.3, "7").fate("langgraph-sim", f"memory_recall~{k}~0", 2)
                     for k in range(1, 200)]  # fmt: skip
    assert 0.2 < sum(f is not None for f in fates) / len(fates) < 0.4
    assert {RATE_LIMIT, NO_MEMORY_TOOL} <= set(fates)
    assert fates != [Flake(0.3, "8").fate("langgraph-sim", f"memory_recall~{k}~0", 2)
                     for k in range(1, 200)]  # fmt: skip
    assert from_env({"CANARY_MODEL_FLAKE": "0.3:7"}) == flake
    assert from_env({}) is None
    for bad in ("0.3", "1.5:7", "often:7", "0.3:", "0.3:7:hang", "0.3:7:stall,"):
        with pytest.raises(UsageError, match="CANARY_MODEL_FLAKE"):
            from_env({"CANARY_MODEL_FLAKE": bad})
    # Stalls cost a timeout each: only when named, and then only the fates named.
    assert STALL not in fates
    stalls = from_env({"CANARY_MODEL_FLAKE": "1:7:stall"})
    assert stalls == Flake(1.0, "7", (STALL,))
    assert {stalls.fate("t", f"name_recall~{k}~0", 1) for k in range(1, 20)} == {STALL}


def _turn(turn: int, key: str, text: str = "Hello.", status: int = 200) -> A2ACall:
    body = {"jsonrpc": "2.0", "id": 1, "result": {"kind": "message", "role": "agent",
            "messageId": "m", "parts": [{"kind": "text", "text": text}]}}  # fmt: skip
    return A2ACall(canary=key, turn=turn, context_id="c", sent="hi", request={},
                   status=status, body=json.dumps(body))  # fmt: skip


def test_a_turn_whose_last_model_request_was_refused_is_infrastructure() -> None:
    refused = ModelCall(api="chat", turns=(4,), status=429)
    answered = ModelCall(api="chat", turns=(4,), status=200)
    key = "memory_recall~2~0"
    why = infra.reason([_turn(4, key, "Sorry."), answered, refused], {key})
    assert why == (
        "the model answered HTTP 429 to the runtime's last request of turn 4 (memory_recall~2~0)"
    )
    # The runtime retried and got its answer: its own reply is what counts.
    assert infra.reason([_turn(4, key), refused, answered], {key}) is None
    # Another conversation's refusal is not this one's.
    assert infra.reason([_turn(4, key), refused], {"name_recall"}) is None


def test_a_turn_whose_last_model_request_got_no_first_token_is_infrastructure() -> None:
    stalled = ModelCall(api="chat", turns=(2,), status=504, stalled=True)
    key = "name_recall~1~0"
    timed_out = A2ACall(canary=key, turn=2, context_id="c", sent="hi", request={},
                        status=None, error="no reply within 5s")  # fmt: skip
    for turn in (_turn(2, key, "Error: timed out"), timed_out):
        assert infra.reason([turn, stalled], {key}, scripted=True) == (
            "the model sent nothing to the runtime's last request of turn 2 "
            "(name_recall~1~0): a timeout before the first token"
        )
    # The harness's own turn timeout with the model's answers all given: the runtime's.
    assert infra.reason([timed_out, ModelCall(api="chat", turns=(2,))], {key}) is None


def test_on_the_scripted_model_its_record_decides_not_the_reply() -> None:
    key = "name_recall"
    answered = ModelCall(api="chat", turns=(1,), status=200)
    said = _turn(1, key, "Error code: 429 - rate limit")
    assert infra.reason([said, answered], {key}, scripted=True) is None  # nothing refused it
    assert infra.reason([said], {key}, scripted=True) is None  # it never asked the model
    assert infra.reason([said, answered], {key}) is not None  # a real model: its word counts


@pytest.mark.parametrize(
    ("text", "infrastructure"),
    [
        ("Error code: 429 - {'error': {'type': 'rate_limit_error'}}", True),
        ("I'm overloaded_error, try later", True),
        ("Request timed out.", True),  # openai's and anthropic's APITimeoutError
        ("504 DEADLINE_EXCEEDED. {'error': {'code': 504}}", True),
        ("The search tool timed out; please try again.", False),  # the runtime's own tool
        ("Your favourite colour is royal lavender.", False),
        ("The reference code is 429.", False),
    ],
)
def test_a_reply_that_is_the_providers_error_is_infrastructure(
    text: str, infrastructure: bool
) -> None:
    assert (infra.reason([_turn(1, "name_recall", text)], {"name_recall"}) is not None) is (
        infrastructure
    )


def test_a_search_finds_only_the_memories_of_its_own_sample() -> None:
    state = PlatformState("ws")
    state.sample = lambda: 1
    state.remember({"content": "my favourite colour is deep scarlet."})
    state.sample = lambda: 2
    assert state.recall({"q": "favourite colour"}) == (200, [])
    state.remember({"content": "my favourite colour is pale scarlet."})
    _, found = state.recall({"q": "favourite colour"})
    assert [m["content"] for m in found] == ["my favourite colour is pale scarlet."]


# --- end to end ------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_model_that_never_sends_a_first_token_is_infra_and_retried(tmp_path: Path) -> None:
    # The runtime's client gives up after 2 s and answers its error as text, as many do; the
    # scripted model's record shows it sent nothing: the provider's failure, never the runtime's.
    config = write_config(
        tmp_path,
        f"""
        [templates.thinker]
        command = ["python", "{MODEL_RUNTIME}"]
        model = "sim"
        secrets = ["OPENAI_API_KEY"]
        canaries = ["name_recall"]
        env = {{ MODEL_RUNTIME_TIMEOUT = "2" }}
        gate = "required"
        retries = 1
        """,
    )
    code, result, stdout = run_template(
        config, "thinker", tmp_path, env={"CANARY_MODEL_FLAKE": "1:7:stall"}
    )
    cell = result["canaries"]["name_recall"]
    assert (result["status"], cell["outcome"]) == ("error", "infra"), stdout
    assert code != 0  # no verdict about the runtime is never a pass
    assert cell["message"] == (
        "infrastructure: the model sent nothing to the runtime's last request of turn 4 "
        "(name_recall~1~1): a timeout before the first token"
    )  # the retry's first turn: the first attempt had three (session_scope too)
    assert [s["retries"] for s in cell["samples"]] == [1]
    transcript = (tmp_path / "artifacts" / "thinker" / "transcript.jsonl").read_text()
    events = [json.loads(line) for line in transcript.splitlines()]
    assert [e["retried"] for e in events if e["type"] == "infra"] == [True, False]
    assert any(e["type"] == "model" and e["stalled"] for e in events)


def _run(tmp_path: Path, name: str, *extra: str, flake: str = "0.3:7") -> tuple[int, Any, str]:
    out = tmp_path / name
    completed = run_cli(
        "run", "langgraph-sim", "--driver", "process", "--repeat", "5",
        "--canary", "name_recall", "--canary", "memory_recall",
        "--results", str(out / "results"), "--artifacts", str(out / "artifacts"), *extra,
        env={"CANARY_MODEL_FLAKE": flake}, timeout=900,
    )  # fmt: skip
    result = json.loads((out / "results" / "langgraph-sim.json").read_text())
    return completed.returncode, result, completed.stdout + completed.stderr


def _samples_of(result: Any) -> dict[str, list[tuple[str, int]]]:
    return {
        canary: [(s["outcome"], s["retries"]) for s in entry["samples"]]
        for canary, entry in result["canaries"].items()
    }


@pytest.mark.slow
def test_a_flaky_model_gives_flaky_cells_and_infra_retries_as_its_seed_says_twice(
    tmp_path: Path,
) -> None:
    _, first, output = _run(tmp_path, "first")
    _, second, _ = _run(tmp_path, "second")
    assert _samples_of(first) == _samples_of(second), output  # the seed decides, not timing
    memory = first["canaries"]["memory_recall"]
    assert memory["outcome"] == "flaky", output
    passes = sum(s["outcome"] == "passed" for s in memory["samples"])
    assert f"flaky {passes}/5" in output
    assert f"{passes} of 5 samples passed" in memory["message"]
    # The 429s were retried into verdicts: none is infra, and some sample needed a retry.
    samples = [s for entry in first["canaries"].values() for s in entry["samples"]]
    assert all(s["outcome"] != "infra" for s in samples), output
    assert any(s["retries"] for s in samples), output
    transcript = tmp_path / "first" / "artifacts" / "langgraph-sim" / "transcript.jsonl"
    assert '"type": "infra"' in transcript.read_text()
    # Without retries, the 429s are infra: no verdict, never the runtime's failure.
    _, bare, output = _run(tmp_path, "bare", "--retries", "0")
    infra_samples = [
        (canary, n)
        for canary, entry in bare["canaries"].items()
        for n, s in enumerate(entry["samples"])
        if s["outcome"] == "infra"
    ]
    assert infra_samples, output
    for canary, n in infra_samples:
        message = bare["canaries"][canary]["samples"][n]["message"]
        assert "infrastructure: the model answered HTTP 429" in message
        assert first["canaries"][canary]["samples"][n]["outcome"] != "infra"  # retried: a verdict
    assert all(s["retries"] == 0 for e in bare["canaries"].values() for s in e["samples"])
    assert " i" in output  # the matrix counts them: "ok 2/2 i3"
    # Without the switch the same run has no flaky cell: it was the model, not the runtime.
    _, steady, output = _run(tmp_path, "steady", flake="")
    assert {c: e["outcome"] for c, e in steady["canaries"].items()} == {
        "name_recall": "passed",
        "memory_recall": "passed",
    }, output


@pytest.mark.slow
def test_repeats_of_a_healthy_runtime_each_pass_with_fresh_tokens(tmp_path: Path) -> None:
    # The reference, every canary, three samples: a repeat that shared memory or contexts
    # across samples would make a healthy runtime flaky.
    config = write_config(
        tmp_path,
        f"""
        [templates.reference]
        command = ["python", "-m", "templates.reference"]
        env = {{ PYTHONPATH = "{ROOT}" }}
        gate = "required"
        repeat = 3
        """,
    )
    completed = run_cli(
        "--config", str(config), "run", "reference", "--driver", "process",
        "--results", str(tmp_path / "results"), "--artifacts", str(tmp_path / "artifacts"),
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = json.loads((tmp_path / "results" / "reference.json").read_text())
    for canary, entry in result["canaries"].items():
        assert [s["outcome"] for s in entry["samples"]] in (["passed"] * 3, ["skipped"] * 3), (
            canary, entry,
        )  # fmt: skip
    transcript = (tmp_path / "artifacts" / "reference" / "transcript.jsonl").read_text()
    colours = [json.loads(line)["value"] for line in transcript.splitlines()
               if '"name": "colour"' in line]  # fmt: skip
    assert len(set(colours)) == 3  # a fresh colour each sample
    assert "name_recall[3]" not in completed.stdout  # the judge's names stay inside
