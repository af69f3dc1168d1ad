"""The ``qa`` command: ingest articles, serve the API and chat page, ask from the terminal, evaluate,
and train/evaluate/export the reader. Every flag overrides the matching ``QA_*`` setting."""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Optional

import click
import typer
from typer.core import TyperGroup

from qa.cli.common import IndexOpt, fail, quiet_libraries, settings as load_settings, user_errors
from qa.settings import MAX_QUESTION_CHARS, Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
RayAddressOpt = Annotated[Optional[str], typer.Option("--ray-address", help="Ray cluster address (QA_RAY_ADDRESS)")]
_RAY_ADDRESS = re.compile(r"^(auto|ray://\S+|[\w.-]+:\d+)$")


def _ray_address_argument(argv: list[str]) -> list[str]:
    """``--ray ADDRESS`` as ``--ray --ray-address ADDRESS``: the address is optional, so a word after
    ``--ray`` is taken as one only when it looks like one (``auto``, ``ray://…``, ``host:port``), not a path."""
    out = list(argv)
    for i, arg in enumerate(out[:-1]):
        if arg == "--ray" and _RAY_ADDRESS.match(out[i + 1]):
            out[i + 1 : i + 2] = ["--ray-address", out[i + 1]]
            break
    return out


class _ReaderCommands(TyperGroup):
    """``qa reader``'s commands, loaded only when one of them is asked for, so that ``qa serve`` and the
    other service commands never import training or evaluation code."""

    def _group(self) -> click.Group:
        from qa.cli.reader import reader_app

        return typer.main.get_group(reader_app)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._group().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self._group().get_command(ctx, name)


app.add_typer(typer.Typer(cls=_ReaderCommands, no_args_is_help=True,
                          help="Train, evaluate and export the extractive reader."), name="reader")


def _print_versions(asked: bool) -> None:
    """The service's version and that of the reader it would serve (QA_READER_DIR), read without loading it."""
    if not asked:
        return
    from qa.reader import config as reader_config
    from qa.version import service_version

    reader_dir = load_settings().reader_dir
    named = reader_config.version(reader_config.read(reader_dir))
    typer.echo(f"qa-news {service_version()}, reader {named}" if named else
               f"qa-news {service_version()}, reader in {reader_dir} (its {reader_config.FILE} names no version)")
    raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_print_versions, is_eager=True,
                                          help="print the service's and the reader's versions and exit")] = False,
) -> None:
    pass


def _say_waiting(owner: dict) -> None:
    from qa.search.lock import describe

    typer.secho(f"waiting for the index lock held by {describe(owner)}", fg=typer.colors.YELLOW, err=True)


def _run_ingest(settings: Settings, paths: list[Path], rebuild: bool, progress: bool, use_ray: bool = False,
                urls: list[str] = ()):
    from qa.search.ingest import IndexConfig, ingest, ingest_loaded

    with user_errors():
        config = IndexConfig.from_settings(settings)
        if use_ray:
            from qa.search.ray_ingest import ray_ingest

            report = ray_ingest(paths, settings.index_dir, config, settings.max_document_bytes, settings.ray_address,
                                settings.ray_embed_actors, rebuild=rebuild, progress=progress, on_wait=_say_waiting,
                                max_content_bytes=settings.max_content_bytes)
        elif urls:
            from qa.cli.fetch import Fetcher, load_urls
            from qa.corpus.documents import combine, load_documents

            fetcher = Fetcher.from_settings(settings)
            try:
                fetched = load_urls(list(urls), fetcher, settings.max_document_bytes)
            finally:
                fetcher.close()
            if paths:  # files and URLs in one write
                files = load_documents(paths, settings.max_document_bytes, settings.max_content_bytes)
                fetched = combine([(Path("files"), files), (Path("URLs"), fetched)], [])
            report = ingest_loaded(fetched, settings.index_dir, config, rebuild, progress, _say_waiting)
        else:
            report = ingest(paths, settings.index_dir, config, settings.max_document_bytes,
                            rebuild=rebuild, progress=progress, on_wait=_say_waiting,
                            max_content_bytes=settings.max_content_bytes)
    for err in report.errors:
        typer.secho(f"rejected: {err}", fg=typer.colors.YELLOW, err=True)
    return report


def _ingest_loaded(settings: Settings, loaded):
    """Documents loaded elsewhere (fetched), into the index; what could not be loaded is listed."""
    from qa.search.ingest import IndexConfig, ingest_loaded

    with user_errors():
        report = ingest_loaded(loaded, settings.index_dir, IndexConfig.from_settings(settings), on_wait=_say_waiting)
    for err in report.errors:
        typer.secho(f"rejected: {err}", fg=typer.colors.YELLOW, err=True)
    typer.echo(_summary(report, settings))
    return report


