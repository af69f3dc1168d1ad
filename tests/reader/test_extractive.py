"""Span decoding and the reader's mechanics (tiny random model), see qa/reader/."""

import numpy as np
import pytest

from qa.reader.decoding import best_spans
from qa.reader.extractive import ReaderNotFound

from conftest import make_reader

# tokens: [CLS] q q [SEP] c0 c1 c2 c3 [SEP]; context token k covers chars (5k, 5k+4)
OFFSETS = [(0, 0), (0, 3), (4, 8), (0, 0), (0, 4), (5, 9), (10, 14), (15, 19), (0, 0)]
MASK = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0], dtype=bool)


def logits(**pos):
    x = np.full(9, -5.0)
    for k, v in pos.items():
        x[int(k[1:])] = v
    return x


def test_best_span_picks_highest_valid_start_end_pair():
    spans = best_spans(logits(t0=1.0, t5=4.0), logits(t0=1.0, t6=3.0), OFFSETS, MASK)
    assert (spans[0].start_char, spans[0].end_char) == (5, 14)
    assert spans[0].span_score == pytest.approx(7.0)
    assert spans[0].null_score == pytest.approx(2.0)


def test_end_before_start_is_never_chosen():
    # start 6 + end 5 would score 10 but ends before it starts; start 6 + end 7 (7.0) is the best valid pair
    spans = best_spans(logits(t6=5.0, t4=1.0), logits(t5=5.0, t7=2.0), OFFSETS, MASK)
    s = spans[0]
    assert (s.start_char, s.end_char) == (10, 19)
    assert s.span_score == 7.0


def test_question_tokens_are_never_part_of_an_answer():
    spans = best_spans(logits(t1=9.0, t4=1.0), logits(t2=9.0, t4=1.0), OFFSETS, MASK)
    assert (spans[0].start_char, spans[0].end_char) == (0, 4)


def test_max_answer_length_is_respected_and_top_n_is_ordered():
    start, end = logits(t4=5.0), logits(t7=5.0, t5=1.0)
    spans = best_spans(start, end, OFFSETS, MASK, max_answer_tokens=2, top_n=3)
    assert all(s.end_char - s.start_char <= 9 for s in spans)  # at most 2 tokens
    assert spans[0].end_char == 9
    assert [s.span_score for s in spans] == sorted((s.span_score for s in spans), reverse=True)


def test_reader_reads_batches_of_passages_and_returns_exact_substrings(tiny_reader_dir):
    reader = make_reader(tiny_reader_dir, max_length=48, stride=16, batch_size=3)
    passages = ["Short passage about Vinh city.", " ".join(f"word{i}" for i in range(120)), "Another one."]
    out = reader.read("Where was it held?", passages, top_n=2)
    assert len(out) == 3
    for p, spans in zip(passages, out):
        assert 1 <= len(spans) <= 2
        for s in spans:
            assert p[s.start : s.end] == s.text and s.text
            assert s.margin == pytest.approx(s.span_score - s.null_score)
    assert reader.no_answer_threshold == 0.0
    from qa.answering.no_answer import NoAnswerPolicy

    assert NoAnswerPolicy.margin_only(reader.no_answer_threshold).probability((0.0, 0.0, 0.0)) == 0.5


def test_reader_without_weights_says_where_they_go(tmp_path):
    with pytest.raises(ReaderNotFound, match=str(tmp_path)):
        make_reader(tmp_path).warm_up()


def test_very_long_question_still_reads(tiny_reader_dir):
    reader = make_reader(tiny_reader_dir, max_length=64, stride=32)
    out = reader.read("why " * 400, ["A short passage about the conference in Vinh city."])
    assert out[0] and out[0][0].text


def test_int8_reader_runs_quantised_linear_layers_and_gives_valid_spans(tiny_reader_dir):
    """``int8`` must really quantise: every linear layer becomes a dynamic int8 one, and its scores move
    a little from the float reader's (same weights, coarser arithmetic) while spans stay exact substrings."""
    import torch

    passages = ["The conference was held in Vinh city on April 24 by the Office of Military Region 4."]
    int8 = make_reader(tiny_reader_dir, max_length=64, stride=16, int8=True, runtime="torch")  # PyTorch's int8
    fp32 = make_reader(tiny_reader_dir, max_length=64, stride=16, dtype="float32", runtime="torch")
    q, f = int8.read("Where?", passages)[0], fp32.read("Where?", passages)[0]
    assert int8.runtime_used == "torch" and not int8.bf16
    kinds = {type(m) for m in int8._model.modules()}
    assert torch.ao.nn.quantized.dynamic.Linear in kinds and torch.nn.Linear not in kinds
    assert q and passages[0][q[0].start : q[0].end] == q[0].text
    assert q[0].null_score != f[0].null_score and abs(q[0].null_score - f[0].null_score) < 0.5


def test_reader_dtype_choice_bf16_reads_like_fp32(tiny_reader_dir):
    """bf16 autocast is a speed option: it must give valid spans with scores close to fp32's."""
    passages = ["The conference was held in Vinh city on April 24 by the Office of Military Region 4."]
    fp32 = make_reader(tiny_reader_dir, dtype="float32")
    bf16 = make_reader(tiny_reader_dir, dtype="bfloat16")
    a = fp32.read("Where was the conference held?", passages, top_n=1)[0][0]
    b = bf16.read("Where was the conference held?", passages, top_n=1)[0][0]
    assert not fp32.bf16 and bf16.bf16
    assert passages[0][b.start : b.end] == b.text
    assert abs(a.null_score - b.null_score) < 0.1
    with pytest.raises(ValueError, match="dtype"):
        make_reader(tiny_reader_dir, dtype="float8")


