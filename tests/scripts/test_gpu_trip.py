"""scripts/gpu_trip.py: what travels to a lent GPU machine fits each call, joins back whole, and the
reader's weights leave git's index for the trip and come back exactly as committed."""

import subprocess
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import gpu_trip  # noqa: E402


def test_parts_fill_each_call_in_order_and_join_back_whole():
    items = [("mpnet", bytes(range(100))), ("minilm", b"m" * 30), ("data", b"d" * 5)]
    calls = gpu_trip.deal(items, room=60)
    assert [[(n, len(b)) for n, b in call] for call in calls] == [
        [("mpnet.part00", 60)], [("mpnet.part01", 40), ("minilm.part00", 20)], [("minilm.part01", 10), ("data.part00", 5)]]
    for name, blob in items:  # weights_transport joins a prefix's parts in name order
        parts = sorted((n, b) for call in calls for n, b in call if n.startswith(name + ".part"))
        assert b"".join(b for _, b in parts) == blob


def test_a_tree_that_fills_a_call_alone_is_refused():
    try:
        gpu_trip.deal([("x", b"x")], room=0)
    except SystemExit as exc:
        assert "fills a call" in str(exc)
    else:
        raise AssertionError("no error")


def _git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def test_the_reader_weights_leave_the_index_for_the_trip_and_come_back(tmp_path):
    repo = tmp_path / "repo"
    weights = repo / gpu_trip.READER_WEIGHTS
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"w" * 5000)
    (repo / "README.md").write_text("hello\n")
    _git(repo.parent, "init", "-q", str(repo))
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    assert gpu_trip.tree_bytes(repo, without=()) == 5006 and gpu_trip.tree_bytes(repo) == 6

    gpu_trip.model_out(repo)
    assert gpu_trip.status(repo)["reader_weights_out_of_index"]
    assert weights.read_bytes() == b"w" * 5000  # the file itself never moves
    assert _git(repo, "ls-files").split() == ["README.md"]  # what the device tool sends as tracked
    assert _git(repo, "status", "--porcelain", "--untracked-files=all").splitlines() == ["D  " + gpu_trip.READER_WEIGHTS]

    gpu_trip.model_back(repo)
    assert _git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert not gpu_trip.status(repo)["reader_weights_out_of_index"]
    assert "/" + gpu_trip.READER_WEIGHTS not in (repo / ".git" / "info" / "exclude").read_text()


def _tiny_data(folder, tiny_squad):
    """Every file the trip carries, made from the tiny SQuAD file (six articles where the held-out
    split needs unanswerable questions)."""
    import json

    base = json.loads(tiny_squad.read_text())["data"][0]
    folder.mkdir()
    for name in gpu_trip.DATA_FILES:
        if name.endswith(".md"):
            (folder / name).write_text("tiny\n")
            continue
        stem = name.removesuffix(".json")
        arts = []
        for n in range(6):
            art = json.loads(json.dumps(base))
            art["title"] = f"{stem}{n}"
            for p in art["paragraphs"]:
                lead = f"{stem} {n}: "
                p["context"] = lead + p["context"]
                for q in p["qas"]:
                    q["id"] = f"{stem}{n}{q['id']}"
                    for a in q["answers"]:
                        a["answer_start"] += len(lead)
            arts.append(art)
        (folder / name).write_text(json.dumps({"version": "v2.0", "data": arts}))


def test_the_trip_gathers_its_parts_call_by_call_and_trains_on_the_last(tiny_squad, tmp_path):
    """prepare, then scripts/gpu_trip.sh once per call as the GPU machine runs it (here on the CPU, tiny):
    the last call rebuilds both encoders and the data from the parts and the squad2 trip's results come back."""
    import json
    import os

    from conftest import make_tiny_reader

    _tiny_data(tmp_path / "qa-train", tiny_squad)
    teacher, student = make_tiny_reader(tmp_path / "t", seed=1), make_tiny_reader(tmp_path / "s", seed=2)
    calls = gpu_trip.prepare(teacher, student, tmp_path / "qa-train", tmp_path / "gpu", room=40_000)
    assert len(calls) > 2  # 40 kB of room per call: the parts spread over several calls
    assert all(sum(os.path.getsize(f) for f in call) <= 40_000 for call in calls)
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, TRIP=str(tmp_path / "trip"), OUT=str(out), PYTHON=sys.executable, STUDENTS="student-b",
               EXTRA="--tiny --device cpu")
    folders = sorted({os.path.dirname(f) for call in calls for f in call}, key=lambda f: int(f.rsplit("call", 1)[1]))
    for i, folder in enumerate(folders):
        last = ["--train"] if i == len(folders) - 1 else []
        r = subprocess.run(["bash", str(REPO / "scripts" / "gpu_trip.sh"), folder, *last], env=env,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    res = json.loads((out / "results.json").read_text())
    assert res["mix"] == "squad2" and [run["name"] for run in res["runs"]] == ["teacher", "student-b"]
    assert res["best"] == "student-b" and list(out.glob("best.part*")) and (out / "log.txt").exists()
    assert len(res["runs"][1]["heldout_decision_f1"]) == 2
