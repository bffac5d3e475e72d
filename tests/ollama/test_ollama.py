"""Ollama layer (docs/ARCHITECTURE.md, Testing layers, 4): the real `ollama` client against a loopback server.

Nothing here talks to a real Ollama: every request goes to `FakeOllama` on 127.0.0.1,
which follows the Ollama REST API (NDJSON streaming, `{"error": ...}` bodies) and can be
told to fail in each way a real server does.
"""

from __future__ import annotations

import json
import time

import httpx
import ollama
import pytest

from pantry.errors import GeneratorError, GeneratorUnavailable, InvalidInput
from pantry.generators import (
    GenerationRequest,
    GeneratorChoice,
    OfflineComposer,
    OllamaGenerator,
    check_ollama,
    generate_with_fallback,
    select_generator,
)
from pantry.generators.ollama_gen import build_messages, model_matches, normalise_model_name
from pantry.domain.recipes import content_id, recipe_json_schema
from pantry.settings import Settings

try:
    from ollama_server import RECIPES, FakeOllama, closed_port_url
except ImportError:  # tests/ is a package
    from tests.ollama_server import RECIPES, FakeOllama, closed_port_url

MODEL = "llama3.2:3b"
PANTRY = ("eggs", "spinach", "onion", "tomato", "rice")


@pytest.fixture
def server():
    with FakeOllama(models=(MODEL, "mistral")) as s:
        yield s


def make_gen(server: FakeOllama, timeout: float = 5.0, **kw) -> OllamaGenerator:
    return OllamaGenerator(server.url, kw.pop("model", MODEL), timeout, **kw)


def settings_for(tmp_path, host: str, generator: str = "auto", model: str = MODEL, timeout: float = 5.0) -> Settings:
    return Settings(home=tmp_path, embedder="all-MiniLM-L6-v2", device="cpu", ollama_host=host,
                    ollama_model=model, ollama_timeout=timeout, generator=generator, max_pantry_chars=5000)


def chat_bodies(server: FakeOllama) -> list[dict]:
    return [r["body"] for r in server.generation_requests()]


# ---------------------------------------------------------------------------------------
# The test server itself follows the documented API (checked with the real client)
# ---------------------------------------------------------------------------------------

def test_server_speaks_the_ollama_api(server):
    client = ollama.Client(host=server.url, timeout=5)
    listed = client.list()
    assert {m.model for m in listed.models} == {"llama3.2:3b", "mistral:latest"}
    assert listed.models[0].details.family == "llama"
    assert httpx.get(server.url + "/api/version").json() == {"version": "0.5.1"}

    chunks = list(client.chat(model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True,
                              options={"seed": 1}))
    assert len(chunks) > 5 and all(not c.done for c in chunks[:-1])
    last = chunks[-1]
    assert last.done and last.done_reason == "stop" and last.eval_count and last.total_duration > 0
    assert json.loads("".join(c.message.content for c in chunks))["title"] == RECIPES[1]["title"]

    whole = client.chat(model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=False)
    assert whole.done and json.loads(whole.message.content)["title"]

    parts = list(client.generate(model=MODEL, prompt="a recipe", stream=True, options={"seed": 2}))
    assert parts[-1].done and json.loads("".join(p.response for p in parts))["title"] == RECIPES[2]["title"]
    single = client.generate(model=MODEL, prompt="a recipe", stream=False)
    assert single.done and single.context

    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model="nope:1b", messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 404 and err.value.error == 'model "nope:1b" not found, try pulling it first'

    bad = httpx.post(server.url + "/api/chat", content=b"{not json")
    assert bad.status_code == 400 and "error" in bad.json()
    assert httpx.post(server.url + "/api/chat", content=b"").json() == {"error": "missing request body"}


