"""Teacher -> students in one go: train an all-mpnet-base-v2 reader (the teacher), then MiniLM readers
distilled from it, each measured on the held-out SQuAD articles; the best student is packed for the trip back.

Made for a lent GPU machine (minutes there instead of days on 2 CPU cores), and runs on the CPU
too (tests run it tiny). It calls the same ``train`` and ``evaluate`` as ``qa reader train`` /
``qa reader eval``, without the CLI (the GPU machine has torch and transformers, not the service's
web stack). Every run's config, timing and held-out figures go to ``RESULTS/results.json`` as they finish,
and the best student so far to ``RESULTS/best.part*``: by the sum of the two held-out articles' HasAns F1,
or with ``--more-heldout`` by F1 with the reader's own no-answer decision on both held-out sets.

    python scripts/distill_pipeline.py --data-dir D --heldout D/squad_dev.json --teacher-base T \\
        --student-base S --work runs/gpu --results OUT [--students student-b,control] [--budget-minutes 7] [--tiny]
        [--parallel --deadline-minutes 8] [--mix trust --more-heldout D/squad2_dev_more.json]

``--mix trust --more-heldout`` is issue 16's trip: the data with SQuAD's adversarial unanswerable questions,
six of squad2_dev_more.json's articles held out beside Super Bowl 50 / Rhine, and every run measured
the way ``qa reader eval --tune-data`` does (threshold tuned on one held-out set, reported on the other).
The recipes are the same for every mix; ``results.json`` names the mix.

``--students student-b,control`` runs a recipe beside its teacher-free twin, which measures what
distillation itself adds.

``--parallel`` runs the students at the same time, each in its own process on the same GPU: a MiniLM
batch leaves most of a big GPU idle (about 25 ms a step on an H100, mostly Python and kernel launches),
so several students cost little more than one. Students without a teacher start beside the teacher.
Whatever has not finished ``--deadline-minutes`` after the start is stopped and left out.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from qa.evaluation.heldout import HELD_OUT_EVERY, split_articles  # noqa: E402
from qa.evaluation.reader import evaluate  # noqa: E402
from qa.reader.extractive import ExtractiveReader  # noqa: E402
from qa.training.cloze import make_cloze  # noqa: E402
from qa.training.train import TrainConfig, resolve_device, train  # noqa: E402
from weights_transport import pack  # noqa: E402

# Data mixes (files of --data-dir, and the cap on questions per file); answers over 10 words are left out.
# "v12": the mix of the readers distilled on GPUs so far, every file but the held-out one.
# "trust" (issue 16): the encyclopedic files, SQuAD's adversarial unanswerable questions (the training
# articles of --more-heldout), UnAnsQ's pairs and SQuADShifts' new Wikipedia articles, v20's CPU mix; a
# cap high enough to keep every question, which gives about as many windows as "v12" (35,481 against 36,525).
MIXES = {
    "v12": (("squad_train.json", "xquad_en.json", "qed_nq.json", "fairytaleqa.json", "policyqa.json", "covidqa.json"),
            6000),
    "trust": (("squad_train.json", "xquad_en.json", "qed_nq.json", "unansq_pairs.json", "squadshifts_new_wiki.json"),
              10000),
    # trust plus SQuAD 2.0 train as scripts/squad2_train_data.py orders it (its paragraphs with unanswerable
    # questions first, round-trip wording, AddSent), its held-out articles left out
    "squad2": (("squad_train.json", "xquad_en.json", "qed_nq.json", "unansq_pairs.json", "squadshifts_new_wiki.json",
                "squad2_train_paired.json", "squad2_train_mt.json", "squad2_train_addsent.json"), 10000),
}
# whose paragraphs the "cloze" recipes ask template questions over: the encyclopedic ones, like the held-out articles
CLOZE_FILES = ("squad_train.json", "xquad_en.json", "qed_nq.json")


# Student recipes, run in the order --students names them. "teacher": True means distilled from this run's teacher.
# student-b: 8 epochs from the base encoder, mostly the teacher's distributions; most recipes vary it
_STUDENT_B = dict(teacher=True, distill_alpha=0.9, temperature=2.0, lr=1.5e-4, epochs=8, seed=42, keep_negative_windows=0.5)
STUDENTS = {
    "student-a": dict(teacher=True, distill_alpha=0.8, temperature=2.0, lr=1e-4, epochs=4, seed=41, keep_negative_windows=0.5),
    "student-b": _STUDENT_B,
    # student-b without the teacher: what distillation itself adds
    "control": dict(lr=1.5e-4, epochs=8, seed=42, keep_negative_windows=0.5),
    # student-b again with another seed (how much one seed moves the figures) ...
    "student-b-s43": dict(_STUDENT_B, seed=43),
    # ... with every answer-less window of long contexts kept (more "which entity" contrast per paragraph) ...
    "neg-all": dict(_STUDENT_B, keep_negative_windows=1.0),
    # ... and with two more epochs (8 beat 4)
    "student-b10": dict(_STUDENT_B, epochs=10, seed=44),
    # student-b with template questions over the encyclopedic paragraphs added (``cloze``:
    # questions per paragraph, qa/training/cloze.py), the teacher's distributions on them as targets. 8 epochs, not
    # 10 (10 gained nothing and the questions add a sixth more windows); the seeds of student-b and
    # student-b-s43, which run beside them as plain twins, since one seed moves the figures by 1-2 points
    "cloze-b": dict(_STUDENT_B, cloze=3),
    "cloze-b-s43": dict(_STUDENT_B, seed=43, cloze=3),
    # the cloze recipe with another seed, and with twice the template questions
    "cloze-b-s44": dict(_STUDENT_B, seed=44, cloze=3),
    "cloze6-b": dict(_STUDENT_B, cloze=6),
}


def heldout_f1(result: dict) -> tuple[float, float]:
    """HasAns F1 (always answering) on the two halves of the held-out articles: tune, report."""
    return (result["tune"]["always_answer"].get("HasAns_f1", 0.0),
            result.get("report", {}).get("always_answer", {}).get("HasAns_f1", 0.0))


def decision_f1(one_way: dict, other_way: dict) -> tuple[float, float]:
    """Overall F1 with the reader's own no-answer decision on each held-out set, its threshold tuned
    on the other set: what issue 16 targets for the reader, and what picks the best student then."""
    return one_way["report"]["at_threshold"]["f1"], other_way["report"]["at_threshold"]["f1"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--heldout", type=Path, required=True)
    ap.add_argument("--mix", choices=sorted(MIXES), default="v12", help="training data mix (MIXES)")
    ap.add_argument("--more-heldout", type=Path, default=None,
                    help="squad2_dev_more.json: six of its articles held out (as `qa reader split` does), the rest trained on")
    ap.add_argument("--teacher-base", required=True)
    ap.add_argument("--student-base", required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--results", type=Path, required=True)
    ap.add_argument("--budget-minutes", type=float, default=7.0, help="start no new student after this long")
    ap.add_argument("--teacher-epochs", type=float, default=2.0)
    ap.add_argument("--students", default="student-a,student-b,control",
                    help=f"comma-separated recipes, run in this order: {', '.join(STUDENTS)}")
    ap.add_argument("--parallel", action="store_true", help="run the students at once, one process each")
    ap.add_argument("--deadline-minutes", type=float, default=8.0,
                    help="with --parallel: stop students still running this long after the start")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--tiny", action="store_true", help="a few questions per file and a few batches (a smoke test)")
    # internal: one student in its own process (what --parallel starts)
    ap.add_argument("--only", default="", help=argparse.SUPPRESS)
    ap.add_argument("--teacher-final", default="", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def more_parts(args: argparse.Namespace) -> tuple[Path, Path]:
    """Where --more-heldout's held-out articles and the rest are written (once, by ``split_more``)."""
    return args.work / "more_heldout.json", args.work / "more_train.json"


