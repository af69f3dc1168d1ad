"""Span decoding and the reader's mechanics (tiny random model), see qa/reader/."""

import numpy as np
import pytest

from qa.reader.decoding import best_spans
from qa.reader.model import ExtractiveReader, ReaderNotFound

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
    reader = ExtractiveReader(tiny_reader_dir, max_length=48, stride=16, batch_size=3)
    passages = ["Short passage about Vinh city.", " ".join(f"word{i}" for i in range(120)), "Another one."]
    out = reader.read("Where was it held?", passages, top_n=2)
    assert len(out) == 3
    for p, spans in zip(passages, out):
        assert 1 <= len(spans) <= 2
        for s in spans:
            assert p[s.start : s.end] == s.text and s.text
            assert s.margin == pytest.approx(s.span_score - s.null_score)
    assert reader.no_answer_threshold == 0.0
    from qa.no_answer import NoAnswerPolicy

    assert NoAnswerPolicy.margin_only(reader.no_answer_threshold).probability((0.0, 0.0, 0.0)) == 0.5


def test_reader_without_weights_says_where_they_go(tmp_path):
    with pytest.raises(ReaderNotFound, match=str(tmp_path)):
        ExtractiveReader(tmp_path).warm_up()


def test_very_long_question_still_reads(tiny_reader_dir):
    reader = ExtractiveReader(tiny_reader_dir, max_length=64, stride=32)
    out = reader.read("why " * 400, ["A short passage about the conference in Vinh city."])
    assert out[0] and out[0][0].text


def test_int8_reader_gives_spans_like_the_float_one(tiny_reader_dir):
    passages = ["The conference was held in Vinh city on April 24."]
    q = ExtractiveReader(tiny_reader_dir, max_length=64, stride=16, int8=True).read("Where?", passages)
    assert q[0] and passages[0][q[0][0].start : q[0][0].end] == q[0][0].text


def test_reader_dtype_choice_bf16_reads_like_fp32(tiny_reader_dir):
    """bf16 autocast is a speed option: it must give valid spans with scores close to fp32's."""
    passages = ["The conference was held in Vinh city on April 24 by the Office of Military Region 4."]
    fp32 = ExtractiveReader(tiny_reader_dir, dtype="float32")
    bf16 = ExtractiveReader(tiny_reader_dir, dtype="bfloat16")
    a = fp32.read("Where was the conference held?", passages, top_n=1)[0][0]
    b = bf16.read("Where was the conference held?", passages, top_n=1)[0][0]
    assert not fp32.bf16 and bf16.bf16
    assert passages[0][b.start : b.end] == b.text
    assert abs(a.null_score - b.null_score) < 0.1
    with pytest.raises(ValueError, match="dtype"):
        ExtractiveReader(tiny_reader_dir, dtype="float8")


def test_reader_device_is_cpu_or_cuda_and_int8_stays_on_the_cpu(tiny_reader_dir):
    with pytest.raises(ValueError, match="use cpu or cuda"):
        ExtractiveReader(tiny_reader_dir, device="tpu")
    with pytest.raises(ValueError, match="CPU only"):
        ExtractiveReader(tiny_reader_dir, device="cuda", int8=True)


def test_export_ships_fp16_weights_keeps_the_card_and_drops_the_old_policy(tiny_reader_dir, tmp_path):
    """A new export replaces the weights; a no-answer policy fitted to the old weights must not survive it."""
    import json

    from qa.reader.export import export

    out = tmp_path / "shipped"
    out.mkdir()
    (out / "README.md").write_text("model card")
    (out / "qa_config.json").write_text(json.dumps({"no_answer_policy": {"weights": [1.0], "bias": 0.0},
                                                    "no_answer_threshold": 3.0, "note": "kept"}))
    export(tiny_reader_dir, out, {"no_answer_threshold": 0.5})
    cfg = json.loads((out / "qa_config.json").read_text())
    assert cfg == {"note": "kept", "no_answer_threshold": 0.5}
    assert (out / "README.md").read_text() == "model card"
    reader = ExtractiveReader(out)
    reader.warm_up()
    assert reader.no_answer_threshold == 0.5 and reader.read("Who?", ["Ann met Bob."])[0]


def test_average_is_the_mean_of_the_weights_and_records_its_parents(tmp_path):
    """`qa reader average`: every tensor is the mean of the readers' tensors; the result loads and reads;
    readers of different shapes are refused with a message and exit code 2, and nothing is written."""
    import json

    from safetensors.torch import load_file
    from typer.testing import CliRunner

    from conftest import make_tiny_reader
    from qa.cli import app

    a, b = make_tiny_reader(tmp_path / "a", seed=1), make_tiny_reader(tmp_path / "b", seed=2)
    (a / "training_config.json").write_text(json.dumps({"seed": 1}))
    out = tmp_path / "soup"
    r = CliRunner().invoke(app, ["reader", "average", "--from", str(a), "--from", str(b), "--out", str(out)])
    assert r.exit_code == 0, r.output
    ta, tb, tm = (load_file(f / "model.safetensors") for f in (a, b, out))
    assert tm.keys() == ta.keys()
    for k in ta:
        assert tm[k].dtype == ta[k].dtype and np.allclose(tm[k].numpy(), (ta[k].numpy() + tb[k].numpy()) / 2, atol=1e-6)
    assert json.loads((out / "training_config.json").read_text()) == {
        "averaged_from": [str(a), str(b)], "parents": [{"seed": 1}, {}]}
    reader = ExtractiveReader(out)
    reader.warm_up()
    assert reader.read("Who?", ["Ann met Bob."])[0]

    from transformers import BertConfig, BertForQuestionAnswering

    other = tmp_path / "other"
    BertForQuestionAnswering(BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                        intermediate_size=32)).save_pretrained(other)
    r = CliRunner().invoke(app, ["reader", "average", "--from", str(a), "--from", str(other), "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "is not the same network" in r.output and not (tmp_path / "x").exists()
    r = CliRunner().invoke(app, ["reader", "average", "--from", str(a), "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "two or more" in r.output