def test_server_stream_error_line_and_modes_queue(server):
    client = ollama.Client(host=server.url, timeout=5)
    server.modes.extend(["mid_stream_error", "server_error"])
    got = []
    with pytest.raises(ollama.ResponseError) as err:
        for chunk in client.chat(model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True):
            got.append(chunk)
    assert got and "error was encountered" in err.value.error and err.value.status_code == -1
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 500
    assert client.chat(model=MODEL, messages=[{"role": "user", "content": "hi"}]).done  # queue used up


# ---------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------

def test_generates_n_distinct_valid_recipes_with_schema_and_progress(server):
    progress: list[tuple[int, int, str]] = []
    gen = make_gen(server)
    assert gen.name == f"ollama:{MODEL}"
    recipes = gen.generate(GenerationRequest(pantry=PANTRY, n=3, servings=2, seed=0),
                           on_progress=lambda d, t, m: progress.append((d, t, m)))
    assert len(recipes) == 3
    assert len({r.id for r in recipes}) == 3 and len({r.title for r in recipes}) == 3
    for r in recipes:
        assert r.source == f"ollama:{MODEL}"
        assert r.id == content_id(r.title, r.ingredients, r.steps)
        assert r.ingredients and r.steps
    assert progress and all(t == 3 for _, t, _ in progress)
    assert progress[-1][0] == 3
    assert any("characters received" in m for _, _, m in progress)

    bodies = chat_bodies(server)
    assert len(bodies) == 3 and gen.calls == 3
    assert all(server.generation_requests()[i]["path"] == "/api/chat" for i in range(3))
    for body in bodies:
        assert body["model"] == MODEL
        assert body["format"] == recipe_json_schema()
        assert body["stream"] is True
        assert set(body["options"]) >= {"seed", "temperature"}
        assert [m["role"] for m in body["messages"]] == ["system", "user"]
        assert "Use mainly these ingredients: eggs, spinach, onion, tomato, rice." in body["messages"][1]["content"]
    seeds = [b["options"]["seed"] for b in bodies]
    temps = [b["options"]["temperature"] for b in bodies]
    assert len(set(seeds)) == 3 and len(set(temps)) == 3
    assert all(0.7 <= t <= 1.1 for t in temps)


def test_prompt_says_diet_cuisine_time_and_servings():
    messages = build_messages(GenerationRequest(pantry=("lentils", "carrot"), diets=("vegetarian", "nut-free"),
                                                cuisine="Indian", max_minutes=30, servings=4))
    user = messages[1]["content"]
    assert "Use mainly these ingredients: lentils, carrot." in user
    assert "must be vegetarian" in user and "must be nut-free" in user
    assert "Cuisine: Indian." in user and "at most 30 minutes" in user and "Servings: 4." in user
    assert "JSON" in messages[0]["content"]


def test_vegetarian_request_gets_vegetarian_recipes(server):
    from pantry.kitchen import diet_violations

    recipes = make_gen(server).generate(GenerationRequest(pantry=PANTRY, n=2, diets=("vegetarian",), seed=3))
    assert len(recipes) == 2
    assert all(not diet_violations(r, ("vegetarian",)) for r in recipes)
    assert all("must be vegetarian" in b["messages"][1]["content"] for b in chat_bodies(server))


def test_invalid_json_is_retried_with_another_seed_then_succeeds(server):
    server.modes.extend(["invalid_json"])
    recipes = make_gen(server).generate(GenerationRequest(pantry=PANTRY, n=1))
    assert len(recipes) == 1
    bodies = chat_bodies(server)
    assert len(bodies) == 2
    assert bodies[0]["options"]["seed"] != bodies[1]["options"]["seed"]
    assert "not valid JSON (cut off at the length limit)" in bodies[1]["messages"][1]["content"]
    assert bodies[0]["options"]["num_predict"] > 500


def test_invalid_json_every_time_is_reported_after_retries(server):
    server.mode = "not_json"
    with pytest.raises(GeneratorError) as err:
        make_gen(server, max_retries=2).generate(GenerationRequest(pantry=PANTRY, n=1))
    assert not isinstance(err.value, GeneratorUnavailable)
    assert "after 3 tries" in str(err.value) and "not valid JSON" in str(err.value)
    assert len(chat_bodies(server)) == 3