def split_more(args: argparse.Namespace) -> None:
    """Split --more-heldout by article before any run starts: parallel runs only read the two parts."""
    held_path, rest_path = more_parts(args)
    held, rest, titles = split_articles(json.loads(args.more_heldout.read_text(encoding="utf-8")), HELD_OUT_EVERY)
    args.work.mkdir(parents=True, exist_ok=True)
    held_path.write_text(json.dumps(held, ensure_ascii=False), encoding="utf-8")
    rest_path.write_text(json.dumps(rest, ensure_ascii=False), encoding="utf-8")
    logging.info("held out %d articles of %s: %s", len(titles), args.more_heldout.name, ", ".join(titles))


def data_files(args: argparse.Namespace) -> list[str]:
    files = [str(args.data_dir / f) for f in MIXES[args.mix][0] if (args.data_dir / f).exists()]
    return files + ([str(more_parts(args)[1])] if args.more_heldout else [])


def holdout_files(args: argparse.Namespace) -> list[str]:
    return [str(args.heldout)] + ([str(more_parts(args)[0])] if args.more_heldout else [])


def common_config(args: argparse.Namespace, device: str) -> dict:
    common = dict(data=data_files(args), holdout=holdout_files(args), synthetic_negatives=0.25, keep_negative_windows=0.2,
                  max_examples_per_source=MIXES[args.mix][1],
                  max_answer_words=10, checkpoint_minutes=1e6, threads=args.threads or min(8, os.cpu_count() or 1),
                  device=device, log_every=100,
                  bf16=device == "cuda")  # CPUs without AMX run bf16 far slower
    if args.tiny:
        common.update(max_examples_per_source=6, max_length=96, stride=32, batch_size=4)
    return common


