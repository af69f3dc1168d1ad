"""``qa reader ...``: train, evaluate, calibrate, export, average and make template questions for the reader.

The service's own commands (``main.py``) never import this module's training and evaluation code;
it is loaded only when a ``qa reader`` command runs.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import typing
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from qa.cli.common import fail, quiet_libraries, require_files, settings as load_settings, user_errors
from qa.evaluation.heldout import HELD_OUT_EVERY
from qa.training.config import TrainConfig

reader_app = typer.Typer(no_args_is_help=True, help="Train, evaluate and export the extractive reader.")


# ---------------------------------------------------------------- train: its options are TrainConfig's fields
def _train_parameters() -> list[inspect.Parameter]:
    hints = typing.get_type_hints(TrainConfig)
    params = []
    for f in dataclasses.fields(TrainConfig):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        kind = hints[f.name]
        names = (f"--{f.name.replace('_', '-')}",)
        if kind == list[str]:  # repeatable; "--holdout" and "--data" as before
            annotation = Annotated[list[str] if required else Optional[list[str]], typer.Option(*names, help=f.metadata["help"])]
            default = inspect.Parameter.empty if required else None
        else:
            annotation = Annotated[kind, typer.Option(*names, help=f.metadata["help"])]
            default = inspect.Parameter.empty if required else f.default
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation))
    return params


def reader_train(**options) -> None:
    """Fine-tune the reader (CPU-friendly; checkpoints; --resume)."""
    from qa.training.train import resolve_device, train

    cfg = TrainConfig(**{k: ([] if v is None else v) for k, v in options.items()})
    require_files([Path(p) for p in cfg.data + cfg.holdout])
    try:
        resolve_device(cfg.device)  # the one place that knows the device names
    except ValueError as e:
        fail(f"--{e}")
    if cfg.teacher and not (Path(cfg.teacher) / "config.json").is_file():
        fail(f"no trained reader in {cfg.teacher} (config.json missing)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    typer.echo(f"written {train(cfg)}")


reader_train.__signature__ = inspect.Signature(_train_parameters())
reader_app.command("train")(reader_train)


# ---------------------------------------------------------------- the other commands
@reader_app.command("eval")
def reader_eval(
    data: Annotated[list[Path], typer.Option("--data", help="held-out SQuAD-format file (repeat)")],
    model: Annotated[Optional[Path], typer.Option(help="reader folder (QA_READER_DIR)")] = None,
    out: Annotated[Optional[Path], typer.Option(help="write the results as JSON here")] = None,
    synthetic_negatives: Annotated[float, typer.Option(help="add retrieval-style unanswerable questions")] = 0.0,
    limit: Annotated[int, typer.Option(help="evaluate a sample of this many questions (0 = all)")] = 0,
    threads: Annotated[Optional[int], typer.Option(help="QA_THREADS")] = None,
    int8: Annotated[Optional[bool], typer.Option("--int8/--no-int8", help="the dynamically int8-quantised reader (QA_READER_INT8)")] = None,
    dtype: Annotated[Optional[str], typer.Option(help="auto, float32 or bfloat16 (QA_READER_DTYPE)")] = None,
    device: Annotated[Optional[str], typer.Option(help="cpu, or cuda to evaluate on a GPU (QA_READER_DEVICE)")] = None,
    runtime: Annotated[Optional[str], typer.Option(help="auto, torch or onnx (QA_READER_RUNTIME)")] = None,
    tune_data: Annotated[Optional[list[Path]], typer.Option("--tune-data", help="tune the threshold on these held-out "
                                                            "files (repeat) and report all of --data")] = None,
) -> None:
    """SQuAD v2 EM/F1 (HasAns/NoAns) with the no-answer threshold tuned on one half of the articles (or on --tune-data)."""
    quiet_libraries()
    from qa.evaluation.reader import evaluate, format_table, write_json
    from qa.reader.extractive import ExtractiveReader

    require_files(data + (tune_data or []))
    settings = load_settings(reader_dir=model, threads=threads, reader_int8=int8, reader_dtype=dtype,
                             reader_device=device, reader_runtime=runtime)
    with user_errors():
        try:
            reader = ExtractiveReader.from_settings(settings, no_answer_threshold=None)
        except ValueError as e:
            fail(str(e))
        reader.warm_up()
    with user_errors():
        result = evaluate(reader, [str(p) for p in data], synthetic_negatives, limit=limit,
                          tune_data=[str(p) for p in tune_data] if tune_data else None)
    result.update(model=str(settings.reader_dir), threads=reader.threads, int8=reader.int8, bf16=reader.bf16, device=reader.device,
                  runtime=reader.runtime_used)
    typer.echo(format_table(result))
    if out:
        write_json(result, out)
        typer.echo(f"written {out}")


def _judged_reader(settings, verifier: bool):
    """The reader as calibration and decisions read with it (no margin threshold of its own), and the answer
    verifier when asked for, both loaded; a missing model is a clear CLI error."""
    from qa.answering.verifier import AnswerVerifier
    from qa.reader.extractive import ExtractiveReader

    reader = ExtractiveReader.from_settings(settings, no_answer_threshold=None)
    checker = AnswerVerifier.from_settings(settings) if verifier else None
    with user_errors():
        reader.warm_up()
        if checker is not None:
            checker.warm_up()
    return reader, checker


@reader_app.command("calibrate")
def reader_calibrate(
    data: Annotated[list[Path], typer.Option("--data", help="held-out SQuAD-format file (repeat)")],
    model: Annotated[Optional[Path], typer.Option(help="reader folder (QA_READER_DIR); its qa_config.json is updated")] = None,
    limit: Annotated[int, typer.Option(help="use a sample of this many questions (0 = all)")] = 0,
    out: Annotated[Optional[Path], typer.Option(help="write the results as JSON here")] = None,
    write: Annotated[bool, typer.Option(help="store the fitted policy in the reader's qa_config.json")] = False,
    foreign: Annotated[Optional[list[Path]], typer.Option(help="file(s) of other articles' questions, asked as out-of-corpus (unanswerable)")] = None,
    foreign_share: Annotated[float, typer.Option(help="out-of-corpus questions per held-out question")] = 0.25,
    removed_share: Annotated[float, typer.Option(help="share of paragraphs left out of the index; their questions become unanswerable")] = 0.0,
    seed: Annotated[int, typer.Option(help="draws the sample, the removed paragraphs and the out-of-corpus questions")] = 7,
    verifier: Annotated[bool, typer.Option("--verifier/--no-verifier", help="weigh the answer verifier's logit too (the one in QA_VERIFIER_DIR, made by `qa reader verifier`)")] = False,
) -> None:
    """Fit the service's no-answer decision (reader margin, retrieval similarity, verifier) through the real pipeline."""
    quiet_libraries()
    from qa.evaluation.squad import load_many
    from qa.search.embedding import Embedder
    from qa.training.calibrate import calibrate, write_policy

    require_files(list(data) + list(foreign or []))
    settings = load_settings(reader_dir=model)
    reader, checker = _judged_reader(settings, verifier)
    result = calibrate(reader, Embedder.from_settings(settings), load_many([str(p) for p in data]), settings,
                       limit, seed=seed, foreign=load_many([str(p) for p in foreign]) if foreign else None,
                       foreign_share=foreign_share, removed_share=removed_share, verifier=checker)
    result["data"] = [str(p) for p in data] + [f"{p} (out-of-corpus questions)" for p in foreign or []]
    for part in ("tune", "report", "report_reader_threshold_only"):
        r = result[part]
        typer.echo(f"{part:<30} F1 {r['f1']:5.1f}  HasAns F1 {r['HasAns_f1']:5.1f} (always answering {r['HasAns_f1_always_answer']:5.1f})"
                   f"  NoAns acc {r['NoAns_accuracy']:5.1f}  n={r['questions']}")
        kinds = ", ".join(f"{k} {v['accuracy']:.1f} of {v['questions']}" for k, v in r["NoAns_accuracy_by_kind"].items())
        typer.echo(f"{'':<30} NoAns acc by kind: {kinds}")
    typer.echo(f"policy: {result['policy']}")
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
    if write:
        typer.echo(f"policy written to {write_policy(settings.reader_dir, result)}")