def _summary(report, settings: Settings) -> str:
    return (f"{len(report.added)} added, {len(report.updated)} updated, {len(report.unchanged)} unchanged, "
            f"{len(report.errors)} rejected; {report.embedded_passages} passages and {report.embedded_sentences} "
            f"sentences embedded; index now holds {report.total_documents} documents, {report.total_passages} passages "
            f"({report.seconds:.1f} s) -> {settings.index_dir}")


def _load_pipeline(settings: Settings, reader=None):
    from qa.answering.pipeline import AnswerPipeline

    with user_errors():
        return AnswerPipeline.from_settings(settings, reader=reader)


@app.command()
def ingest(
    paths: Annotated[Optional[list[str]], typer.Argument(
        help="files or folders (.txt, .md, .jsonl, .html, .xml/.rss/.atom feeds, .pdf), or http(s) URLs of pages, "
             "feeds and PDFs to fetch; default: seeds/")] = None,
    index: IndexOpt = None,
    rebuild: Annotated[bool, typer.Option(help="ignore the existing index and build a new one")] = False,
    chunk_words: Annotated[Optional[int], typer.Option(help="words per passage (QA_CHUNK_WORDS)")] = None,
    watch: Annotated[bool, typer.Option(help="keep going: ingest files that appear or change under PATHS")] = False,
    interval: Annotated[Optional[float], typer.Option(help="with --watch: seconds between looks (folders: 5; "
                                                       "feeds: QA_FEED_POLL_SECONDS)")] = None,
    feed: Annotated[Optional[list[str]], typer.Option("--feed", help="a feed's URL: ingest its entries; with "
                                                      "--watch, poll it for new ones (conditional GET)")] = None,
    use_ray: Annotated[bool, typer.Option("--ray", help="load, chunk and embed on a Ray cluster (`--ray ADDRESS`, "
                                          "QA_RAY_ADDRESS; none: a local Ray for the run)")] = False,
    ray_address: RayAddressOpt = None,
) -> None:
    """Add articles to the index; only new or changed documents are embedded.

    Exits 0 when everything went in, 1 after listing what was rejected. One writer at a time: a second
    ingest into the same index waits for the first and says so."""
    quiet_libraries()
    from qa.cli.fetch import is_url

    settings = load_settings(index_dir=index, chunk_words=chunk_words, ray_address=ray_address)
    urls = [p for p in paths or [] if is_url(p)] + list(feed or [])
    files = [Path(p) for p in paths or [] if not is_url(p)] or ([] if urls else [settings.seeds_dir])
    if watch and use_ray:
        fail("--watch ingests a few files at a time: it runs without --ray")
    if urls and use_ray:
        fail("URLs are fetched here, not on a cluster: ingest them without --ray")
    if watch and feed:
        if files or len(urls) != len(feed):
            fail("--watch with --feed polls feeds only: give no files or other URLs with it")
        from qa.cli.fetch import watch_feeds

        watch_feeds(settings, list(feed), interval or settings.feed_poll_seconds,
                    lambda loaded: _ingest_loaded(settings, loaded))
        return
    if watch and urls:
        fail("--watch follows folders, or feeds given with --feed; a page URL is fetched once, without --watch")
    if watch:
        _watch(settings, files, interval or 5.0)
        return
    report = _run_ingest(settings, files, rebuild, progress=True, use_ray=use_ray, urls=urls)
    typer.echo(_summary(report, settings))
    if not report.total_documents:
        fail("no documents could be loaded", 1)
    if report.errors:
        raise typer.Exit(1)