def test_diet_violation_is_retried_then_reported(server):
    server.mode = "diet_violation"
    with pytest.raises(GeneratorError) as err:
        make_gen(server).generate(GenerationRequest(pantry=PANTRY, n=1, diets=("vegetarian",)))
    message = str(err.value)
    assert "Spaghetti Carbonara" in message and "breaks the diet" in message and "\n" not in message
    assert "after 3 tries" in message
    assert len({b["options"]["seed"] for b in chat_bodies(server)}) == 3


def test_diet_violation_then_valid_recipe(server):
    server.modes.append("diet_violation")
    recipes = make_gen(server).generate(GenerationRequest(pantry=PANTRY, n=1, diets=("vegetarian",)))
    assert len(recipes) == 1 and "bacon" not in " ".join(recipes[0].ingredients).lower()
    assert len(chat_bodies(server)) == 2


def test_recipe_far_over_max_minutes_is_retried(server):
    server.modes.append("too_slow_recipe")
    recipes = make_gen(server).generate(GenerationRequest(pantry=PANTRY, n=1, max_minutes=30))
    assert recipes[0].minutes <= 45
    second_prompt = chat_bodies(server)[1]["messages"][1]["content"]
    assert "240 minutes" in second_prompt


def test_near_duplicates_are_dropped_and_more_are_asked(server):
    server.modes.extend(["duplicate", "duplicate"])
    recipes = make_gen(server).generate(GenerationRequest(pantry=PANTRY, n=2, seed=0))
    assert len(recipes) == 2 and recipes[0].title != recipes[1].title
    assert len(chat_bodies(server)) == 3
    assert "Make it clearly different from these recipes" in chat_bodies(server)[2]["messages"][1]["content"]


def test_calls_are_bounded_when_the_model_repeats_itself(server):
    server.mode = "duplicate"
    gen = make_gen(server)
    with pytest.raises(GeneratorError, match="only 1 distinct recipe"):
        gen.generate(GenerationRequest(pantry=PANTRY, n=2))
    assert len(chat_bodies(server)) == 2 * 2 + 2 == gen.calls


# ---------------------------------------------------------------------------------------
# Errors map to project exceptions with one-line messages
# ---------------------------------------------------------------------------------------

def test_refused_connection_is_unavailable():
    url = closed_port_url()
    with pytest.raises(GeneratorUnavailable) as err:
        OllamaGenerator(url, MODEL, 2).generate(GenerationRequest(pantry=PANTRY, n=1))
    assert str(err.value) == f"Ollama is not reachable at {url}: start it with `ollama serve`"


@pytest.mark.parametrize("how", ["unknown_model", "mode"])
def test_missing_model_names_the_pull_command(server, how):
    if how == "mode":
        server.mode = "not_found"
        model = MODEL
    else:
        model = "qwen2.5:7b"
    with pytest.raises(GeneratorUnavailable) as err:
        make_gen(server, model=model).generate(GenerationRequest(pantry=PANTRY, n=1))
    assert f"`ollama pull {model}`" in str(err.value)
    assert "not found, try pulling it first" in str(err.value)


def test_server_error_500_is_a_generator_error_with_the_servers_message(server):
    server.mode = "server_error"
    with pytest.raises(GeneratorError) as err:
        make_gen(server).generate(GenerationRequest(pantry=PANTRY, n=1))
    assert not isinstance(err.value, GeneratorUnavailable)
    assert str(err.value) == "Ollama error (HTTP 500): llama runner process has terminated: exit status 2"
    assert len(chat_bodies(server)) == 1  # server failures are not retried


def test_bad_request_400(server):
    server.mode = "bad_request"
    with pytest.raises(GeneratorError, match=r"HTTP 400"):
        make_gen(server).generate(GenerationRequest(pantry=PANTRY, n=1))