@reader_app.command("decide")
def reader_decide(
    rows: Annotated[Path, typer.Option(help="rows file (.json.gz): read if it exists, else gathered with --model and written")],
    data: Annotated[Optional[list[Path]], typer.Option("--data", help="decision set: held-out SQuAD-format file (repeat)")] = None,
    policy_data: Annotated[Optional[list[Path]], typer.Option("--policy-data", help="held-out file(s) the no-answer policy is fitted on (repeat)")] = None,
    model: Annotated[Optional[Path], typer.Option(help="reader folder (QA_READER_DIR)")] = None,
    limit: Annotated[int, typer.Option(help="a seeded sample of this many decision questions (0 = all)")] = 0,
    policy_limit: Annotated[int, typer.Option(help="a seeded sample of this many policy questions (0 = all)")] = 0,
    foreign: Annotated[Optional[list[Path]], typer.Option(help="file(s) of other articles' questions, asked of the policy set as out-of-corpus")] = None,
    foreign_share: Annotated[float, typer.Option(help="out-of-corpus questions per policy question")] = 0.15,
    removed_share: Annotated[float, typer.Option(help="share of the policy set's paragraphs left out of its index")] = 0.1,
    seed: Annotated[int, typer.Option()] = 7,
    prior: Annotated[Optional[list[float]], typer.Option("--prior", help="share of unanswerable questions to fit and report at (repeat; default 0.25 and 0.5)")] = None,
    against: Annotated[Optional[Path], typer.Option(help="the baseline's rows file: report candidate minus baseline with paired intervals")] = None,
    out: Annotated[Optional[Path], typer.Option(help="write the figures as JSON here")] = None,
    write_prior: Annotated[Optional[float], typer.Option(help="store the policy fitted at this prior in the reader's qa_config.json")] = None,
    verifier: Annotated[bool, typer.Option("--verifier/--no-verifier", help="gather with the answer verifier (QA_VERIFIER_DIR) weighed as the policy's last feature")] = False,
) -> None:
    """Judge a reader through the whole pipeline on a held-out decision set: F1, HasAns F1 and NoAns accuracy
    with 95% bootstrap intervals, its policy fitted on another held-out set at each prior (docs/BENCHMARKS.md)."""
    quiet_libraries()
    from qa.evaluation.squad import load_many
    from qa.training import decide as d
    from qa.training.calibrate import write_policy

    priors = tuple(prior) if prior else d.PRIORS
    if write_prior is not None and write_prior not in priors:
        priors = priors + (write_prior,)
    settings = load_settings(reader_dir=model)
    if rows.exists():
        parts, meta = d.load_rows(rows)
    else:
        if not data or not policy_data:
            fail(f"{rows} does not exist: give --data and --policy-data to gather it")
        require_files(list(data) + list(policy_data) + list(foreign or []))
        from qa.search.embedding import Embedder

        reader, checker = _judged_reader(settings, verifier)
        embedder = Embedder.from_settings(settings)
        with user_errors():
            parts = {
                "policy": d.gather(reader, embedder, load_many([str(p) for p in policy_data]), settings, policy_limit,
                                   removed_share=removed_share, foreign=load_many([str(p) for p in foreign]) if foreign else None,
                                   foreign_share=foreign_share, seed=seed, verifier=checker),
                "decision": d.gather(reader, embedder, load_many([str(p) for p in data]), settings, limit, seed=seed,
                                     verifier=checker),
            }
        meta = {"model": str(settings.reader_dir), "data": [str(p) for p in data], "policy_data": [str(p) for p in policy_data],
                "foreign": [str(p) for p in foreign or []], "foreign_share": foreign_share, "removed_share": removed_share,
                "limit": limit, "policy_limit": policy_limit, "seed": seed, "runtime": reader.runtime_used,
                "top_k": settings.top_k, "verifier": str(settings.verifier_dir) if verifier else None}
        d.save_rows(rows, parts, meta)
        typer.echo(f"rows written to {rows}")
    base = d.load_rows(against)[0] if against else None
    result: dict = {"rows": str(rows), "meta": meta, "against": str(against) if against else None, "priors": {}}
    for p in priors:
        policy = d.fit(parts["policy"], prior=p)
        o = d.outcome(parts["decision"], policy)
        fig = d.report(o, p)
        entry = {"policy": policy.to_config(), "decision": fig}
        line = "  ".join(f"{k} {v['value']:5.1f} [{v['ci95'][0]:.1f}, {v['ci95'][1]:.1f}]" for k, v in fig.items() if isinstance(v, dict))
        typer.echo(f"prior {p:.2f}: {line}  (n={fig['answerable']}+{fig['unanswerable']})")
        if base is not None:
            bo = d.outcome(base["decision"], d.fit(base["policy"], prior=p))
            entry["versus_baseline"] = cmp = d.compare(bo, o, p)
            typer.echo("  minus baseline: " + "  ".join(
                f"{k} {v['difference']:+5.1f} [{v['ci95'][0]:+.1f}, {v['ci95'][1]:+.1f}]" for k, v in cmp.items()))
        result["priors"][str(p)] = entry
        if write_prior is not None and p == write_prior:
            typer.echo(f"policy at prior {p} written to {write_policy(settings.reader_dir, {'policy': policy.to_config(), 'tune': {'prior': p}, 'report': fig, 'report_reader_threshold_only': None, 'data': meta})}")
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
        typer.echo(f"written {out}")


