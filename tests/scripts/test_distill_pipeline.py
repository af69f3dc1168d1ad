"""scripts/distill_pipeline.py (the recipe run on a lent GPU) end to end on the CPU with tiny random models:
a teacher, three students, held-out figures for each, and the best student packed for the trip back."""

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO, make_reader, make_tiny_reader

sys.path.insert(0, str(REPO / "scripts"))
from weights_transport import unpack  # noqa: E402


def test_pipeline_trains_teacher_and_students_and_packs_the_best(tiny_squad, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "squad_train.json").write_text(tiny_squad.read_text())
    heldout = json.loads(tiny_squad.read_text())
    for art in heldout["data"]:
        art["title"] = "held-" + art["title"]
        for p in art["paragraphs"]:
            p["context"] = p["context"] + " "  # other paragraphs than the training ones
            for q in p["qas"]:
                q["id"] = "h" + q["id"]
    (data / "dev.json").write_text(json.dumps(heldout))
    teacher, student = make_tiny_reader(tmp_path / "t", seed=1), make_tiny_reader(tmp_path / "s", seed=2)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "distill_pipeline.py"), "--data-dir", str(data),
                        "--heldout", str(data / "dev.json"), "--teacher-base", str(teacher), "--student-base", str(student),
                        "--work", str(tmp_path / "work"), "--results", str(out), "--device", "cpu", "--tiny"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((out / "results.json").read_text())
    assert [run["name"] for run in res["runs"]] == ["teacher", "student-a", "student-b", "control"]
    assert all(len(run["heldout_hasans_f1"]) == 2 and run["eval"]["report"] for run in res["runs"])
    assert res["runs"][1]["config"]["teacher"].endswith("teacher/final")
    best = next(run for run in res["runs"] if run["name"] == res["best"])
    assert sum(best["heldout_hasans_f1"]) == max(sum(run["heldout_hasans_f1"]) for run in res["runs"][1:])
    folder = unpack(str(out / "best"), tmp_path / "best")
    spans = make_reader(folder, max_length=64, stride=16).read("Where was the conference held?",
                                                                    ["The conference was held in Vinh city."])
    assert spans[0] and spans[0][0].text in "The conference was held in Vinh city."


def test_trust_trip_holds_out_more_articles_and_picks_by_the_no_answer_decision(tiny_squad, tmp_path):
    """--mix trust --more-heldout: the dev_more file is split by article the way `qa reader split` splits it,
    its held-out articles are never trained on, every run is measured with its no-answer threshold tuned on
    one held-out set and reported on the other, and that F1 picks the student packed for the trip back."""
    from qa.evaluation.heldout import split_articles

    data = tmp_path / "data"
    data.mkdir()
    (data / "squad_train.json").write_text(tiny_squad.read_text())
    (data / "policyqa.json").write_text(tiny_squad.read_text())  # in the v12 mix, not in trust
    base = json.loads(tiny_squad.read_text())["data"][0]
    more = {"version": "v2.0", "data": []}
    for n in range(6):
        art = json.loads(json.dumps(base))
        art["title"] = f"more{n}"
        for p in art["paragraphs"]:
            p["context"] = f"In article {n}, " + p["context"]
            for q in p["qas"]:
                q["id"] = f"m{n}" + q["id"]
                for a in q["answers"]:
                    a["answer_start"] += len(f"In article {n}, ")
        more["data"].append(art)
    (data / "more.json").write_text(json.dumps(more))
    teacher, student = make_tiny_reader(tmp_path / "t", seed=1), make_tiny_reader(tmp_path / "s", seed=2)
    out, work = tmp_path / "out", tmp_path / "work"
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "distill_pipeline.py"), "--data-dir", str(data),
                        "--heldout", str(data / "squad_train.json"), "--teacher-base", str(teacher),
                        "--student-base", str(student), "--work", str(work), "--results", str(out), "--device", "cpu",
                        "--tiny", "--students", "student-b,control", "--mix", "trust", "--more-heldout", str(data / "more.json")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((out / "results.json").read_text())
    assert res["mix"] == "trust" and res["more_heldout"].endswith("more.json")
    _, _, titles = split_articles(more, every=5)
    assert titles == ["more0", "more5"]
    held = json.loads((work / "more_heldout.json").read_text())
    trained = json.loads((work / "more_train.json").read_text())
    assert [a["title"] for a in held["data"]] == titles
    assert not {a["title"] for a in trained["data"]} & set(titles)
    for run in res["runs"]:
        cfg = run["config"]
        assert [Path(f).name for f in cfg["data"]] == ["squad_train.json", "more_train.json"]
        assert [Path(f).name for f in cfg["holdout"]] == ["squad_train.json", "more_heldout.json"]
        one_way, other_way = run["eval_decision"]
        assert one_way["tune_data"][0].endswith("more_heldout.json") and one_way["report_articles"] == ["squad_train::art0", "squad_train::art1"]
        assert other_way["report_articles"] == [f"more_heldout::{t}" for t in titles]
        assert run["heldout_decision_f1"] == [one_way["report"]["at_threshold"]["f1"],
                                              other_way["report"]["at_threshold"]["f1"]]
    students = res["runs"][1:]
    best = next(run for run in students if run["name"] == res["best"])
    assert sum(best["heldout_decision_f1"]) == max(sum(run["heldout_decision_f1"]) for run in students)
    assert list(out.glob("best.part*"))


