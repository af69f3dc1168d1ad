"""The ``qa`` command: ingest articles, serve the API and chat page, ask from the terminal, evaluate,
and train/evaluate/export the reader. Every flag overrides the matching ``QA_*`` setting."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from qa.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
reader_app = typer.Typer(no_args_is_help=True, help="Train, evaluate and export the extractive reader.")
app.add_typer(reader_app, name="reader")

IndexOpt = Annotated[Optional[Path], typer.Option("--index", help="index folder (QA_INDEX_DIR)")]


def _settings(**overrides) -> Settings:
    """The settings object from QA_* environment variables, with the given CLI flags on top."""
    from pydantic import ValidationError

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(x) for x in err['loc'])} (QA_{str(err['loc'][0]).upper()} or its flag): "
                             f"{err['msg']}" for err in e.errors())
        _fail(f"bad setting: {problems}")


def _fail(message: str, code: int = 2) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _quiet_libraries() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import bm25s  # noqa: F401  (it sets its own log level on import; quiet it after)

    for name in ("bm25s", "faiss", "faiss.loader", "sentence_transformers", "transformers", "httpx"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except Exception:  # pragma: no cover - transformers always present in practice
        pass


def _run_ingest(settings: Settings, paths: list[Path], rebuild: bool, progress: bool):
    from qa.embedding import Embedder
    from qa.index import IndexProblem
    from qa.ingest import ingest

    embedder = Embedder(settings.embedding_path(), settings.embedding_name, settings.embed_batch_size)
    try:
        report = ingest(paths, settings.index_dir, embedder, settings.chunk_words, settings.chunk_overlap_words,
                        rebuild=rebuild, progress=progress)
    except (IndexProblem, FileNotFoundError) as e:
        _fail(str(e))
    for err in report.errors:
        typer.secho(f"warning: {err}", fg=typer.colors.YELLOW, err=True)
    return report


@app.command()
def ingest(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="files or folders (.txt, .md, .jsonl); default: seeds/")] = None,
    index: IndexOpt = None,
    rebuild: Annotated[bool, typer.Option(help="ignore the existing index and build a new one")] = False,
    chunk_words: Annotated[Optional[int], typer.Option(help="words per passage (QA_CHUNK_WORDS)")] = None,
) -> None:
    """Add articles to the index; only new or changed documents are embedded."""
    _quiet_libraries()
    settings = _settings(index_dir=index, chunk_words=chunk_words)
    report = _run_ingest(settings, paths or [settings.seeds_dir], rebuild, progress=True)
    typer.echo(
        f"{len(report.added)} added, {len(report.updated)} updated, {len(report.unchanged)} unchanged, "
        f"{len(report.errors)} skipped; {report.embedded_passages} passages and {report.embedded_sentences} sentences embedded; index now holds "
        f"{report.total_documents} documents, {report.total_passages} passages ({report.seconds:.1f} s) -> {settings.index_dir}"
    )
    if not report.total_documents:
        _fail("no documents could be loaded", 1)


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="QA_HOST")] = None,
    port: Annotated[Optional[int], typer.Option(help="QA_PORT")] = None,
    index: IndexOpt = None,
) -> None:
    """Serve the API and the chat page; builds the index from seeds/ first if there is none."""
    _quiet_libraries()
    from qa.index import IndexProblem, PassageIndex
    from qa.reader.model import ExtractiveReader, ReaderNotFound

    settings = _settings(host=host, port=port, index_dir=index)
    try:
        ExtractiveReader.check_files(settings.reader_dir)
    except ReaderNotFound as e:
        _fail(str(e))
    if not PassageIndex.exists(settings.index_dir):
        typer.echo(f"no index in {settings.index_dir}: building it from {settings.seeds_dir}")
        _run_ingest(settings, [settings.seeds_dir], rebuild=False, progress=True)
    import uvicorn

    from qa.answering import load_pipeline
    from qa.app import create_app

    try:
        pipeline = load_pipeline(settings)
    except (IndexProblem, ReaderNotFound) as e:
        _fail(str(e))
    typer.echo(f"serving on http://{settings.host}:{settings.port}")
    uvicorn.run(create_app(settings, pipeline), host=settings.host, port=settings.port, log_level="info")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    index: IndexOpt = None,
    top_k: Annotated[Optional[int], typer.Option(help="passages to read (QA_TOP_K)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the API's JSON")] = False,
) -> None:
    """Answer one question from the terminal, with its citation."""
    _quiet_libraries()
    if not question.strip():
        _fail("the question is empty")
    if len(question) > 1000:
        _fail("the question is longer than 1,000 characters")
    from qa.answering import load_pipeline
    from qa.index import IndexProblem
    from qa.reader.model import ReaderNotFound

    settings = _settings(index_dir=index, top_k=top_k)
    try:
        pipeline = load_pipeline(settings)
    except (IndexProblem, ReaderNotFound) as e:
        _fail(str(e))
    result = pipeline.ask(question)
    if as_json:
        import msgspec

        typer.echo(msgspec.json.encode(result).decode())
        return
    if not result.answers:
        typer.echo("Not found in the articles.")
        return
    for n, a in enumerate(result.answers, 1):
        typer.secho(f"{n}. {a.text}", bold=True, nl=False)
        typer.echo(f"  (score {a.score:.2f})")
        for c in a.citations:
            typer.echo(f"   [{c.doc_id}] {c.title[:80]}  chars {c.start}-{c.end}")
            rel_s, rel_e = c.start - c.passage_start, c.end - c.passage_start
            typer.echo(f"   \"…{c.passage[max(0, rel_s - 80):rel_s]}[{c.passage[rel_s:rel_e]}]{c.passage[rel_e:rel_e + 80]}…\"")


@app.command("eval")
def eval_cmd(
    gold: Annotated[Path, typer.Option(help="gold JSON lines: id, question, doc_id, answers")],
    index: IndexOpt = None,
    top_k: Annotated[Optional[int], typer.Option(help="passages to read (QA_TOP_K)")] = None,
    out: Annotated[Optional[Path], typer.Option(help="write the full results (per question too) as JSON")] = None,
) -> None:
    """End to end through the API's pipeline: EM/F1, doc@1, no-answer accuracy, citations, latency, retrieval recall."""
    _quiet_libraries()
    from qa.answering import load_pipeline
    from qa.evaluation import evaluate_pipeline, format_report, load_gold, retrieval_recall
    from qa.index import IndexProblem
    from qa.reader.model import ReaderNotFound

    if not gold.is_file():
        _fail(f"no such gold file: {gold}")
    try:
        questions = load_gold(gold)
    except ValueError as e:
        _fail(str(e))
    settings = _settings(index_dir=index, top_k=top_k)
    try:
        pipeline = load_pipeline(settings)
    except (IndexProblem, ReaderNotFound) as e:
        _fail(str(e))
    pipeline.ask("warm-up question")  # first call pays one-off costs; keep it out of the latency
    result = {"gold": str(gold), "top_k": settings.top_k, "retrieval_mode": settings.retrieval_mode,
              "reader": str(settings.reader_dir), "end_to_end": evaluate_pipeline(pipeline, questions),
              "retrieval": retrieval_recall(pipeline, questions)}
    typer.echo(format_report(result))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
        typer.echo(f"written {out}")