@reader_app.command("verifier")
def reader_verifier(
    data: Annotated[list[Path], typer.Option("--data", help="SQuAD-format training file (repeat)")],
    out: Annotated[Path, typer.Option(help="where to write the verifier (the service reads QA_VERIFIER_DIR, models/verifier)")],
    model: Annotated[Optional[Path], typer.Option(help="the reader whose answers it judges (QA_READER_DIR)")] = None,
    holdout: Annotated[Optional[list[Path]], typer.Option(help="held-out file(s): the trained verifier's AUC on them is reported")] = None,
    synthetic_negatives: Annotated[float, typer.Option(help="questions also paired with another paragraph of their article")] = 0.2,
    epochs: Annotated[float, typer.Option(min=0.01)] = 1.0,
    lr: Annotated[float, typer.Option(min=0.0)] = 5e-5,
    seed: Annotated[int, typer.Option()] = 3,
    limit: Annotated[int, typer.Option(min=0, help="a seeded sample of this many training questions (0 = all)")] = 0,
) -> None:
    """Train the answer verifier on the reader's own right and wrong answers (then refit the policy with calibrate)."""
    quiet_libraries()
    from qa.answering.verifier import AnswerVerifier
    from qa.reader.extractive import ExtractiveReader
    from qa.training.verifier import VerifierTrainConfig, check, propose, train_verifier

    require_files(list(data) + list(holdout or []))
    settings = load_settings(reader_dir=model)
    reader = ExtractiveReader.from_settings(settings)
    with user_errors():
        reader.warm_up()
    logging.getLogger("qa.training.verifier").setLevel(logging.INFO)  # its progress, past quiet_libraries' WARNING
    cfg = VerifierTrainConfig(data=[str(p) for p in data], out=str(out), reader=str(settings.reader_dir),
                              synthetic_negatives=synthetic_negatives, epochs=epochs, lr=lr, seed=seed, limit=limit,
                              reach=settings.verifier_reach, max_length=settings.verifier_max_length,
                              threads=settings.threads)
    typer.echo(f"written {train_verifier(cfg, reader)}")
    if holdout:
        verifier = AnswerVerifier.from_settings(settings, model_dir=out)
        for path in holdout:
            typer.echo(f"{path}: {check(verifier, propose(reader, [str(path)], synthetic_negatives))}")