def _watch(settings: Settings, paths: list[Path], interval: float) -> None:
    """Ingest what is new or changed under ``paths``, every ``interval`` seconds, until SIGINT (Ctrl-C) or SIGTERM.
    A file removed from the folder stays in the index (delete it with DELETE /api/documents/{id})."""
    from qa.corpus.documents import find_files

    # Our own handlers, because a process started in the background by a shell inherits SIGINT ignored
    # (and Python then never raises KeyboardInterrupt), and because a stop should wait for the ingest
    # under way to finish its write rather than break into it.
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    seen: dict[Path, tuple[int, int]] = {}
    typer.echo(f"watching {', '.join(map(str, paths))} every {interval:g} s (Ctrl-C to stop)")
    try:
        while not stop.is_set():
            files, _ = find_files(paths)
            stamps = {}
            for f in files:
                try:
                    st = f.stat()
                except FileNotFoundError:  # removed between the listing and now
                    continue
                stamps[f] = (st.st_mtime_ns, st.st_size)
            fresh = [f for f, stamp in stamps.items() if seen.get(f) != stamp]
            if fresh:
                report = _run_ingest(settings, fresh, rebuild=False, progress=False)
                typer.echo(_summary(report, settings))
                seen.update({f: stamps[f] for f in fresh})
            stop.wait(interval)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    typer.echo("stopped watching")


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="QA_HOST")] = None,
    port: Annotated[Optional[int], typer.Option(help="QA_PORT")] = None,
    index: IndexOpt = None,
    batch_wait_ms: Annotated[Optional[float], typer.Option(help="batch concurrent questions' reading, waiting up to "
                                                            "this long for others (QA_READER_BATCH_WAIT_MS; 0: off)")] = None,
    use_ray: Annotated[bool, typer.Option("--ray", help="read on Ray Serve replicas (`--ray ADDRESS`, QA_RAY_ADDRESS; "
                                          "none: a local Ray)")] = False,
    ray_address: RayAddressOpt = None,
    replicas: Annotated[Optional[int], typer.Option(min=1, help="with --ray: reader replicas (QA_RAY_REPLICAS)")] = None,
) -> None:
    """Serve the API and the chat page; builds the index from seeds/ first if there is none."""
    quiet_libraries()
    settings = load_settings(host=host, port=port, index_dir=index, reader_batch_wait_ms=batch_wait_ms,
                             ray_address=ray_address, ray_replicas=replicas)
    _index_ready(settings)
    if use_ray:
        _serve_on_ray(settings)
        return
    from qa.reader.batching import serving_reader

    # loaded here rather than in the app's lifespan: a problem is a message, not a traceback
    _serve(settings, _load_pipeline(settings, serving_reader(settings)))


def _serve(settings: Settings, pipeline) -> None:
    from qa.web.app import create_app
    from qa.web.server import run

    typer.echo(f"serving on http://{settings.host}:{settings.port}")
    run(create_app(settings, pipeline), settings)


def _serve_on_ray(settings: Settings) -> None:
    from qa.cluster import import_ray, ray_session

    with user_errors():
        import_ray()
        from qa.reader.ray_serve import RemoteReader, start_readers, stop_readers

        with ray_session(settings.ray_address):
            typer.echo(f"starting {settings.ray_replicas} reader replicas on Ray")
            handle = start_readers(settings, settings.ray_replicas, settings.ray_replica_threads)
            try:
                _serve(settings, _load_pipeline(settings, RemoteReader.from_settings(settings, handle)))
            finally:
                stop_readers()


UrlOpt = Annotated[Optional[str], typer.Option(help="ask the qa-news server at this URL (e.g. http://127.0.0.1:8000) "
                                                  "through its HTTP API, instead of the local index")]