def test_reader_device_is_cpu_or_cuda_and_int8_stays_on_the_cpu(tiny_reader_dir):
    with pytest.raises(ValueError, match="use cpu or cuda"):
        make_reader(tiny_reader_dir, device="tpu")
    with pytest.raises(ValueError, match="CPU only"):
        make_reader(tiny_reader_dir, device="cuda", int8=True)


def test_spans_start_and_end_only_at_word_boundaries():
    """Logits that favour "ong" inside "Cuong" must not make a span start there."""
    from qa.reader.decoding import word_bounds

    text = "Ngo Nam Cuong attended"
    # tokens: [CLS] q [SEP] Ngo Nam Cu ##ong attended [SEP]
    offsets = [(0, 0), (0, 3), (0, 0), (0, 3), (4, 7), (8, 10), (10, 13), (14, 22), (0, 0)]
    mask = np.array([0, 0, 0, 1, 1, 1, 1, 1, 0], dtype=bool)
    starts, ends = word_bounds(text, offsets, mask)
    assert starts.tolist() == [False, False, False, True, True, True, False, True, False]
    assert ends.tolist() == [False, False, False, True, True, False, True, True, False]
    start = np.full(9, -5.0); end = np.full(9, -5.0)
    start[6], end[6] = 9.0, 9.0  # "ong" alone would win
    start[5] = 2.0
    spans = best_spans(start, end, offsets, mask, top_n=3, word_starts=starts, word_ends=ends)
    assert spans and all(text[s.start_char - 1 : s.start_char].strip(" ") == "" for s in spans)
    assert text[spans[0].start_char : spans[0].end_char] == "Cuong"
    loose = best_spans(start, end, offsets, mask, top_n=1)
    assert text[loose[0].start_char : loose[0].end_char] == "ong"  # what the bounds prevent


def test_the_reader_never_proposes_a_span_that_cuts_a_word(tiny_reader_dir, seed_index_dir):
    """The tiny reader's logits are random, so without word bounds many of its spans would start or end
    inside a word; with them none does."""
    from qa.evaluation.end_to_end import cut_inside_a_word
    from qa.search.store import PassageIndex

    passages = [p.text for p in PassageIndex.load(seed_index_dir).passages[:12]]
    reader = make_reader(tiny_reader_dir, max_length=96, stride=32)
    spans = [s for q in ("Who attended?", "Where was it?", "When did it start?")
             for per in reader.read(q, passages, top_n=5) for s in per]
    assert len(spans) > 100
    assert not [s.text for s in spans if cut_inside_a_word(passages[s.passage_index], s.start, s.end)]


def test_a_span_never_runs_across_a_line_break():
    """Logits that favour "MR2 The" across the paragraph break must give a span inside one line."""
    from qa.reader.decoding import line_numbers, word_bounds

    text = "led by MR2\n\nThe Standing Office"
    # tokens: [CLS] q [SEP] led by MR2 The Standing Office [SEP]
    offsets = [(0, 0), (0, 3), (0, 0), (0, 3), (4, 6), (7, 10), (12, 15), (16, 24), (25, 31), (0, 0)]
    mask = np.array([0, 0, 0, 1, 1, 1, 1, 1, 1, 0], dtype=bool)
    lines = line_numbers(text, offsets)
    assert lines[3:9].tolist() == [0, 0, 0, 2, 2, 2]
    start = np.full(10, -5.0); end = np.full(10, -5.0)
    start[5], end[8] = 9.0, 9.0  # "MR2\n\nThe Standing Office" would win
    start[6], end[5] = 4.0, 4.0
    starts, ends = word_bounds(text, offsets, mask)
    spans = best_spans(start, end, offsets, mask, top_n=5, word_starts=starts, word_ends=ends, lines=lines)
    assert spans and all("\n" not in text[s.start_char : s.end_char] for s in spans)
    assert {text[s.start_char : s.end_char] for s in spans[:2]} == {"MR2", "The Standing Office"}
    loose = best_spans(start, end, offsets, mask, top_n=1, word_starts=starts, word_ends=ends)
    assert text[loose[0].start_char : loose[0].end_char] == "MR2\n\nThe Standing Office"  # what the lines prevent


def test_the_reader_never_proposes_a_span_across_lines(tiny_reader_dir, seed_index_dir):
    """Seed passages hold paragraph breaks; the tiny reader's random logits would often span them."""
    from qa.search.store import PassageIndex

    passages = [p.text for p in PassageIndex.load(seed_index_dir).passages if "\n" in p.text][:12]
    assert len(passages) == 12
    reader = make_reader(tiny_reader_dir, max_length=96, stride=32)
    spans = [s for q in ("Who attended?", "Where was it?", "When did it start?")
             for per in reader.read(q, passages, top_n=5) for s in per]
    assert len(spans) > 100
    assert not [s.text for s in spans if "\n" in s.text]