def test_error_in_the_middle_of_the_stream(server):
    server.mode = "mid_stream_error"
    progress = []
    with pytest.raises(GeneratorError) as err:
        make_gen(server).generate(GenerationRequest(pantry=PANTRY, n=1), on_progress=lambda *a: progress.append(a))
    assert not isinstance(err.value, GeneratorUnavailable)
    assert str(err.value) == "Ollama failed while writing the recipe: an error was encountered while running the model"


def test_a_hanging_server_times_out_quickly(server):
    server.mode = "hang"
    server.hang_seconds = 4.0
    start = time.monotonic()
    with pytest.raises(GeneratorError) as err:
        make_gen(server, timeout=1.0).generate(GenerationRequest(pantry=PANTRY, n=2))
    elapsed = time.monotonic() - start
    assert elapsed < 1.0 + 2.0
    assert str(err.value).startswith("Ollama did not answer within 1 s")
    assert len(chat_bodies(server)) == 1  # no retry after a timeout


def test_a_trickling_server_is_cut_off_at_the_deadline(server):
    server.mode = "trickle"
    server.trickle_interval = 0.2
    start = time.monotonic()
    with pytest.raises(GeneratorError, match="did not answer within 1 s"):
        make_gen(server, timeout=1.0).generate(GenerationRequest(pantry=PANTRY, n=1))
    assert time.monotonic() - start < 1.0 + 2.0


def test_progress_callback_errors_pass_through_unchanged(server):
    class Stop(Exception):
        pass

    def on_progress(done, total, message):
        raise Stop()

    with pytest.raises(Stop):
        make_gen(server).generate(GenerationRequest(pantry=PANTRY, n=1), on_progress=on_progress)


# ---------------------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------------------

def test_check_ollama_up_with_model(server):
    status = check_ollama(server.url, MODEL)
    assert status.reachable and status.has_model and status.version == "0.5.1"
    assert status.models == ("llama3.2:3b", "mistral:latest")
    assert status.reason == f"Ollama 0.5.1 at {server.url} has {MODEL}"
    assert [r["path"] for r in server.requests] == ["/api/version", "/api/tags"]


def test_check_ollama_model_missing(server):
    status = check_ollama(server.url, "qwen2.5:7b")
    assert status.reachable and not status.has_model
    assert status.reason == "model qwen2.5:7b is not pulled: run `ollama pull qwen2.5:7b`"


def test_check_ollama_latest_tag_matching(server):
    assert check_ollama(server.url, "mistral").has_model
    assert check_ollama(server.url, "mistral:latest").has_model
    assert not check_ollama(server.url, "llama3.2").has_model  # llama3.2 means llama3.2:latest
    assert normalise_model_name("llama3.2") == "llama3.2:latest"
    assert model_matches("library/x", ["library/x:latest"])


def test_check_ollama_down():
    url = closed_port_url()
    start = time.monotonic()
    status = check_ollama(url, MODEL, timeout=1.0)
    assert time.monotonic() - start < 2.0
    assert not status.reachable and not status.has_model and status.version is None
    assert status.reason == f"Ollama is not reachable at {url} (connection refused)"


def test_check_ollama_hanging_server_is_not_reachable(server):
    server.hang_discovery = True
    start = time.monotonic()
    status = check_ollama(server.url, MODEL, timeout=0.5)
    assert time.monotonic() - start < 0.5 + 2.0
    assert not status.reachable
    assert status.reason == f"Ollama is not reachable at {server.url} (no answer within 0.5 s)"


def test_check_ollama_something_else_on_the_port():
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import threading

    class NotOllama(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), NotOllama)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        status = check_ollama(f"http://127.0.0.1:{httpd.server_address[1]}", MODEL, timeout=1.0)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert not status.reachable and "not Ollama" in status.reason