# ---------------------------------------------------------------- reader
@reader_app.command("train")
def reader_train(
    data: Annotated[list[Path], typer.Option("--data", help="SQuAD-format JSON training file (repeat)")],
    out: Annotated[Path, typer.Option(help="run folder: checkpoints, log, final model")],
    holdout: Annotated[Optional[list[Path]], typer.Option(help="held-out file(s): their paragraphs are never trained on")] = None,
    base_model: Annotated[str, typer.Option(help="encoder folder; default: packaged all-MiniLM-L6-v2")] = "",
    max_length: int = 256,
    stride: int = 64,
    batch_size: int = 32,
    grad_accum: int = 1,
    lr: float = 1e-4,
    warmup: Annotated[float, typer.Option(help="share of the updates with a linear learning-rate warm-up")] = 0.1,
    epochs: float = 1.0,
    seed: int = 13,
    threads: int = 2,
    synthetic_negatives: Annotated[float, typer.Option(help="share of questions also paired with another paragraph of their article, as no-answer")] = 0.2,
    keep_negative_windows: float = 0.3,
    max_examples_per_source: Annotated[int, typer.Option(help="cap per data file, 0 = all")] = 0,
    max_answer_words: Annotated[int, typer.Option(help="drop questions whose answer is longer than this, 0 = keep all")] = 0,
    checkpoint_minutes: float = 10.0,
    resume: Annotated[bool, typer.Option(help="continue from OUT/checkpoint.pt")] = False,
    max_minutes: Annotated[float, typer.Option(help="stop with a checkpoint after this many minutes (0 = to the end)")] = 0.0,
    bf16: Annotated[bool, typer.Option(help="bf16 autocast for the matrix products (weights stay fp32); faster on CPUs with AMX")] = False,
    teacher: Annotated[str, typer.Option(help="trained reader folder whose start/end distributions are distilled into this one")] = "",
    distill_alpha: Annotated[float, typer.Option(help="weight of the distillation loss (the rest: gold spans)")] = 0.7,
    temperature: Annotated[float, typer.Option(help="distillation temperature")] = 2.0,
    device: Annotated[str, typer.Option(help="auto (a CUDA GPU where there is one), cpu or cuda")] = "auto",
) -> None:
    """Fine-tune the reader (CPU-friendly; checkpoints; --resume)."""
    from qa.reader.train import TrainConfig, resolve_device, train

    for p in list(data) + list(holdout or []):
        if not p.is_file():
            _fail(f"no such data file: {p}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cfg = TrainConfig(
        data=[str(p) for p in data], out=str(out), holdout=[str(p) for p in holdout or []], base_model=base_model,
        max_length=max_length, stride=stride, batch_size=batch_size, grad_accum=grad_accum, lr=lr, warmup=warmup, epochs=epochs,
        seed=seed, threads=threads, synthetic_negatives=synthetic_negatives, keep_negative_windows=keep_negative_windows,
        max_examples_per_source=max_examples_per_source, max_answer_words=max_answer_words, checkpoint_minutes=checkpoint_minutes, resume=resume,
        max_minutes=max_minutes, bf16=bf16, teacher=teacher, distill_alpha=distill_alpha, temperature=temperature,
        device=device,
    )
    try:
        resolve_device(device)  # the one place that knows the device names
    except ValueError as e:
        _fail(f"--{e}")
    if teacher and not (Path(teacher) / "config.json").is_file():
        _fail(f"no trained reader in {teacher} (config.json missing)")
    final = train(cfg)
    typer.echo(f"written {final}")