def test_each_mix_names_its_files_and_cap(tmp_path):
    """The trust mix trains on the adversarial questions' training articles and leaves the v12 mix's distant
    domains out; its cap keeps every question of the largest file (squad2_dev_more's 35 training articles)."""
    import distill_pipeline as dp

    for name in ("squad_train.json", "policyqa.json", "unansq_pairs.json", "squadshifts_new_wiki.json"):
        (tmp_path / name).write_text("{}")
    common = ["--data-dir", str(tmp_path), "--heldout", str(tmp_path / "dev.json"), "--teacher-base", "t",
              "--student-base", "s", "--work", str(tmp_path / "w"), "--results", str(tmp_path / "o")]
    old = dp.common_config(dp.parse_args(common), "cpu")
    assert [Path(f).name for f in old["data"]] == ["squad_train.json", "policyqa.json"]
    assert old["holdout"] == [str(tmp_path / "dev.json")] and old["max_examples_per_source"] == 6000
    trust = dp.common_config(dp.parse_args(common + ["--mix", "trust", "--more-heldout", str(tmp_path / "more.json")]), "cpu")
    assert [Path(f).name for f in trust["data"]] == ["squad_train.json", "unansq_pairs.json", "squadshifts_new_wiki.json",
                                                     "more_train.json"]
    assert [Path(f).name for f in trust["holdout"]] == ["dev.json", "more_heldout.json"]
    assert trust["max_examples_per_source"] == 10000


def test_an_unknown_student_recipe_is_refused_before_any_training(tmp_path):
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "distill_pipeline.py"), "--data-dir", str(tmp_path),
                        "--heldout", str(tmp_path / "dev.json"), "--teacher-base", "t", "--student-base", "s",
                        "--work", str(tmp_path / "work"), "--results", str(tmp_path / "out"), "--students", "student-b,nope"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "unknown student recipe(s) ['nope']" in r.stderr
    assert not (tmp_path / "work").exists()


def test_parallel_students_run_in_their_own_processes_and_the_best_is_packed(tiny_squad, tmp_path):
    """--parallel: the teacher-free student starts beside the teacher, the distilled ones after it; every row
    comes back to the parent's results.json, and the best is packed."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "squad_train.json").write_text(tiny_squad.read_text())
    teacher, student = make_tiny_reader(tmp_path / "t", seed=1), make_tiny_reader(tmp_path / "s", seed=2)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "distill_pipeline.py"), "--data-dir", str(data),
                        "--heldout", str(data / "squad_train.json"), "--teacher-base", str(teacher),
                        "--student-base", str(student), "--work", str(tmp_path / "work"), "--results", str(out),
                        "--device", "cpu", "--tiny", "--parallel", "--students", "student-b-s43,control,cloze-b"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((out / "results.json").read_text())
    assert res["runs"][0]["name"] == "teacher"
    assert sorted(run["name"] for run in res["runs"][1:]) == ["cloze-b", "control", "student-b-s43"]
    distilled = next(run for run in res["runs"] if run["name"] == "student-b-s43")
    assert distilled["config"]["teacher"].endswith("teacher/final") and distilled["config"]["seed"] == 43
    # the cloze recipe trains on the same files plus the template questions made from them
    cloze = next(run for run in res["runs"] if run["name"] == "cloze-b")
    assert cloze["config"]["data"][:-1] == distilled["config"]["data"]
    assert cloze["config"]["data"][-1].endswith("cloze-3.json")
    made = json.loads((tmp_path / "work" / "cloze-3.json").read_text())
    assert sum(len(p["qas"]) for art in made["data"] for p in art["paragraphs"]) > 0
    assert res["best"] in ("control", "student-b-s43", "cloze-b") and list(out.glob("best.part*"))
    assert "failed" not in res and "stopped" not in res


def test_every_student_recipe_is_a_valid_training_config(tiny_squad, tmp_path):
    """A recipe with a misspelt setting would only fail on the GPU machine, after the device minutes of the
    teacher; here each one is turned into the TrainConfig its child process would build."""
    import distill_pipeline as dp
    from qa.training.train import TrainConfig

    (tmp_path / "squad_train.json").write_text(tiny_squad.read_text())
    args = dp.parse_args(["--data-dir", str(tmp_path), "--heldout", str(tmp_path / "dev.json"), "--teacher-base", "t",
                          "--student-base", "s", "--work", str(tmp_path / "work"), "--results", str(tmp_path / "out")])
    for name, recipe in dp.STUDENTS.items():
        kw = dp.student_kwargs(name, args, "teacher/final")
        cfg = TrainConfig(out=str(tmp_path / name), **{**dp.common_config(args, "cpu"), **kw})
        assert cfg.seed == recipe["seed"] and cfg.epochs == recipe["epochs"]
        assert (cfg.teacher == "teacher/final") == bool(recipe.get("teacher")), name
        assert (len(cfg.data) == 2) == bool(recipe.get("cloze")), name  # the template file joins the data