# ---------------------------------------------------------------------------------------
# Selection and fallback
# ---------------------------------------------------------------------------------------

def test_select_auto_uses_ollama_when_up_with_model(server, tmp_path):
    choice = select_generator(settings_for(tmp_path, server.url))
    assert isinstance(choice, GeneratorChoice)
    assert choice.backend == "ollama" and choice.name == f"ollama:{MODEL}"
    assert isinstance(choice.generator, OllamaGenerator)
    assert choice.reason == f"Ollama 0.5.1 at {server.url} has {MODEL}"
    assert choice.ollama is not None and choice.ollama.has_model


def test_select_auto_falls_back_when_unreachable(tmp_path):
    url = closed_port_url()
    choice = select_generator(settings_for(tmp_path, url))
    assert choice.backend == "offline" and choice.name == "offline-composer"
    assert isinstance(choice.generator, OfflineComposer)
    assert choice.reason == f"offline composer: Ollama is not reachable at {url} (connection refused)"
    assert choice.ollama is not None and not choice.ollama.reachable


def test_select_auto_falls_back_when_model_missing(server, tmp_path):
    choice = select_generator(settings_for(tmp_path, server.url, model="qwen2.5:7b"))
    assert choice.backend == "offline"
    assert choice.reason == "offline composer: model qwen2.5:7b is not pulled: run `ollama pull qwen2.5:7b`"


def test_select_offline_makes_no_request(server, tmp_path):
    choice = select_generator(settings_for(tmp_path, server.url, generator="ollama"), backend="offline")
    assert choice.backend == "offline" and choice.reason == "offline composer selected"
    assert choice.ollama is None and server.requests == []


def test_select_ollama_explicitly(server, tmp_path):
    assert select_generator(settings_for(tmp_path, server.url), backend="ollama").backend == "ollama"
    with pytest.raises(GeneratorUnavailable, match=r"run `ollama pull qwen2.5:7b`"):
        select_generator(settings_for(tmp_path, server.url, model="qwen2.5:7b", generator="ollama"))
    url = closed_port_url()
    with pytest.raises(GeneratorUnavailable, match="not reachable"):
        select_generator(settings_for(tmp_path, url), backend="ollama")
    with pytest.raises(InvalidInput, match="unknown generator"):
        select_generator(settings_for(tmp_path, url), backend="gpt")


def test_generate_with_fallback_success_keeps_the_choice(server, tmp_path):
    choice = select_generator(settings_for(tmp_path, server.url))
    recipes, used = generate_with_fallback(choice, GenerationRequest(pantry=PANTRY, n=2))
    assert used is choice and len(recipes) == 2
    assert all(r.source == f"ollama:{MODEL}" for r in recipes)


def test_generate_with_fallback_falls_back_on_500(server, tmp_path):
    choice = select_generator(settings_for(tmp_path, server.url))
    assert choice.backend == "ollama"
    server.mode = "server_error"
    progress = []
    recipes, used = generate_with_fallback(choice, GenerationRequest(pantry=PANTRY, n=2, seed=1),
                                           on_progress=lambda *a: progress.append(a))
    assert len(recipes) == 2
    assert used.backend == "offline" and used.name == "offline-composer" and used.mode == "auto"
    assert used.reason.startswith("offline composer: Ollama failed during generation: Ollama error (HTTP 500)")
    assert "\n" not in used.reason
    assert all(not (r.source or "").startswith("ollama") for r in recipes)


def test_generate_with_fallback_does_not_hide_errors_outside_auto(server, tmp_path):
    choice = select_generator(settings_for(tmp_path, server.url), backend="ollama")
    server.mode = "server_error"
    with pytest.raises(GeneratorError, match="HTTP 500"):
        generate_with_fallback(choice, GenerationRequest(pantry=PANTRY, n=2))


