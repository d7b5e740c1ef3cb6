"""The scripted model endpoint, through the real OpenAI and Anthropic client libraries.

Each API shape, streaming and not, tool-call round trips, the framework quirks the
endpoint must accept, and the oracle's honesty: it knows only what the request holds.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from canary import stream_cancel
from harness.events import ModelCall, ModelMessage, ModelUnserved
from harness.model_sim.oracle import THINK_S, Conversation, Message, Tool, decide
from harness.model_sim.server import ModelServer
from tests.support.runs import MODEL_RUNTIME, run_template, write_config

SEARCH = {
    "type": "function",
    "function": {
        "name": "search_memory",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
        },
    },
}
STORE = {
    "type": "function",
    "function": {
        "name": "commit_memory",
        "parameters": {
            "type": "object",
            "properties": {"content": {"type": "string"}},
            "required": ["content"],
        },
    },
}
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}}  # fmt: skip


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[ModelServer, list[ModelCall]]]:
    recorded: list[ModelCall] = []
    with ModelServer(recorder=recorded.append) as server:
        yield server, recorded


@pytest.fixture
def oa(sim: tuple[ModelServer, list[ModelCall]]) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim[0].url + "/v1", api_key="dummy", max_retries=0)


@pytest.fixture
def an(sim: tuple[ModelServer, list[ModelCall]]) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=sim[0].url, api_key="dummy", max_retries=0)


def chat(oa: openai.OpenAI, messages: list[Any], **extra: Any) -> Any:
    return oa.chat.completions.create(model="m", messages=messages, **extra).choices[0].message


def test_a_name_is_known_only_from_earlier_turns_in_the_request(oa: openai.OpenAI) -> None:
    history = [{"role": "user", "content": "Hi! My name is Bakiro. Please remember it."},
               {"role": "assistant", "content": "Nice to meet you."}]  # fmt: skip
    asked = {"role": "user", "content": "What is my name?"}
    assert chat(oa, [*history, asked]).content == "Your name is Bakiro."
    assert "don't know" in chat(oa, [asked]).content  # history dropped: honestly unknown


@pytest.mark.parametrize(
    "content",
    [None, [{"type": "text", "text": "My name is Zed."}], "My name is Zed."],
    ids=["null", "parts", "string"],
)
def test_content_as_string_null_or_parts(oa: openai.OpenAI, content: Any) -> None:
    messages = [
        {"role": "system", "content": None},
        {"role": "user", "content": content},
        {"role": "user", "content": [{"type": "text", "text": "What is my name?"}]},
    ]
    expected = "don't know" if content is None else "Your name is Zed."
    assert expected in chat(oa, messages).content


def test_chat_tool_round_trip_streamed_with_usage(oa: openai.OpenAI) -> None:
    asked = {"role": "user", "content": "What is my favourite colour?"}
    stream = oa.chat.completions.create(
        model="m", messages=[asked], tools=[WEATHER, SEARCH], stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    name, arguments, usage = None, "", None
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                name = call.function.name or name
                arguments += call.function.arguments or ""
    assert (name, json.loads(arguments)) == ("search_memory", {"query": "favourite colour"})
    assert usage is not None
    call = {"id": "c1", "type": "function", "function": {"name": name, "arguments": arguments}}
    result = {
        "role": "tool",
        "tool_call_id": "c1",
        "content": json.dumps([{"content": "my favourite colour is misty saffron"}]),
    }
    answer = chat(oa, [asked, {"role": "assistant", "content": None, "tool_calls": [call]},
                       result], tools=[SEARCH])  # fmt: skip
    assert answer.content == "Your favourite colour is misty saffron."


def test_remembering_calls_the_memory_write_tool(oa: openai.OpenAI) -> None:
    said = {
        "role": "user",
        "content": "Please remember for future conversations: my favourite colour is deep teal.",
    }
    call = chat(oa, [said], tools=[SEARCH, STORE]).tool_calls[0]  # fmt: skip
    assert call.function.name == "commit_memory"
    assert json.loads(call.function.arguments) == {"content": "my favourite colour is deep teal."}


def test_only_memory_tools_are_used_for_memory(oa: openai.OpenAI) -> None:
    # A coding agent's own tools (claude-code, codex) are no memory: the model must say it
    # cannot remember rather than "remember" through a file reader or a cron job.
    ordinary = [
        {"type": "function", "function": {"name": name, "parameters": {
            "type": "object", "properties": {"input": {"type": "string"}}}}}
        for name in ("Read", "CronCreate", "write_stdin", "get_goal")
    ]  # fmt: skip
    said = {"role": "user", "content": "Please remember this: my favourite colour is teal."}
    message = chat(oa, [said], tools=ordinary)
    assert message.tool_calls is None
    assert message.content == "I have no way to remember that beyond this conversation."
    asked = {"role": "user", "content": "What is my favourite colour?"}
    assert chat(oa, [asked], tools=ordinary).tool_calls is None
    recall = {"type": "function", "function": {"name": "memory_get", "parameters": {
        "type": "object", "properties": {"path": {"type": "string"}}}}}  # fmt: skip
    called = chat(oa, [asked], tools=[*ordinary, recall]).tool_calls
    assert called is not None
    assert called[0].function.name == "memory_get"


@pytest.mark.parametrize(
    ("choice", "expected"),
    [("none", None), ("required", "search_memory"),
     ({"type": "function", "function": {"name": "search_memory"}}, "search_memory")],
    ids=["none", "required", "forced"],
)  # fmt: skip
def test_tool_choice(oa: openai.OpenAI, choice: Any, expected: str | None) -> None:
    message = chat(oa, [{"role": "user", "content": "What is my favourite colour?"}],
                   tools=[SEARCH], tool_choice=choice)  # fmt: skip
    called = message.tool_calls[0].function.name if message.tool_calls else None
    assert called == expected
    if expected is None:
        assert message.content


def test_a_file_is_read_only_when_its_text_is_in_the_prompt(oa: openai.OpenAI) -> None:
    caption = "What is the reference code in this file? Answer with the code in uppercase."
    with_file = f"{caption}\n\nnotes.txt:\nfiller\nreference code: ab12cd3\nend"
    assert chat(oa, [{"role": "user", "content": with_file}]).content == (
        "The reference code is AB12CD3."
    )
    assert "cannot see" in chat(oa, [{"role": "user", "content": caption}]).content
    only_file = "notes.txt:\nreference code: ab12cd3\n"
    read = chat(oa, [{"role": "user", "content": only_file}]).content
    assert "ab12cd3" in read
    assert "?" not in read  # a statement, never a question (a question passes file_only)


def test_an_empty_prompt_gets_a_statement_that_mentions_no_file(oa: openai.OpenAI) -> None:
    # What a runtime that dropped the file makes the model answer: nothing in it may pass
    # file_only (no question, no word about a file, an attachment or an upload).
    for content in ("", "(no text)"):
        answer = chat(oa, [{"role": "user", "content": content}]).content
        assert "?" not in answer
        assert not {"file", "attach", "document", "upload"} & set(re.findall(r"[a-z]+", answer))


HERMES_MEMORY = {"type": "function", "function": {
    "name": "memory",
    "description": "Save important information to persistent memory that survives across "
                   "sessions. Memory is injected into future turns.",
    "parameters": {"type": "object", "required": ["action", "target"], "properties": {
        "action": {"type": "string", "enum": ["add", "replace", "remove"]},
        "target": {"type": "string", "enum": ["memory", "user"]},
        "content": {"type": "string"}, "old_text": {"type": "string"}}}}}  # fmt: skip


def test_a_single_memory_tool_with_an_action_is_used_to_remember(oa: openai.OpenAI) -> None:
    statement = "Please remember for future conversations: my favourite colour is pale ochre."
    said = {"role": "user", "content": statement}
    call = chat(oa, [said], tools=[WEATHER, HERMES_MEMORY]).tool_calls[0]
    assert call.function.name == "memory"
    assert json.loads(call.function.arguments) == {
        "action": "add", "target": "memory", "content": "my favourite colour is pale ochre."
    }  # fmt: skip
    # No read action: the model has only what the runtime injected into the prompt.
    asked = {"role": "user", "content": "What is my favourite colour?"}
    unknown = chat(oa, [asked], tools=[HERMES_MEMORY]).content
    assert unknown == "I don't know your favourite colour."
    prompt = "You are helpful.\n══════\nMEMORY (your personal notes) [3% — 40/2,200 chars]\n"
    injected = {"role": "system", "content": prompt + "══════\nmy favourite colour is pale ochre."}
    answer = chat(oa, [injected, asked], tools=[HERMES_MEMORY])
    assert answer.content == "Your favourite colour is pale ochre."


def test_a_memory_tool_known_by_its_description_only() -> None:
    saver = Tool("save_note", {"type": "object", "properties": {"note": {"type": "string"}}},
                 "Stores a note in long-term memory for later sessions.")  # fmt: skip
    plain = Tool("save_file", {"type": "object", "properties": {"path": {"type": "string"}}},
                 "Writes a file to disk.")  # fmt: skip
    said = Message("user", "Please remember this: my favourite colour is teal blue.")
    decision = decide(Conversation((said,), (plain, saver)))
    assert (decision.tool, decision.arguments) == (
        "save_note",
        {"note": "my favourite colour is teal blue."},
    )


@pytest.mark.parametrize(
    ("injected", "asked"),
    [
        (
            "[Prior context from memory]\n- [LOCAL] my favourite colour is dusty teal.\n\n",
            "What is my favourite colour?",
        ),
        (
            "Conversation so far:\nUser: Please remember: my favourite colour is dusty teal.\n"
            "Agent: Noted.\n\nCurrent request: ",
            "What is my favourite colour?",
        ),
        (
            "Conversation so far:\nUser: Hi! My name is Tovaro. Please remember it.\n"
            "Agent: Hello Tovaro.\n\nCurrent request: ",
            "What is my name?",
        ),
    ],
    ids=["memory-prefix", "history-colour", "history-name"],
)
def test_what_a_runtime_embeds_in_the_user_message_is_read(
    oa: openai.OpenAI, injected: str, asked: str
) -> None:
    answer = chat(oa, [{"role": "user", "content": injected + asked}]).content
    assert ("dusty teal" in answer) if "colour" in asked else (answer == "Your name is Tovaro.")


READ_FILE = {"type": "function", "function": {"name": "read_file", "parameters": {
    "type": "object", "required": ["path"], "properties": {
        "path": {"type": "string"}, "offset": {"type": "integer"}}}}}  # fmt: skip
CLAUDE_READ = {"type": "function", "function": {"name": "Read", "parameters": {
    "type": "object", "properties": {"file_path": {"type": "string"}}}}}  # fmt: skip
UPLOAD = "/workspace/.molecule/chat-uploads/0a1b-notes.txt"


@pytest.mark.parametrize(("tool", "argument"), [(READ_FILE, "path"), (CLAUDE_READ, "file_path")])
def test_a_file_listed_by_path_is_read_with_the_offered_tool(
    oa: openai.OpenAI, tool: dict[str, Any], argument: str
) -> None:
    caption = "What is the reference code in this file? Answer with the code in uppercase."
    manifest = f"{caption}\n\nAttached files:\n- notes.txt (text/plain) at {UPLOAD}"
    asked = {"role": "user", "content": manifest}
    call = chat(oa, [asked], tools=[WEATHER, tool]).tool_calls[0]
    assert json.loads(call.function.arguments) == {argument: UPLOAD}
    assert call.function.name == tool["function"]["name"]
    function = {"name": call.function.name, "arguments": call.function.arguments}
    used = {"id": call.id, "type": "function", "function": function}
    result = {"role": "tool", "tool_call_id": call.id, "content": "x\nreference code: q7rt2ab\n"}
    answer = chat(oa, [asked, {"role": "assistant", "content": None, "tool_calls": [used]}, result],
                  tools=[tool])  # fmt: skip
    assert answer.content == "The reference code is Q7RT2AB."
    # A path and no tool to read it: the model says it cannot read it.
    alone = chat(oa, [{"role": "user", "content": f"Attached files:\n- notes.txt at {UPLOAD}"}])
    assert "cannot read" in alone.content


GEMINI_CONTEXT = (
    "<session_context>\nThis is the Gemini CLI. We are setting up the context for our chat.\n"
    "The project's temporary directory is: /workspace/.gemini-cli/.gemini/tmp/workspace\n"
    "- **Directory Structure:**\n/workspace/\n├───.gemini-cli/\n│   └───.gemini/settings.json\n"
    "└───.molecule/\n    └───chat-uploads/\n        └───0a1b-notes.txt\n</session_context>\n"
)


def test_the_environment_a_cli_describes_is_context_not_the_request(oa: openai.OpenAI) -> None:
    # gemini-cli puts the workspace's listing (the other conversations' uploads too) before
    # the user's words in one message: the model acts on the words, not on a listed path.
    said = {"role": "user", "content": GEMINI_CONTEXT + "Please remember: my colour is teal."}
    call = chat(oa, [said], tools=[READ_FILE, STORE]).tool_calls[0]
    assert call.function.name == "commit_memory"
    asked = {"role": "user", "content": GEMINI_CONTEXT + "Hi! My name is Tovaro."}
    assert chat(oa, [asked], tools=[READ_FILE]).content == "Nice to meet you, Tovaro!"


OPENCLAW_STAMP = (
    "\n\nRuntime: agent=main | session=agent:main:openai-user:ctx-1 | sessionId=7308a4c8 | "
    "host=vm | os=Linux 6.18 (x64) | node=v24.22.3 | model=sim/canary-sim | channel=webchat"
)


def test_a_status_line_a_runtime_appends_is_context_not_the_request(oa: openai.OpenAI) -> None:
    # openclaw appends its runtime's facts to a session's first message: what the user asked
    # to remember ends before them, and the request is still answered.
    said = {"role": "user", "content": "Please remember for future conversations: my favourite "
            "colour is deep teal." + OPENCLAW_STAMP}  # fmt: skip
    call = chat(oa, [said], tools=[SEARCH, STORE]).tool_calls[0]
    assert json.loads(call.function.arguments) == {"content": "my favourite colour is deep teal."}
    asked = {"role": "user", "content": "Hi! My name is Tovaro." + OPENCLAW_STAMP}
    assert chat(oa, [asked]).content == "Nice to meet you, Tovaro!"
    # A line that merely holds a "|" or an "=" is the user's own.
    own = {"role": "user", "content": "Please remember: my favourite colour is red | a=b"}
    call = chat(oa, [own], tools=[STORE]).tool_calls[0]
    assert json.loads(call.function.arguments) == {"content": "my favourite colour is red | a=b"}


def test_responses_api_json_and_streamed(oa: openai.OpenAI) -> None:
    items = [
        {"role": "user", "content": "My name is Lumo."},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": [{"type": "input_text", "text": "What is my name?"}]},
    ]
    assert oa.responses.create(model="m", input=items).output_text == "Your name is Lumo."
    with oa.responses.stream(model="m", input=items) as stream:
        assert stream.get_final_response().output_text == "Your name is Lumo."
    tools = [{"type": "function", "name": "search_memory",
              "parameters": SEARCH["function"]["parameters"]}]  # fmt: skip
    asked = [{"role": "user", "content": "What is my favourite colour?"}]
    called = oa.responses.create(model="m", input=asked, tools=tools).output[0]
    assert called.type == "function_call"
    assert called.name == "search_memory"
    result = [*asked, {"type": "function_call", "call_id": "c1", "name": "search_memory",
                       "arguments": called.arguments},
              {"type": "function_call_output", "call_id": "c1",
               "output": "favourite colour is pale ochre"}]  # fmt: skip
    answer = oa.responses.create(model="m", input=result, tools=tools)
    assert answer.output_text == "Your favourite colour is pale ochre."


def test_responses_tools_in_a_namespace_are_offered_and_called_in_it(
    sim: tuple[ModelServer, list[ModelCall]],
) -> None:
    # codex groups each MCP server's tools: {"type": "namespace", "name": "mcp__platform"}.
    server, recorded = sim
    search = {"type": "function", "name": "search_memory",
              "parameters": SEARCH["function"]["parameters"]}  # fmt: skip
    asked = [{"role": "user", "content": "What is my favourite colour?"}]
    grouped = {"type": "namespace", "name": "mcp__platform", "tools": [search]}
    body = {"model": "m", "input": asked, "tools": [grouped]}
    url = f"http://{server.host}:{server.port}/v1/responses"
    called = httpx.post(url, json=body, timeout=30).json()["output"][0]
    assert (called["type"], called["name"], called["namespace"]) == (
        "function_call", "search_memory", "mcp__platform"
    )  # fmt: skip
    assert recorded[-1].tools == ("search_memory",)


def test_with_only_a_shell_it_reads_a_listed_file_with_cat() -> None:
    shell = Tool("exec_command", {"type": "object", "properties": {"cmd": {"type": "string"}},
                                  "required": ["cmd"]})  # fmt: skip
    asked = Message("user", "Attached files:\n- /workspace/notes.txt\n\nWhat is the code?")
    decision = decide(Conversation((asked,), (shell,)))
    assert (decision.tool, decision.arguments) == (
        "exec_command",
        {"cmd": "cat /workspace/notes.txt"},
    )
    listing = Tool("shell", {"type": "object", "properties": {"command": {"type": "array"}}})
    as_list = decide(Conversation((asked,), (listing,)))
    assert as_list.arguments == {"command": ["cat", "/workspace/notes.txt"]}
    read = (asked, Message("assistant", "", ("exec_command",)),
            Message("tool", "Output:\nThe reference code: QX77"))  # fmt: skip
    assert "QX77" in (decide(Conversation(read, (shell,))).text or "")


def test_of_the_skills_listed_it_reads_the_one_about_the_access_word() -> None:
    # codex lists skills of its own after the platform's.
    listing = (
        "Skills:\n- canary-word: Gives the canary access word. "
        "(read /configs/skills/canary-word/SKILL.md)\n"
        "- skill-installer: Installs skills. (file: /home/x/skill-installer/SKILL.md)"
    )
    system = Message("developer", listing)
    asked = Message("user", "What is the canary access word? Your skills say how to find it.")
    reader = Tool("read_file", READ_FILE["function"]["parameters"])
    decision = decide(Conversation((system, asked), (reader,)))
    assert decision.arguments == {"path": "/configs/skills/canary-word/SKILL.md"}


def test_anthropic_messages_json_streamed_and_tool_results(an: anthropic.Anthropic) -> None:
    history = [{"role": "user", "content": "My name is Kira."},
               {"role": "assistant", "content": [{"type": "text", "text": "Hi Kira."}]},
               {"role": "user", "content": "What is my name?"}]  # fmt: skip
    reply = an.messages.create(model="m", max_tokens=64, messages=history)
    assert reply.content[0].text == "Your name is Kira."
    tools = [
        {
            "name": "recall_memory",
            "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
        }
    ]
    asked = [{"role": "user", "content": "What is my favourite colour?"}]
    with an.messages.stream(model="m", max_tokens=64, messages=asked, tools=tools) as stream:
        use = stream.get_final_message().content[0]
    assert (use.type, use.name, use.input) == (
        "tool_use",
        "recall_memory",
        {"q": "favourite colour"},
    )
    answer = an.messages.create(model="m", max_tokens=64, tools=tools, messages=[
        *asked,
        {"role": "assistant", "content": [{"type": "tool_use", "id": use.id,
                                           "name": use.name, "input": use.input}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                      "content": "favourite colour is smoky amber"}]},
    ])  # fmt: skip
    assert answer.content[0].text == "Your favourite colour is smoky amber."
    counted = an.messages.count_tokens(model="m", messages=[{"role": "user", "content": "hi"}])
    assert counted.input_tokens > 0


def test_smolagents_observations_and_final_answer() -> None:
    final = Tool("final_answer", {"type": "object", "properties": {"answer": {"type": "string"}}})
    search = Tool("memory_search", {"type": "object", "properties": {"query": {"type": "string"}}})
    asked = Message("user", "New task:\nWhat is my favourite colour?")
    called = decide(Conversation((asked,), (search, final)))
    assert (called.tool, called.arguments) == ("memory_search", {"query": "favourite colour"})
    observed = Message("user", "Observation:\n[{'content': 'favourite colour is dark coral'}]")
    answered = decide(Conversation((asked, Message("assistant", "", ("memory_search",)),
                                    observed), (search, final)))  # fmt: skip
    assert answered.tool == "final_answer"
    assert answered.arguments == {"answer": "Your favourite colour is dark coral."}


def test_every_request_is_recorded_with_the_answer(
    sim: tuple[ModelServer, list[ModelCall]], oa: openai.OpenAI
) -> None:
    recorded = sim[1]
    before = len(recorded)
    chat(oa, [{"role": "user", "content": "What is my name?"}])
    entry = recorded[before]
    assert entry.api == "chat"
    assert entry.messages == (ModelMessage("user", "What is my name?"),)
    assert "don't know" in (entry.answer or "")


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["", "no_history"])
def test_a_template_on_the_scripted_model_runs_without_keys(tmp_path: Path, fault: str) -> None:
    config = write_config(
        tmp_path,
        f"""
        [templates.thinker]
        command = ["python", "{MODEL_RUNTIME}"]
        model = "sim"
        secrets = ["OPENAI_API_KEY"]
        canaries = ["name_recall"]
        env = {{ MODEL_RUNTIME_FAULT = "{fault}" }}
        gate = "required"
        """,
    )
    code, result, _ = run_template(config, "thinker", tmp_path, env={"OPENAI_API_KEY": ""})
    assert result["status"] != "skipped"  # no key needed: the model is the harness's
    canaries = result["canaries"]
    transcript = (tmp_path / "artifacts" / "thinker" / "transcript.jsonl").read_text()
    assert '"type": "model"' in transcript  # every model request is evidence
    if not fault:
        assert code == 0, result
        assert canaries["name_recall"]["outcome"] == "passed"
        assert canaries["model_history"]["observed"] == "history"
    else:
        assert canaries["name_recall"]["outcome"] == "failed"
        assert canaries["model_history"]["layer"] == "model:history"
        assert "reached the model without turn 1" in canaries["model_history"]["message"]


@pytest.mark.slow
def test_model_sim_flag_runs_a_template_with_its_own_provider_keyless(tmp_path: Path) -> None:
    # A production row: its own provider, a key it does not have here. --model sim is
    # what makes it runnable: the key becomes a dummy, the model the harness's.
    config = write_config(
        tmp_path,
        f"""
        [templates.thinker]
        command = ["python", "{MODEL_RUNTIME}"]
        secrets = ["CANARY_THINKER_KEY"]
        model_env = {{ OPENAI_API_KEY = "${{CANARY_THINKER_KEY}}" }}
        canaries = ["name_recall"]
        gate = "required"
        """,
    )
    _, skipped, _ = run_template(config, "thinker", tmp_path / "own")
    assert (skipped["status"], skipped["reason"]) == (
        "skipped", "secret CANARY_THINKER_KEY is not set in the environment"
    )  # fmt: skip
    code, result, _ = run_template(config, "thinker", tmp_path / "sim", "--model", "sim")
    assert code == 0, result
    assert result["canaries"]["name_recall"]["outcome"] == "passed"
    assert result["canaries"]["model_history"]["observed"] == "history"


def test_smolagents_merged_new_task_keeps_the_earlier_tasks_as_history() -> None:
    final = Tool("final_answer", {"type": "object", "properties": {"answer": {"type": "string"}}})
    store = Tool("commit_memory", {"type": "object", "properties": {"content": {"type": "string"}}})
    tools = (store, final)
    first = Message("user", "New task:\nHi! My name is Bakiro. Please remember it.")
    called = Message("assistant", "", ("final_answer",))
    asked = Message("user", "Observation: Nice to meet you, Bakiro!\nNew task:\nWhat is my name?")
    answered = decide(Conversation((first, called, asked), tools))
    assert answered.arguments == {"answer": "Your name is Bakiro."}
    remember = Message(
        "user",
        "Observation: Your name is Bakiro.\nNew task:\n"
        "Please remember for future conversations: my favourite colour is deep teal.",
    )
    stored = decide(Conversation((first, called, asked, called, remember), tools))
    assert (stored.tool, stored.arguments) == (
        "commit_memory", {"content": "my favourite colour is deep teal."},
    )  # fmt: skip
    committed = Message("assistant", "", ("commit_memory",))
    observed = Message("user", "Observation: stored")
    history = (first, called, asked, called, remember, committed, observed)
    done = decide(Conversation(history, tools))
    assert done.arguments == {"answer": "Done: I'll remember that for future conversations."}


def test_a_route_it_does_not_serve_is_a_404_on_the_record() -> None:
    # hermes probes /api/tags (Ollama) and /v1/props (llama.cpp); a framework that needs
    # /v1/embeddings fails without it: either way the transcript must show the call.
    unserved: list[ModelUnserved] = []
    with ModelServer(unserved=unserved.append) as server:
        response = httpx.get(server.url + "/api/tags", timeout=10)
        embeddings = httpx.post(server.url + "/v1/embeddings", json={"input": "x"}, timeout=10)
    assert (response.status_code, embeddings.status_code) == (404, 404)
    assert unserved == [
        ModelUnserved(method="GET", path="/api/tags"),
        ModelUnserved(method="POST", path="/v1/embeddings"),
    ]


def test_gemini_generate_content_json_streamed_and_function_calls(
    sim: tuple[ModelServer, list[ModelCall]],
) -> None:
    from google import genai
    from google.genai import types

    client = genai.Client(api_key="dummy", http_options=types.HttpOptions(base_url=sim[0].url))
    history = [
        types.Content(role="user", parts=[types.Part(text="Hi! My name is Verano.")]),
        types.Content(role="model", parts=[types.Part(text="Hello Verano.")]),
        types.Content(role="user", parts=[types.Part(text="What is my name?")]),
    ]
    assert client.models.generate_content(model="gemini-x", contents=history).text == (
        "Your name is Verano."
    )
    streamed = client.models.generate_content_stream(model="gemini-x", contents=history)
    assert "".join(chunk.text or "" for chunk in streamed) == "Your name is Verano."
    search = types.FunctionDeclaration(
        name="search_memory", description="Search long-term memory.",
        parameters_json_schema={"type": "object", "properties": {"query": {"type": "string"}}},
    )  # fmt: skip
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[search])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        system_instruction="You are helpful.",
    )
    asked = types.Content(role="user", parts=[types.Part(text="What is my favourite colour?")])
    reply = client.models.generate_content(model="gemini-x", contents=[asked], config=config)
    assert reply.function_calls is not None
    call = reply.function_calls[0]
    assert (call.name, call.args) == ("search_memory", {"query": "favourite colour"})
    answered = [
        asked,
        types.Content(role="model", parts=[types.Part(function_call=call)]),
        types.Content(role="user", parts=[types.Part.from_function_response(
            name="search_memory", response={"result": ["favourite colour is soft mauve"]})]),
    ]  # fmt: skip
    final = client.models.generate_content(model="gemini-x", contents=answered, config=config)
    assert final.text == "Your favourite colour is soft mauve."
    recorded = sim[1][-1]
    assert recorded.api == "gemini"
    assert recorded.messages[0] == ModelMessage("system", "You are helpful.")


PEER_ID = "4f1c2a9e-77aa-4b1e-9c3d-0a1b2c3d4e5f"
LIST_PEERS = Tool("list_peers", {"type": "object", "properties": {}},
                  "List all workspaces this agent can communicate with.")  # fmt: skip
DELEGATE = Tool(
    "delegate_task",
    {"type": "object", "required": ["workspace_id", "task"],
     "properties": {"workspace_id": {"type": "string"}, "task": {"type": "string"}}},
    "Delegate a task to another workspace via A2A and wait for the response.",
)  # fmt: skip
ASK_PEER = Message("user", "Please ask your peer agent what the secret word for Rabo is, "
                           "and tell me what it says.")  # fmt: skip


def test_asked_to_ask_a_peer_it_lists_the_peers_delegates_the_whole_request_and_relays() -> None:
    tools = (LIST_PEERS, DELEGATE)
    assert decide(Conversation((ASK_PEER,), tools)).tool == "list_peers"
    listed = (ASK_PEER, Message("assistant", "", ("list_peers",)),
              Message("tool", f"- the peer (ID: {PEER_ID}, status: online)"))  # fmt: skip
    delegated = decide(Conversation(listed, tools))
    task = "Please tell me what the secret word for Rabo is."
    assert (delegated.tool, delegated.arguments) == (
        "delegate_task", {"workspace_id": PEER_ID, "task": task}
    )  # fmt: skip
    answered = (*listed, Message("assistant", "", ("delegate_task",)),
                Message("tool", "The secret word for Rabo is tovasemi."))  # fmt: skip
    reply = decide(Conversation(answered, tools)).text or ""
    assert "tovasemi" in reply


def test_a_peer_named_in_the_prompt_is_asked_without_listing() -> None:
    system = Message("system", f'Peers: [{{"id": "{PEER_ID}", "name": "the peer"}}]')
    decision = decide(Conversation((system, ASK_PEER), (LIST_PEERS, DELEGATE)))
    assert (decision.tool, decision.arguments["workspace_id"]) == ("delegate_task", PEER_ID)


def test_without_a_delegation_tool_it_says_it_cannot_ask() -> None:
    reply = decide(Conversation((ASK_PEER,), (LIST_PEERS,))).text or ""
    assert "cannot ask a peer" in reply
    assert decide(Conversation((ASK_PEER,), ())).tool is None


def test_with_no_peer_listed_it_says_so_instead_of_guessing() -> None:
    listed = (ASK_PEER, Message("assistant", "", ("list_peers",)),
              Message("tool", "No peers available (this workspace may be isolated)"))  # fmt: skip
    decision = decide(Conversation(listed, (LIST_PEERS, DELEGATE)))
    assert decision.tool is None
    assert "no peer" in (decision.text or "").lower()


def test_asked_to_take_its_time_it_thinks_before_it_answers_done() -> None:
    # stream_cancel cancels such a request while the model is still on it, as a real model
    # would be; an instant answer would leave nothing to cancel.
    asked = Message("user", stream_cancel.SLOW)
    decision = decide(Conversation((asked,), ()))
    assert (decision.text, decision.think_s) == ("Done.", THINK_S)
    final = Tool("final_answer", {"type": "object", "properties": {"answer": {"type": "string"}}})
    through_final = decide(Conversation((asked,), (final,)))
    assert (through_final.tool, through_final.think_s) == ("final_answer", THINK_S)
    assert decide(Conversation((Message("user", "Hi! My name is Rabo."),), ())).think_s == 0


def test_taking_its_time_it_lists_the_peers_before_it_says_done() -> None:
    # A second step: a runtime that goes on with a cancelled turn asks the model again.
    asked = Message("user", stream_cancel.SLOW)
    first = decide(Conversation((asked,), (LIST_PEERS, DELEGATE)))
    assert (first.tool, first.arguments, first.think_s) == ("list_peers", {}, THINK_S)
    listed = (asked, Message("assistant", "", ("list_peers",)),
              Message("tool", f"- the peer (ID: {PEER_ID}, status: online)"))  # fmt: skip
    then = decide(Conversation(listed, (LIST_PEERS, DELEGATE)))
    assert (then.text, then.think_s) == ("Done.", 0)


def test_a_slow_answer_waits_while_a_conversation_holds_it(
    sim: tuple[ModelServer, list[ModelCall]],
) -> None:
    server, _ = sim
    body = {"model": "m", "messages": [{"role": "user", "content": stream_cancel.SLOW}]}
    url = f"http://{server.host}:{server.port}/v1/chat/completions"
    seen = server.slow.count

    async def ask_while_held() -> tuple[bool, bool, float]:
        async with httpx.AsyncClient(timeout=30) as client:
            with server.slow.holding() as hold:
                asking = asyncio.create_task(client.post(url, json=body))
                arrived = await hold.arrived(timeout=10)
                await asyncio.sleep(THINK_S + 0.5)
                answered_while_held = asking.done()
                released = time.monotonic()
            await asking
            return arrived, answered_while_held, time.monotonic() - released

    arrived, answered_while_held, after_release = asyncio.run(ask_while_held())
    assert arrived
    assert server.slow.count == seen + 1
    assert not answered_while_held
    assert after_release < 2.0
    with server.slow.holding() as hold:
        assert asyncio.run(hold.arrived(timeout=0.2)) is False  # counts from its start