@reader_app.command("export")
def reader_export(
    model: Annotated[Path, typer.Option("--from", help="trained model folder (e.g. runs/x/final)")],
    out: Annotated[Path, typer.Option(help="where to ship it")] = Path("models/reader"),
    eval_json: Annotated[Optional[Path], typer.Option(help="`qa reader eval --out` file: its tuned threshold and metrics go into qa_config.json")] = None,
    version: Annotated[Optional[str], typer.Option(help="the reader's version (e.g. v18): /health, /metrics and `qa --version` report it")] = None,
) -> None:
    """Write fp16 weights, tokenizer and qa_config.json (tuned no-answer threshold) for the service."""
    from qa.training.export import export

    extra: dict = {"version": version} if version else {}
    if eval_json:
        require_files([eval_json], "evaluation file")
        ev = json.loads(eval_json.read_text())
        extra |= {"no_answer_threshold": ev["threshold"], "heldout": {k: ev[k] for k in ("report", "tune") if k in ev},
                  "heldout_data": ev.get("data")}
    train_cfg = model / "training_config.json"
    if train_cfg.exists():
        extra["training"] = json.loads(train_cfg.read_text())
    export(model, out, extra)
    typer.echo(f"exported {model} -> {out}")


@reader_app.command("average")
def reader_average(
    models: Annotated[list[Path], typer.Option("--from", help="trained reader folder (repeat: two or more)")],
    out: Annotated[Path, typer.Option(help="where to write the averaged reader")],
) -> None:
    """Average readers' weights (students of one teacher and data mix); export and calibrate the result."""
    from qa.training.export import average

    try:
        average(models, out)
    except ValueError as exc:
        fail(str(exc))
    typer.echo(f"averaged {len(models)} readers -> {out}")