TokenOpt = Annotated[Optional[str], typer.Option(envvar="QA_API_TOKEN", show_envvar=False,
                                                 help="bearer token for the API's writes (QA_API_TOKEN)")]


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    index: IndexOpt = None,
    top_k: Annotated[Optional[int], typer.Option(help="passages to read (QA_TOP_K)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the API's JSON")] = False,
    url: UrlOpt = None,
    timeout: Annotated[float, typer.Option(help="with --url: seconds to wait for the answer")] = 30.0,
) -> None:
    """Answer one question from the terminal, with its citation (from the local index, or a server's --url)."""
    from qa.web.schemas import AskResponse, encode

    if not question.strip():
        fail("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        fail(f"the question is longer than {MAX_QUESTION_CHARS:,} characters")
    if url:
        response = _ask_server(url, question, top_k, timeout)
    else:
        quiet_libraries()
        response = AskResponse.of(_load_pipeline(load_settings(index_dir=index, top_k=top_k)).ask(question))
    if as_json:
        typer.echo(encode(response).decode())
        return
    if not response.answers:
        typer.echo("Not found in the articles.")
        return
    for n, a in enumerate(response.answers, 1):
        typer.secho(f"{n}. {a.text}", bold=True, nl=False)
        typer.echo(f"  (score {a.score:.2f})")
        for c in a.citations:
            typer.echo(f"   [{c.doc_id}] {c.title[:80]}  chars {c.start}-{c.end}")
            rel_s, rel_e = c.start - c.passage_start, c.end - c.passage_start
            typer.echo(f"   \"…{c.passage[max(0, rel_s - 80):rel_s]}[{c.passage[rel_s:rel_e]}]{c.passage[rel_e:rel_e + 80]}…\"")


def _ask_server(url: str, question: str, top_k: int | None, timeout: float):
    """``POST /api/ask`` of the server at ``url`` (torch and the models are not loaded for this)."""
    from qa.client import ApiError, Client, QAClientError

    try:
        with Client(url, timeout=timeout) as client:
            return client.ask(question, top_k=top_k)
    except ApiError as e:
        fail(f"{url} answered {e.status_code}: {e.detail}")
    except QAClientError as e:
        fail(str(e))


@app.command()
def mcp(
    url: UrlOpt = None,
    index: IndexOpt = None,
    token: TokenOpt = None,
    allow_writes: Annotated[bool, typer.Option("--allow-writes", help="also offer the tools add_documents and "
                                               "delete_document (needs the token)")] = False,
    http: Annotated[bool, typer.Option("--http", help="serve MCP over streamable HTTP (/mcp) instead of stdio")] = False,
    host: Annotated[str, typer.Option(help="with --http: the address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="with --http: the port")] = 8765,
    timeout: Annotated[float, typer.Option(help="seconds an API request may take")] = 60.0,
) -> None:
    """The service as an MCP server for LLM agents: tools ask, search and get_document (stdio unless --http).

    With --url it asks a running server through its HTTP API; without, it loads the index and reader in this
    process (as `qa serve` does) and asks the same app in memory. Either way an answer is the one POST
    /api/ask gives. Writes are offered only with --allow-writes and a token (--token or QA_API_TOKEN)."""
    import contextlib

    import anyio

    from qa.mcp.server import local_client, remote_client, serve_http, serve_stdio
    from qa.version import service_version

    if allow_writes and not token:
        fail("--allow-writes needs the API's token: --token or QA_API_TOKEN")
    if http and allow_writes and host not in ("127.0.0.1", "localhost", "::1"):
        typer.secho(f"warning: whoever reaches {host}:{port} can add and delete documents", fg=typer.colors.YELLOW,
                    err=True)
    # stdout is the protocol's channel over stdio: whatever loading prints goes to stderr
    with contextlib.redirect_stdout(sys.stderr):
        if url:
            source = remote_client(url, token if allow_writes else None, timeout)
        else:
            quiet_libraries()
            settings = load_settings(index_dir=index, api_token=token)
            source = local_client(settings, _load_local(settings), timeout)
    if http:
        anyio.run(serve_http, source, allow_writes, host, port, service_version())
    else:
        anyio.run(serve_stdio, source, allow_writes, service_version())


def _index_ready(settings: Settings) -> None:
    """The reader's files checked, and the index built from seeds/ if there is none (``qa serve``, ``qa mcp``)."""
    from qa.reader.extractive import ExtractiveReader
    from qa.search.store import PassageIndex

    with user_errors():
        ExtractiveReader.check_files(settings.reader_dir)  # before a long first ingest
    if not PassageIndex.exists(settings.index_dir):
        typer.echo(f"no index in {settings.index_dir}: building it from {settings.seeds_dir}")
        _run_ingest(settings, [settings.seeds_dir], rebuild=False, progress=True)


def _load_local(settings: Settings):
    """The pipeline ``qa serve`` would serve."""
    from qa.reader.batching import serving_reader

    _index_ready(settings)
    return _load_pipeline(settings, serving_reader(settings))


@app.command("eval")
def eval_cmd(
    gold: Annotated[Path, typer.Option(help="gold JSON lines: id, question, doc_id, answers")],
    index: IndexOpt = None,
    top_k: Annotated[Optional[int], typer.Option(help="passages to read (QA_TOP_K)")] = None,
    out: Annotated[Optional[Path], typer.Option(help="write the full results (per question too) as JSON")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="write the score's reliability diagram here (PNG)")] = None,
) -> None:
    """End to end through the API's pipeline: EM/F1, doc@1, no-answer accuracy, citations, latency, retrieval recall."""
    quiet_libraries()
    from qa.evaluation.end_to_end import evaluate_pipeline, format_report, load_gold, retrieval_recall

    if not gold.is_file():
        fail(f"no such gold file: {gold}")
    if plot:
        from importlib.util import find_spec

        if find_spec("matplotlib") is None:  # checked before the run, not after it
            fail('--plot needs matplotlib, which the train extra installs: .venv/bin/pip install -e ".[train]"')
    try:
        questions = load_gold(gold)
    except ValueError as e:
        fail(str(e))
    settings = load_settings(index_dir=index, top_k=top_k)
    pipeline = _load_pipeline(settings)
    pipeline.ask("warm-up question")  # first call pays one-off costs; keep it out of the latency
    result = {"gold": str(gold), "top_k": settings.top_k, "retrieval_mode": settings.retrieval_mode,
              "reader": str(settings.reader_dir), "end_to_end": evaluate_pipeline(pipeline, questions),
              "retrieval": retrieval_recall(pipeline, questions)}
    typer.echo(format_report(result))
    if plot:
        from qa.evaluation.end_to_end import reliability_plot

        reliability_plot(result["end_to_end"]["calibration"], plot,
                         f"{gold.name}, reader {settings.reader_dir.parent.name}/{settings.reader_dir.name}")
        typer.echo(f"written {plot}")
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
        typer.echo(f"written {out}")


def main() -> None:  # console-script entry point
    app(args=_ray_address_argument(sys.argv[1:]))