def run_one(name: str, kw: dict, args: argparse.Namespace, device: str) -> dict:
    """Train one run and measure it on the held-out articles; the row that results.json keeps."""
    t0 = time.monotonic()
    cfg = TrainConfig(out=str(args.work / name), **{**common_config(args, device), **kw})
    final = train(cfg)
    trained_s = time.monotonic() - t0
    reader = ExtractiveReader(final, windowing=cfg.windowing, max_answer_tokens=30, batch_size=64, threads=cfg.threads,
                              int8=False, dtype="float32", device=device, runtime="auto")
    limit = 60 if args.tiny else 0
    read: dict = {}  # one read of each held-out set, however many ways it is measured
    ev = evaluate(reader, [str(args.heldout)], synthetic_negatives=0.2, limit=limit, read=read)
    ev.pop("data", None)
    row = {"name": name, "config": asdict(cfg), "train_seconds": round(trained_s, 1), "heldout_hasans_f1": heldout_f1(ev),
           "eval": ev, "final": str(final)}
    if args.more_heldout:  # `qa reader eval --tune-data` both ways round
        more = str(more_parts(args)[0])
        row["eval_decision"] = [
            evaluate(reader, [str(args.heldout)], synthetic_negatives=0.2, limit=limit, tune_data=[more], read=read),
            evaluate(reader, [more], synthetic_negatives=0.2, limit=limit, tune_data=[str(args.heldout)], read=read)]
        row["heldout_decision_f1"] = decision_f1(*row["eval_decision"])
        logging.info("%s: F1 with its no-answer decision, %s / %s: %.1f / %.1f", name, args.heldout.name,
                     args.more_heldout.name, *row["heldout_decision_f1"])
    row["eval_seconds"] = round(time.monotonic() - t0 - trained_s, 1)
    logging.info("%s: held-out HasAns F1 tune/report %.1f/%.1f (train %.0f s)", name, *row["heldout_hasans_f1"],
                 trained_s)
    return row


def choice_key(row: dict) -> float:
    """What ranks students: F1 with the no-answer decision on both held-out sets where there are two,
    else HasAns F1 on the two halves of the one."""
    return sum(row.get("heldout_decision_f1") or row["heldout_hasans_f1"])


def run_teacher(args: argparse.Namespace, device: str) -> dict:
    """The all-mpnet-base-v2 teacher (lr 5e-5, seed 31), the recipe of the shipped reader's teacher."""
    return run_one("teacher", dict(base_model=args.teacher_base, lr=5e-5,
                                   epochs=0.5 if args.tiny else args.teacher_epochs, seed=31), args, device)


def cloze_file(args: argparse.Namespace, per_paragraph: int) -> Path:
    """The template questions a ``cloze`` recipe adds, made once per run folder from CLOZE_FILES."""
    path = args.work / f"cloze-{per_paragraph}.json"
    if not path.exists():
        sources = [args.data_dir / f for f in CLOZE_FILES if (args.data_dir / f).exists()]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(make_cloze(sources, per_paragraph=per_paragraph)))
    return path


def student_kwargs(name: str, args: argparse.Namespace, teacher_final: str) -> dict:
    kw = dict(STUDENTS[name], base_model=args.student_base)
    per_paragraph = kw.pop("cloze", 0)
    if per_paragraph:
        kw["data"] = data_files(args) + [str(cloze_file(args, per_paragraph))]
    if kw.get("teacher"):
        kw["teacher"] = teacher_final
    else:
        kw.pop("teacher", None)
    if args.tiny:
        kw["epochs"] = 1
    return kw


