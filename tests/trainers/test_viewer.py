"""``atropos-envs view``: the JSON endpoints over real env episodes, then the page in a real
headless Chromium (Debian's ``chromium``, installed by scripts/setup) driven by Playwright.
Screenshots of each view go to test-artifacts/viewer/."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.trainers.viewer_data import write_run, write_samples
from trainers.viewer import Index, Query, ViewerServer, create_app

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "viewer"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("viewer")
    write_samples(folder / "samples.jsonl")
    write_samples(folder / "checkpoint_b.jsonl", variant=1)
    write_run(folder / "grpo_run")
    with open(folder / "samples.jsonl", "a") as f:
        f.write('{"not": "a sample"}\n\n')  # counted and skipped
    return folder


@pytest.fixture(scope="module")
def index(data):
    return Index([data / "samples.jsonl", data / "checkpoint_b.jsonl", data / "grpo_run"])


@pytest.fixture(scope="module")
def client(index):
    return TestClient(create_app(index))


# ---- the index and the endpoints ---------------------------------------------------------------
def test_index_reads_samples_and_runs(index):
    info = index.info()
    assert [s["kind"] for s in info["sources"]] == ["samples", "samples", "run"]
    assert info["sources"][0]["skipped"] == 1
    assert {"atropos_envs/Format-v0", "atropos_envs/ToolUse-v0"} == set(info["envs"])
    assert {"correct", "format", "task_completion"} <= set(info["components"])
    assert info["total"] == sum(s["count"] for s in info["sources"])


def test_filters_sort_and_pages(client, index):
    every = client.get("/api/samples", params={"limit": 500}).json()
    assert every["total"] == len(index.rows)
    correct = client.get("/api/samples", params={"component": "correct", "cmin": 1, "limit": 500}).json()
    assert correct["total"] > 0 and all(r["components"]["correct"] >= 1 for r in correct["rows"])
    expected = [r for r in index.rows if r.components.get("correct", -1) >= 1]
    assert correct["total"] == len(expected)
    rejected = client.get("/api/samples", params={"kept": "rejected", "outcome": "invalid"}).json()
    assert rejected["total"] and all(
        r["kept"] is False and r["outcome"] == "invalid" for r in rejected["rows"]
    )
    ranked = client.get("/api/samples", params={"sort": "reward", "order": "desc", "limit": 500}).json()[
        "rows"
    ]
    rewards = [r["reward"] for r in ranked]
    assert rewards == sorted(rewards, reverse=True)
    by_component = index.page(Query(sort="component:task_completion", descending=True), 0, 3)["rows"]
    assert by_component[0]["components"]["task_completion"] == 1.0
    first, second = (
        client.get("/api/samples", params={"offset": o, "limit": 10}).json()["rows"] for o in (0, 10)
    )
    assert [r["id"] for r in first + second] == list(range(20))
    steps = client.get("/api/samples", params={"source": 2, "step": 3}).json()
    assert steps["total"] == 4 and {r["step"] for r in steps["rows"]} == {3}
    rmin = client.get("/api/samples", params={"rmin": 0.5, "rmax": 0.99, "limit": 500}).json()["rows"]
    assert all(0.5 <= r["reward"] <= 0.99 for r in rmin)


def test_text_search_reads_the_records(client):
    found = client.get("/api/samples", params={"q": "<SCRIPT>window.__pwned"}).json()
    assert found["total"] == 1 and "<script>" in found["rows"][0]["preview"]
    tools = client.get("/api/samples", params={"q": "list_orders"}).json()  # inside tool calls
    assert tools["total"] >= 1 and {r["env"] for r in tools["rows"]} == {"atropos_envs/ToolUse-v0"}


def test_one_sample_run_and_compare(client, index):
    row = next(r for r in index.rows if r.env.endswith("ToolUse-v0") and r.reward == 1.0)
    sample = client.get(f"/api/sample/{row.id}").json()
    assert [m["role"] for m in sample["record"]["messages"]].count("tool") >= 1
    run = client.get("/api/run/2").json()
    assert [m["step"] for m in run["metrics"]] == [1, 2, 3, 4, 5, 6]
    assert all(m["overlong_rate"] == 0.0 for m in run["metrics"]) and run["rollout_steps"]["1"] == 4
    compare = client.get("/api/compare", params={"a": 0, "b": 1}).json()
    assert compare["counts"]["only_a"] == 7 and compare["counts"]["both"] == 1  # B's answers are all wrong
    assert len(compare["tasks"]) == 8  # Format tasks: B holds no ToolUse task (ids are per env)
    assert compare["tasks"][0]["a"]["samples"] == 4 and compare["tasks"][0]["env"].endswith("Format-v0")


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/samples", {"rmin": "x"}, 400),
        ("/api/samples", {"kept": "maybe"}, 400),
        ("/api/samples", {"sort": "secret"}, 400),
        ("/api/sample/99999", {}, 404),
        ("/api/run/0", {}, 404),  # a samples file is no run
        ("/static/../app.py", {}, 404),
        ("/static/app.py", {}, 404),
    ],
)
def test_bad_requests(client, path, params, status):
    response = client.get(path, params=params)
    assert response.status_code == status
    assert not path.startswith("/api") or "error" in response.json()


def test_page_is_served_with_a_strict_content_policy(client):
    page = client.get("/")
    assert page.status_code == 200 and '<script src="/static/app.js"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    script = client.get("/static/app.js").text
    assert "innerHTML" not in script.replace("nothing here assigns innerHTML", "")


def test_bad_paths_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        Index([tmp_path / "missing.jsonl"])
    with pytest.raises(ValueError, match="metrics.jsonl"):
        Index([tmp_path])


# ---- the page in a real browser ------------------------------------------------------------------
def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail(
            "the browser tests need Debian's chromium: run scripts/setup (or apt-get install chromium)"
        )
    return found


@pytest.fixture(scope="module")
def page(index):
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with ViewerServer(index) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1500, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}") or dialog.dismiss())
        page.goto(server.url)
        page.wait_for_selector("body[data-ready='1']")
        page.errors = errors
        yield page
        browser.close()
    assert not errors, errors


def _apply(page, **fields):
    page.click("#reset-filters")
    for name, value in fields.items():
        selector = f"#filters [name={name}]"
        if page.eval_on_selector(selector, "e => e.tagName") == "SELECT":
            page.select_option(selector, value)
        else:
            page.fill(selector, value)
    page.click("#apply")
    page.wait_for_function("() => !document.getElementById('status').textContent.startsWith('loading')")


def _rows(page):
    return page.eval_on_selector_all("#samples tbody tr", "rows => rows.map(r => r.dataset.id)")


def test_the_page_loads_the_samples(page, index):
    assert len(_rows(page)) == 50 and f"of {len(index.rows)} samples" in page.inner_text("#status")
    page.screenshot(path=str(ARTIFACTS / "samples.png"))


def test_filter_by_a_component(page, index):
    _apply(page, component="correct", cmin="1")
    expected = [str(r.id) for r in index.rows if r.components.get("correct", -1) >= 1]
    assert _rows(page) == expected[:50]
    chips = page.eval_on_selector_all("#samples tbody tr", "rows => rows.map(r => r.innerText)")
    assert all("correct 1.00" in text for text in chips)
    page.click("th[data-col=reward]")  # sorting keeps the filter
    page.wait_for_function("() => document.querySelector('th[data-col=reward]').textContent.includes('▲')")
    assert sorted(_rows(page)) == sorted(expected[:50])


def test_a_multi_turn_tool_use_sample(page, index):
    row = next(r for r in index.rows if r.env.endswith("ToolUse-v0") and r.reward == 1.0)
    _apply(page, env="atropos_envs/ToolUse-v0", kept="kept")
    page.click(f"#samples tbody tr[data-id='{row.id}']")
    page.wait_for_selector("#detail .role-tool")
    record = index.record(row.id)["record"]
    tool_message = next(m for m in record["messages"] if m["role"] == "tool")["content"]
    shown = page.inner_text("#detail .role-tool pre")
    assert json.loads(shown) == json.loads(
        tool_message.split("<tool_response>")[1].split("</tool_response>")[0]
    )
    assert (
        page.locator("#detail .role-tool").count()
        == record["messages"].count(next(m for m in record["messages"] if m["role"] == "tool"))
        or page.locator("#detail .role-tool").count() >= 1
    )
    assert page.locator("#detail .tool-call").count() >= 1 and "find_customer" in page.inner_text("#detail")
    assert "task_completion" in page.inner_text("#detail .breakdown")
    assert page.inner_text("#reason") == record["metadata"]["reason"]
    page.screenshot(path=str(ARTIFACTS / "tool_use_sample.png"))


def test_model_text_is_shown_as_text_and_never_run(page):
    _apply(page, q="<script>")
    assert len(_rows(page)) == 1
    page.click("#samples tbody tr")
    page.wait_for_selector("#detail .role-assistant")
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#detail script, #detail img, #detail .msg b").count() == 0
    shown = page.inner_text("#detail .role-assistant")
    assert '<script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 2">' in shown
    assert page.locator("#detail details.think").count() == 1  # the <think> block folded
    assert not page.locator("#detail details.think").evaluate("d => d.open")
    page.screenshot(path=str(ARTIFACTS / "escaped_sample.png"))


def test_run_curves_and_a_steps_rollouts(page):
    page.click("#tab-runs")
    page.wait_for_selector("#charts figure.chart")
    titles = page.eval_on_selector_all("#charts svg", "svgs => svgs.map(s => s.getAttribute('aria-label'))")
    assert titles == ["mean reward", "completion tokens", "policy loss", "overlong rate"]
    assert page.locator("#charts svg").first.locator("circle").count() == 6
    page.screenshot(path=str(ARTIFACTS / "run.png"))
    page.click("#run-steps button.step >> nth=2")  # step 3
    page.wait_for_function("() => document.getElementById('page').textContent.endsWith('of 4')")
    steps = page.eval_on_selector_all(
        "#samples tbody tr td:nth-child(5)", "cells => cells.map(c => c.textContent)"
    )
    assert steps == ["3"] * 4


def test_two_sources_side_by_side(page):
    page.click("#tab-compare")
    page.select_option("#compare-form [name=a]", "0")
    page.select_option("#compare-form [name=b]", "1")
    page.click("#compare-form button")
    page.wait_for_selector("#compare-table tbody tr")
    assert "only A (samples.jsonl) 7" in page.inner_text("#compare-summary")
    assert page.locator("#compare-table tbody tr.better-a").count() == 7
    page.screenshot(path=str(ARTIFACTS / "compare.png"))


def test_view_command_serves_on_localhost(data):
    import subprocess
    import sys
    import time
    import urllib.request

    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "trainers.cli", "view", str(data / "samples.jsonl"), "--port", "0"]
    process = subprocess.Popen(
        command,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root), "COLUMNS": "200"},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        line = ""
        while "open http://127.0.0.1:" not in line and time.monotonic() < deadline:
            line = process.stderr.readline()
        url = line.split("open ", 1)[1].strip()
        info = json.loads(urllib.request.urlopen(url + "/api/info", timeout=10).read())
        assert info["total"] == 31 and info["sources"][0]["skipped"] == 1
    finally:
        process.terminate()
        process.wait(timeout=30)
    bad = subprocess.run(
        [sys.executable, "-m", "trainers.cli", "view", str(data / "nope.jsonl")],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "does not exist" in bad.stderr


def test_preference_pairs_are_read(tmp_path):
    pair = {
        "prompt": [{"role": "user", "content": "What is 2 + 2?"}],
        "chosen": [{"role": "assistant", "content": "<think>2 + 2 = 4</think> \\boxed{4}"}],
        "rejected": [{"role": "assistant", "content": "\\boxed{5}"}],
        "metadata": {"env": "atropos_envs/Format-v0", "task_id": "7", "reward": 1.0},
    }
    (tmp_path / "pairs.jsonl").write_text(json.dumps(pair) + "\n")
    index = Index([tmp_path / "pairs.jsonl"])
    (row,) = index.rows
    assert row.pair and row.outcome == "pair" and row.task_id == "7" and "boxed{4}" in row.preview
    assert index.record(0)["record"]["rejected"][0]["content"] == "\\boxed{5}"


@pytest.mark.parametrize("chunk", [64, 1000, 8 << 20])  # lines longer than a chunk, and whole files
def test_text_search_agrees_with_reading_every_record(data, monkeypatch, chunk):
    import trainers.viewer.index as module

    monkeypatch.setattr(module, "SEARCH_CHUNK", chunk)
    index = Index([data / "samples.jsonl", data / "checkpoint_b.jsonl"])
    for text in ("<script>", "LIST_ORDERS", "boxed{", "what is", "no such text", '"', '"not": "a sample"'):
        expected = {r.id for r in index.rows if text.lower().encode() in index.raw(r).lower()}
        assert set(index.select(Query(q=text))) == expected, text