@reader_app.command("eval")
def reader_eval(
    data: Annotated[list[Path], typer.Option("--data", help="held-out SQuAD-format file (repeat)")],
    model: Annotated[Optional[Path], typer.Option(help="reader folder (QA_READER_DIR)")] = None,
    out: Annotated[Optional[Path], typer.Option(help="write the results as JSON here")] = None,
    synthetic_negatives: Annotated[float, typer.Option(help="add retrieval-style unanswerable questions")] = 0.0,
    limit: Annotated[int, typer.Option(help="evaluate a sample of this many questions (0 = all)")] = 0,
    threads: int = 2,
    int8: Annotated[bool, typer.Option(help="evaluate the dynamically int8-quantised reader")] = False,
    dtype: Annotated[Optional[str], typer.Option(help="auto, float32 or bfloat16 (QA_READER_DTYPE)")] = None,
    device: Annotated[str, typer.Option(help="cpu, or cuda to evaluate on a GPU")] = "cpu",
    runtime: Annotated[Optional[str], typer.Option(help="auto, torch or onnx (QA_READER_RUNTIME)")] = None,
) -> None:
    """SQuAD v2 EM/F1 (HasAns/NoAns) with the no-answer threshold tuned on one half of the articles."""
    _quiet_libraries()
    from qa.reader.evaluate import evaluate, format_table, write_json
    from qa.reader.model import ExtractiveReader, ReaderNotFound

    settings = _settings(reader_dir=model, threads=threads)
    for p in data:
        if not p.is_file():
            _fail(f"no such data file: {p}")
    try:
        reader = ExtractiveReader.from_settings(settings, int8=int8, no_answer_threshold=None, device=device,
                                                **({"dtype": dtype} if dtype else {}),
                                                **({"runtime": runtime} if runtime else {}))
        reader.warm_up()
    except (ReaderNotFound, ValueError) as e:
        _fail(str(e))
    result = evaluate(reader, [str(p) for p in data], synthetic_negatives, limit=limit)
    result["model"] = str(settings.reader_dir)
    result["int8"] = int8
    result["bf16"] = reader.bf16
    result["device"] = device
    result["runtime"] = reader.runtime_used
    typer.echo(format_table(result))
    if out:
        write_json(result, out)
        typer.echo(f"written {out}")


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
) -> None:
    """Fit the service's no-answer decision (reader margin + retrieval similarity) through the real pipeline."""
    _quiet_libraries()
    from qa.calibrate import calibrate
    from qa.retrieval import FusionParams
    from qa.embedding import Embedder
    from qa.reader.model import QA_CONFIG, ExtractiveReader, ReaderNotFound
    from qa.reader.squad import load_many

    settings = _settings(reader_dir=model)
    reader = ExtractiveReader.from_settings(settings, no_answer_threshold=None)
    try:
        reader.warm_up()
    except ReaderNotFound as e:
        _fail(str(e))
    embedder = Embedder(settings.embedding_path(), settings.embedding_name, settings.embed_batch_size)
    result = calibrate(reader, embedder, load_many([str(p) for p in data]), settings.top_k, settings.retrieval_mode,
                       settings.chunk_words, settings.chunk_overlap_words,
                       FusionParams.from_settings(settings), limit,
                       foreign=load_many([str(p) for p in foreign]) if foreign else None, foreign_share=foreign_share,
                       removed_share=removed_share, seed=seed)
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
        cfg_path = settings.reader_dir / QA_CONFIG
        cfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
        cfg["no_answer_policy"] = result["policy"]
        cfg["no_answer_policy_heldout"] = {k: result[k] for k in ("tune", "report", "report_reader_threshold_only", "data")}
        cfg_path.write_text(json.dumps(cfg, indent=2))
        typer.echo(f"policy written to {cfg_path}")


