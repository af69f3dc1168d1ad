"""Break one feature at a time and check that its test fails: each mutation is applied, its test run, and
the file restored. Every line must say FAILS. Run it with nothing else running: it edits the source while it works.

    .venv/bin/python scripts/check_mutations.py [NAME ...]

A mutation whose pattern no longer occurs exactly once stops the run: update it with the code it breaks.
"""
import subprocess, sys
MUT = {
 "verifier-logit-dropped": ("qa/answering/pipeline.py",
    "            out.append(Candidate(hit, s, features(question, hit.passage.text, s.start, s.end, s.margin, dense, share, v)))",
    "            out.append(Candidate(hit, s, features(question, hit.passage.text, s.start, s.end, s.margin, dense, share, 0.0)))",
    "tests/answering/test_pipeline.py::test_a_policy_that_weighs_the_verifier_reads_with_one"),
 "verifier-batch-misordered": ("qa/answering/verifier.py",
    "                out[i] = v",
    "                out[rows.index(i) + b] = v",
    "tests/answering/test_verifier.py::test_scores_come_back_in_the_order_given_whatever_the_batching"),
 "batch-results-misnumbered": ("qa/reader/extractive.py",
    "            out.append([[replace(s, passage_index=s.passage_index - first) for s in spans]",
    "            out.append([[s for s in spans]",
    "tests/reader/test_batching.py::test_read_many_gives_each_question_its_own_read"),
 "ray-ingest-skips-sentences": ("qa/search/ray_ingest.py",
    '    for kind, texts in (("passage", [p.text for p in passages]), ("sentence", sentences)):',
    '    for kind, texts in (("passage", [p.text for p in passages]),):',
    "tests/search/test_ray_ingest.py::test_ray_ingest_writes_the_index_a_plain_ingest_writes"),
 "replicas-read-one-question-only": ("qa/reader/batching.py",
    "            got = reader.read_many([(asks[i][0], asks[i][1]) for i in rows], top_n, deadline)",
    "            got = reader.read_many([(asks[rows[0]][0], asks[i][1]) for i in rows], top_n, deadline)",
    "tests/web/test_ray_serve.py::test_concurrent_questions_on_the_replicas_each_get_their_own_answer"),
 "merge-first-citation-only": ("qa/answering/pipeline.py",
    "        if all((c.doc_id, c.start, c.end) != (cite.doc_id, cite.start, cite.end) for c in ans.citations):",
    "        if not ans.citations:",
    "tests/answering/test_pipeline.py::test_one_text_found_in_several_places_is_one_answer_with_every_citation"),
 "overlapping-evidence-kept-apart": ("qa/answering/pipeline.py",
    "                     or any(_overlaps(a, b) for a in ans.citations for b in k.citations)), None)",
    "                     ), None)",
    "tests/answering/test_pipeline.py::test_answers_citing_overlapping_evidence_are_one_answer_with_the_best_text"),
 "spans-inside-words": ("qa/reader/extractive.py",
    "            starts, ends = word_bounds(passages[p], offsets[w], mask)",
    "            starts = ends = None",
    "tests/reader/test_extractive.py::test_the_reader_never_proposes_a_span_that_cuts_a_word"),
 "no-int8": ("qa/reader/extractive.py",
    "model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)",
    "pass",
    "tests/reader/test_extractive.py::test_int8_reader_runs_quantised_linear_layers_and_gives_valid_spans"),
 "fit-zero-weights": ("qa/training/calibrate.py",
    "    return NoAnswerPolicy(base.weights, base.bias, float(best_cut))",
    "    return NoAnswerPolicy(tuple(0.0 for _ in base.weights), 0.0, float(best_cut))",
    "tests/training/test_calibrate.py::test_fit_learns_what_separates_right_answers_from_wrong_ones"),
 "resume-neither": ("qa/training/train.py",
    '        model.load_state_dict(state["model"])\n        opt.load_state_dict(state["optimizer"])',
    '        pass',
    "tests/training/test_train.py::test_train_a_few_steps_checkpoint_resume_and_load"),
 "resume-no-model": ("qa/training/train.py",
    '        model.load_state_dict(state["model"])\n', '',
    "tests/training/test_train.py::test_train_a_few_steps_checkpoint_resume_and_load"),
 "resume-no-optimiser": ("qa/training/train.py",
    '        opt.load_state_dict(state["optimizer"])\n', '',
    "tests/training/test_train.py::test_train_a_few_steps_checkpoint_resume_and_load"),
 "search-ignores-settings": ("qa/web/app.py",
    "pipeline.retriever.search(q, k or pipeline.top_k, mode)",
    "pipeline.retriever.search(q, k or 5, mode)",
    "tests/web/test_app.py::test_search_defaults_come_from_the_settings"),
 "eval-threads-2": ("qa/cli/reader.py",
    "    settings = load_settings(reader_dir=model, threads=threads,",
    "    settings = load_settings(reader_dir=model, threads=threads or 2,",
    "tests/cli/test_cli.py::test_reader_eval_reads_with_qa_threads_unless_a_flag_says_otherwise"),
 "deadline-ignored": ("qa/reader/extractive.py",
    "            if deadline is not None and time.monotonic() > deadline:",
    "            if False:",
    "tests/web/test_edge.py::test_a_question_past_its_deadline_is_a_503"),
 "any-host": ("qa/web/edge.py",
    "        if host_name(request.headers.get(\"host\", \"\")) not in hosts:",
    "        if False:",
    "tests/web/test_edge.py::test_only_the_allowed_host_names_are_served"),
 "no-lock": ("qa/search/ingest.py",
    "    with IndexLock(index_dir, command, wait_seconds, on_wait):",
    "    with __import__(\"contextlib\").nullcontext():",
    "tests/search/test_lock.py::test_two_ingests_at_once_lose_nothing"),
}
names = sys.argv[1:] or list(MUT)
for name in names:
    path, old, new, test = MUT[name]
    src = open(path).read()
    assert src.count(old) == 1, (name, "pattern not found once")
    open(path, "w").write(src.replace(old, new))
    try:
        r = subprocess.run([".venv/bin/python", "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
                           capture_output=True, text=True, env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    finally:
        open(path, "w").write(src)
    print(f"{name:28} {'FAILS (good)' if r.returncode != 0 else 'PASSES (bad)'}   {r.stdout.strip().splitlines()[-1]}", flush=True)
