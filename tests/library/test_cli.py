"""Bad input at the command line: one clear line on stderr, exit status 2, nothing changed."""

import json

import pytest

from pantry.cli import main
from pantry.storage.store import Store


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PANTRY_HOME", str(tmp_path))
    monkeypatch.setenv("PANTRY_GENERATOR", "offline")
    return tmp_path


def one_error_line(capsys) -> str:
    err = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
    assert err and err[0].startswith("error: ")
    return err[0]


def test_empty_pantry(home, capsys):
    assert main(["generate", "--pantry", "   "]) == 2
    assert "pantry is empty" in one_error_line(capsys)


def test_huge_pantry(home, capsys):
    assert main(["generate", "--pantry", "rice, " * 20_000]) == 2
    assert "characters (limit" in one_error_line(capsys)


def test_generate_json_is_one_object(home, capsys):
    assert main(["generate", "--pantry", "eggs, spinach, rice, onion, tomato, cheddar", "--n", "3",
                 "--json", "--seed", "4"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1  # the CLI's --json rule: one JSON object per command run
    recipes = json.loads(lines[0])["recipes"]
    assert len(recipes) == 3 and all(r["title"] and r["steps"] for r in recipes)


def test_malformed_jsonl_imports_nothing(home, tmp_path, capsys):
    good = {"id": "r1", "title": "Soup", "ingredients": ["water"]}
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(good) + "\n{not json\n" + json.dumps({"ingredients": ["x"]}) + "\n")
    assert main(["import", str(path)]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "line 3" in err and "'title' is missing" in err
    assert Store(home / "pantry.sqlite3").count_recipes() == 0


def test_import_then_export_round_trip(home, tmp_path, capsys):
    path = tmp_path / "votes.jsonl"
    assert main(["synth", "--persona", "quick-weeknight", "--n", "12", "--out", str(path)]) == 0
    assert main(["import", str(path)]) == 0
    assert "12 votes" in capsys.readouterr().out
    assert main(["export", "--format", "votes"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 12


def test_train_refuses_without_enough_votes(home, tmp_path, capsys):
    path = tmp_path / "votes.jsonl"
    assert main(["synth", "--persona", "spice-lover", "--n", "3", "--out", str(path)]) == 0
    assert main(["import", str(path)]) == 0
    capsys.readouterr()
    assert main(["train", "--user", "synth-spice-lover"]) == 2
    assert "training needs at least" in one_error_line(capsys)
    assert Store(home / "pantry.sqlite3").model_versions() == []


def test_unknown_persona(home, capsys):
    assert main(["synth", "--persona", "nobody", "--n", "3"]) == 2
    assert "unknown persona" in one_error_line(capsys)


def test_train_flags_come_from_train_config():
    from pantry.cli import build_parser
    from pantry.model.training import TrainConfig, train_options
    parser = build_parser()
    args = parser.parse_args(["train"])
    assert {o.name: getattr(args, o.name) for o in train_options()} == TrainConfig().to_dict()
    args = parser.parse_args(["train", "--no-refit", "--min-decisive", "12", "--item-var", "0"])
    assert args.refit is False and args.min_decisive == 12 and args.item_var == 0.0


def test_train_flag_out_of_bounds_is_refused(home, capsys):
    assert main(["train", "--members", "0"]) == 2
    assert one_error_line(capsys) == "error: --members must be between 1 and 20, got 0"
    assert Store(home / "pantry.sqlite3").model_versions() == []


def test_generate_too_many_recipes_is_refused(home, capsys):
    assert main(["generate", "--pantry", "eggs, rice", "--n", "100000"]) == 2  # bulk loops requests of 50, to 10,000
    assert one_error_line(capsys) == "error: --n must be a whole number from 1 to 10000 (made in requests of at most 50), got 100000"


def test_build_parser_does_not_load_the_knowledge_base_or_pydantic():
    """--diet choices come from pantry.kitchen.vocab, a constant: no pydantic import (~0.8 s) for a parser."""
    import subprocess
    import sys

    code = ("import sys, pantry.cli as c; p = c.build_parser(); "
            "a = p.parse_args(['generate', '--pantry', 'egg', '--diet', 'vegan']); assert a.diet == ['vegan']; "
            "print(sorted(m for m in ('pydantic', 'pantry.kitchen.knowledge', 'pantry.domain.recipes') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
    from pantry.kitchen import DIETS
    from pantry.kitchen.knowledge import DIETS as KNOWLEDGE_DIETS
    assert DIETS is KNOWLEDGE_DIETS and "gluten-free" in DIETS


def test_the_cli_is_a_package_of_modules_by_area_each_of_one_job():
    """issue 21: pantry/cli/ (parser in __init__, commands by area), no module over ~600 lines."""
    from pathlib import Path

    import pantry.cli as cli

    modules = {p.stem: len(p.read_text(encoding="utf-8").splitlines()) for p in Path(cli.__file__).parent.glob("*.py")}
    assert set(modules) == {"__init__", "common", "data", "model", "household", "serve"}
    assert max(modules.values()) <= 600, modules
    sub = next(a for a in cli.build_parser()._actions if a.dest == "command")
    where = {name: p.get_default("func").__module__ for name, p in sub.choices.items()}
    assert where["pair"] == "pantry.cli.data" and where["train"] == "pantry.cli.model"
    assert where["diet"] == "pantry.cli.household" and where["token"] == "pantry.cli.serve"
    assert all(m.startswith("pantry.cli.") for m in where.values()), where