@reader_app.command("export")
def reader_export(
    model: Annotated[Path, typer.Option("--from", help="trained model folder (e.g. runs/x/final)")],
    out: Annotated[Path, typer.Option(help="where to ship it")] = Path("models/reader"),
    eval_json: Annotated[Optional[Path], typer.Option(help="`qa reader eval --out` file: its tuned threshold and metrics go into qa_config.json")] = None,
) -> None:
    """Write fp16 weights, tokenizer and qa_config.json (tuned no-answer threshold) for the service."""
    from qa.reader.export import export

    extra: dict = {}
    if eval_json:
        ev = json.loads(eval_json.read_text())
        extra = {"no_answer_threshold": ev["threshold"], "heldout": {k: ev[k] for k in ("report", "tune") if k in ev},
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
    from qa.reader.export import average

    try:
        average(models, out)
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(f"averaged {len(models)} readers -> {out}")


@reader_app.command("cloze")
def reader_cloze(
    data: Annotated[list[Path], typer.Option(help="SQuAD-format file whose paragraphs are used (repeat)")],
    out: Annotated[Path, typer.Option(help="where to write the questions (SQuAD format)")],
    per_paragraph: Annotated[int, typer.Option(min=1, help="questions per paragraph, from different sentences")] = 3,
    seed: Annotated[int, typer.Option()] = 7,
) -> None:
    """Template questions over names, numbers and dates in the files' paragraphs: distillation inputs."""
    import collections

    from qa.reader.cloze import make_cloze

    missing = [str(p) for p in data if not p.is_file()]
    if missing:
        _fail(f"no such file: {', '.join(missing)}")
    try:
        made = make_cloze(data, per_paragraph=per_paragraph, seed=seed)
    except (ValueError, KeyError, TypeError) as exc:  # not JSON, or not SQuAD's shape
        _fail(f"not a SQuAD-format file ({exc.__class__.__name__}: {exc})")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(made, ensure_ascii=False))
    kinds = collections.Counter(q["kind"] for art in made["data"] for p in art["paragraphs"] for q in p["qas"])
    typer.echo(f"{sum(kinds.values())} questions ({', '.join(f'{k} {n}' for k, n in kinds.most_common())}) -> {out}")


def main() -> None:  # console-script entry point
    app()


if __name__ == "__main__":
    sys.exit(app())