def test_an_answer_that_breaks_the_schema_is_retried_with_the_field_named(server):
    server.modes.extend(["off_schema"])
    recipes = make_gen(server).generate(GenerationRequest(pantry=PANTRY, n=1))
    assert len(recipes) == 1 and recipes[0].steps
    retry_prompt = chat_bodies(server)[1]["messages"][1]["content"]
    assert "not a valid recipe" in retry_prompt and "field 'steps' is missing" in retry_prompt
    assert "field 'minutes' is out of range: 1e400" in retry_prompt
    assert all(body["format"] == recipe_json_schema() for body in chat_bodies(server))


# ---------------------------------------------------------------------------------------
# Bounded answers: a server that ignores num_predict cannot eat memory or time
# ---------------------------------------------------------------------------------------

def _peak_traced(fn):
    """(result or exception, peak bytes allocated by Python while fn ran)."""
    import tracemalloc

    tracemalloc.start()
    try:
        try:
            out = fn()
        except Exception as e:  # returned for the test to check
            out = e
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_endless_answer_stops_at_the_byte_cap(server):
    from pantry.generators.ollama_gen import MAX_ANSWER_BYTES

    server.mode = "endless"
    server.chunk_chars = 512
    start = time.monotonic()
    err, peak = _peak_traced(lambda: make_gen(server, timeout=30).generate(GenerationRequest(pantry=PANTRY, n=2)))
    elapsed = time.monotonic() - start
    assert isinstance(err, GeneratorError) and not isinstance(err, GeneratorUnavailable)
    assert str(err) == (f"Ollama's answer passed the 64 KiB cap (model {MODEL} at {server.url}): "
                        f"the server may be ignoring num_predict; stopped reading")
    assert elapsed < 5.0
    assert peak < 16 * MAX_ANSWER_BYTES  # a few caps at most, not the stream
    assert len(chat_bodies(server)) == 1  # not retried: it would cost as much again


@pytest.mark.parametrize("mode,what,cap", [("endless_line", "stream line", "80 KiB"),
                                           ("empty_flood", "stream", "4 MiB")])
def test_an_endless_line_or_a_flood_of_empty_chunks_is_cut_off(server, mode, what, cap):
    server.mode = mode
    start = time.monotonic()
    err, peak = _peak_traced(lambda: make_gen(server, timeout=30).generate(GenerationRequest(pantry=PANTRY, n=1)))
    assert isinstance(err, GeneratorError), err
    assert str(err).startswith(f"Ollama's {what} passed the {cap} cap (model {MODEL}")
    assert time.monotonic() - start < 10.0
    assert peak < 12 * 1024 * 1024
    assert server.sent_bytes < server.endless_cap_bytes


def test_the_byte_cap_is_injectable(server):
    server.mode = "endless"
    with pytest.raises(GeneratorError, match=r"answer passed the 1 KiB cap"):
        make_gen(server, max_answer_bytes=1024).generate(GenerationRequest(pantry=PANTRY, n=1))
    server.mode = "ok"  # a normal recipe fits far below the default cap
    assert make_gen(server, max_answer_bytes=8 * 1024).generate(GenerationRequest(pantry=PANTRY, n=1))


def test_bytes_trickling_forever_inside_one_line_hit_the_deadline(server):
    server.mode = "trickle_bytes"
    server.trickle_interval = 0.05  # far under the read timeout: only the deadline can stop it
    start = time.monotonic()
    with pytest.raises(GeneratorError) as err:
        make_gen(server, timeout=30, answer_deadline=1.0).generate(GenerationRequest(pantry=PANTRY, n=1))
    elapsed = time.monotonic() - start
    assert 0.9 < elapsed < 3.0
    assert str(err.value).startswith("Ollama did not answer within 1 s (model")


def test_the_answer_deadline_defaults_to_the_timeout():
    gen = OllamaGenerator("http://127.0.0.1:9", MODEL, 12)
    assert gen.answer_deadline == 12 and gen.max_answer_bytes == 64 * 1024
    with pytest.raises(ValueError):
        OllamaGenerator("http://127.0.0.1:9", MODEL, 12, answer_deadline=0)