class Results:
    """results.json, rewritten as each run finishes, and the best student so far packed beside it."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.data: dict = {"runs": [], "best": None}
        self.best_sum = -1.0

    def add(self, row: dict, student: bool) -> None:
        self.data["runs"].append(row)
        if student and choice_key(row) > self.best_sum:
            self.best_sum = choice_key(row)
            for old in self.folder.glob("best.part*"):
                old.unlink()
            pack(Path(row["final"]), str(self.folder / "best"), part_mb=15, fp16=True)
            self.data["best"] = row["name"]
        self.save()

    def save(self) -> None:
        (self.folder / "results.json").write_text(json.dumps(self.data, indent=2))


def run_parallel(args: argparse.Namespace, chosen: list[str], device: str, results: Results, started: float) -> None:
    """Students at once, one process each; those without a teacher start beside the teacher's training."""
    n_cpu = os.cpu_count() or 1
    threads = max(1, n_cpu // (len(chosen) + 1))
    procs: dict[str, subprocess.Popen] = {}

    def launch(name: str, teacher_final: str) -> None:
        cmd = [sys.executable, __file__, "--data-dir", str(args.data_dir), "--heldout", str(args.heldout), "--mix", args.mix,
               "--teacher-base", args.teacher_base, "--student-base", args.student_base, "--work", str(args.work),
               "--results", str(args.results), "--device", device, "--only", name, "--teacher-final", teacher_final,
               "--threads", str(threads)] + (["--tiny"] if args.tiny else []) \
            + (["--more-heldout", str(args.more_heldout)] if args.more_heldout else [])
        (args.work / name).mkdir(parents=True, exist_ok=True)
        with open(args.work / name / "process.log", "w") as log_file:  # the child keeps its own handle
            procs[name] = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT)
        logging.info("started %s (pid %d, %d threads)", name, procs[name].pid, threads)

    for name in chosen:
        if not STUDENTS[name].get("teacher"):
            launch(name, "")
    teacher = run_teacher(args, device)
    results.add(teacher, student=False)
    for name in chosen:
        if STUDENTS[name].get("teacher"):
            launch(name, teacher["final"])
    deadline = started + args.deadline_minutes * 60
    pending = dict(procs)
    while pending:
        for name, proc in list(pending.items()):
            if proc.poll() is None:
                continue
            del pending[name]
            row_file = args.work / name / "row.json"
            if proc.returncode == 0 and row_file.exists():
                results.add(json.loads(row_file.read_text()), student=True)
            else:
                tail = (args.work / name / "process.log").read_text()[-2000:]
                logging.error("%s failed (exit %s):\n%s", name, proc.returncode, tail)
                results.data.setdefault("failed", []).append({"name": name, "exit": proc.returncode, "log_tail": tail})
                results.save()
        if pending and time.monotonic() > deadline:
            for name, proc in pending.items():
                proc.kill()
                logging.info("deadline: %s stopped unfinished", name)
                results.data.setdefault("stopped", []).append(name)
            results.save()
            break
        time.sleep(2)


def main() -> None:
    args = parse_args()
    chosen = [n.strip() for n in args.students.split(",") if n.strip()]
    unknown = [n for n in chosen + ([args.only] if args.only else []) if n not in STUDENTS]
    if unknown:
        raise SystemExit(f"unknown student recipe(s) {unknown}: choose from {sorted(STUDENTS)}")
    device = resolve_device(args.device).type  # once: every run and every evaluation use the same device
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.only:  # a child of --parallel: one student, its row written for the parent
        row = run_one(args.only, student_kwargs(args.only, args, args.teacher_final), args, device)
        (args.work / args.only / "row.json").write_text(json.dumps(row))
        return
    started = time.monotonic()
    if args.more_heldout:
        split_more(args)
    for name in chosen:  # made before any student starts: parallel students only read them
        if STUDENTS[name].get("cloze"):
            cloze_file(args, STUDENTS[name]["cloze"])
    results = Results(args.results)
    results.data.update(mix=args.mix, more_heldout=str(args.more_heldout or ""))
    if args.parallel:
        run_parallel(args, chosen, device, results, started)
    else:
        teacher = run_teacher(args, device)
        results.add(teacher, student=False)
        for name in chosen:
            if time.monotonic() - started > args.budget_minutes * 60:
                logging.info("budget spent: %s not run", name)
                continue
            results.add(run_one(name, student_kwargs(name, args, teacher["final"]), args, device), student=True)
    results.data["total_seconds"] = round(time.monotonic() - started, 1)
    results.save()
    logging.info("done in %.0f s; best student: %s", results.data["total_seconds"], results.data["best"])


if __name__ == "__main__":
    main()