@reader_app.command("split")
def reader_split(
    data: Annotated[Path, typer.Option(help="SQuAD-format file to split by article")],
    held_out: Annotated[Path, typer.Option(help="where to write the held-out articles")],
    rest: Annotated[Path, typer.Option(help="where to write the other articles (for training)")],
    every: Annotated[int, typer.Option(min=2, help="hold out every N-th article, by title, of those with unanswerable questions")] = HELD_OUT_EVERY,
) -> None:
    """Hold out a fixed set of articles (never trained on) for tuning and reporting the no-answer decision."""
    from qa.evaluation.heldout import split_articles

    require_files([data], "file")
    try:
        held, others, titles = split_articles(json.loads(data.read_text(encoding="utf-8")), every)
    except (ValueError, KeyError, TypeError) as exc:
        fail(f"not a SQuAD-format file ({exc.__class__.__name__}: {exc})")
    for path, part in ((held_out, held), (rest, others)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(part, ensure_ascii=False), encoding="utf-8")
    typer.echo(f"held out {len(titles)} articles ({', '.join(titles)}) -> {held_out}; {len(others['data'])} others -> {rest}")


def _made_from_squad(data: list[Path], out: Path, make: Callable[[], dict]) -> dict:
    """``make()``'s SQuAD-format dict written to ``out``; a missing or malformed input file is a clear error."""
    require_files(data, "file")
    try:
        made = make()
    except (ValueError, KeyError, TypeError) as exc:  # not JSON, or not SQuAD's shape
        fail(f"not a SQuAD-format file ({exc.__class__.__name__}: {exc})")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(made, ensure_ascii=False))
    return made


@reader_app.command("swaps")
def reader_swaps(
    data: Annotated[list[Path], typer.Option(help="SQuAD-format file whose answerable questions are swapped (repeat)")],
    out: Annotated[Path, typer.Option(help="where to write the unanswerable questions (SQuAD format)")],
    share: Annotated[float, typer.Option(min=0.0, max=1.0, help="share of answerable questions tried")] = 0.5,
    seed: Annotated[int, typer.Option()] = 7,
) -> None:
    """Unanswerable questions: a name, number or date the question shares with its paragraph swapped for one
    of the same kind the paragraph never mentions (SQuAD 2.0's entity and number swaps)."""
    from qa.training.swaps import make_swaps

    made = _made_from_squad(data, out, lambda: make_swaps(data, share=share, seed=seed))
    n = sum(len(p["qas"]) for art in made["data"] for p in art["paragraphs"])
    typer.echo(f"{n} unanswerable questions over {len(made['data'])} articles -> {out}")


@reader_app.command("cloze")
def reader_cloze(
    data: Annotated[list[Path], typer.Option(help="SQuAD-format file whose paragraphs are used (repeat)")],
    out: Annotated[Path, typer.Option(help="where to write the questions (SQuAD format)")],
    per_paragraph: Annotated[int, typer.Option(min=1, help="questions per paragraph, from different sentences")] = 3,
    seed: Annotated[int, typer.Option()] = 7,
) -> None:
    """Template questions over names, numbers and dates in the files' paragraphs: distillation inputs."""
    import collections

    from qa.training.cloze import make_cloze

    made = _made_from_squad(data, out, lambda: make_cloze(data, per_paragraph=per_paragraph, seed=seed))
    kinds = collections.Counter(q["kind"] for art in made["data"] for p in art["paragraphs"] for q in p["qas"])
    typer.echo(f"{sum(kinds.values())} questions ({', '.join(f'{k} {n}' for k, n in kinds.most_common())}) -> {out}")