def test_fallback_reports_the_cap_as_the_reason(server, tmp_path):
    choice = select_generator(settings_for(tmp_path, server.url, timeout=30))
    assert choice.backend == "ollama"
    server.mode = "endless"
    server.chunk_chars = 512
    start = time.monotonic()
    recipes, used = generate_with_fallback(choice, GenerationRequest(pantry=PANTRY, n=2, seed=1))
    assert time.monotonic() - start < 8.0
    assert len(recipes) == 2 and used.backend == "offline" and used.mode == "auto"
    assert used.reason.startswith(
        "offline composer: Ollama failed during generation: Ollama's answer passed the 64 KiB cap")
    assert "\n" not in used.reason


def test_fallback_reports_the_deadline_as_the_reason(server, tmp_path):
    choice = select_generator(settings_for(tmp_path, server.url, timeout=1.0))
    server.mode = "trickle_bytes"
    server.trickle_interval = 0.05
    recipes, used = generate_with_fallback(choice, GenerationRequest(pantry=PANTRY, n=1))
    assert recipes and used.backend == "offline"
    assert used.reason.startswith("offline composer: Ollama failed during generation: "
                                  "Ollama did not answer within 1 s")


# Discovery reads are bounded too

def test_a_huge_tags_body_is_a_clear_reason_not_a_hang(server):
    server.discovery_mode = "huge_tags"
    start = time.monotonic()
    status, peak = _peak_traced(lambda: check_ollama(server.url, MODEL, timeout=5.0))
    assert time.monotonic() - start < 5.0
    assert status.reachable and not status.has_model and status.models == ()
    assert status.reason == (f"Ollama 0.5.1 at {server.url} could not list its models "
                             f"(the /api/tags answer is over 4 MiB)")
    assert peak < 24 * 1024 * 1024


def test_a_huge_version_body_is_not_ollama(server):
    server.discovery_mode = "huge_version"
    status = check_ollama(server.url, MODEL, timeout=5.0)
    assert not status.reachable
    assert status.reason == (f"something answers at {server.url} but it is not Ollama "
                             f"(its /api/version answer is over 4 MiB)")


def test_a_tags_body_trickling_forever_ends_at_the_timeout(server):
    server.discovery_mode = "trickle_tags"
    server.trickle_interval = 0.05
    start = time.monotonic()
    status = check_ollama(server.url, MODEL, timeout=0.5)
    assert time.monotonic() - start < 0.5 * 2 + 1.5
    assert status.reachable and not status.has_model
    assert status.reason == (f"Ollama 0.5.1 at {server.url} could not list its models "
                             f"(no complete answer within 0.5 s)")


def test_auto_mode_with_a_huge_tags_body_uses_the_composer(server, tmp_path):
    server.discovery_mode = "huge_tags"
    choice = select_generator(settings_for(tmp_path, server.url))
    assert choice.backend == "offline"
    assert choice.reason.startswith("offline composer: Ollama 0.5.1 at")
    assert "over 4 MiB" in choice.reason


def test_credentials_in_the_ollama_host_never_reach_a_message():
    """OLLAMA_HOST=http://user:pw@... connects with them but no reason, status or repr shows the password."""
    from pantry.generators.ollama_gen import check_ollama

    host = "http://pantryuser:s3cretpw99@127.0.0.1:1"
    status = check_ollama(host, timeout=0.2)
    assert not status.reachable and "s3cretpw99" not in status.reason + status.host
    gen = OllamaGenerator(host=host, timeout=0.5)
    assert "s3cretpw99" not in repr(gen) and "s3cretpw99" in gen.host  # still used to connect
    with pytest.raises(GeneratorUnavailable) as info:
        gen.generate(GenerationRequest(pantry=("egg",), n=1))
    assert "s3cretpw99" not in str(info.value) and "127.0.0.1:1" in str(info.value)
