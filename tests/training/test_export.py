"""Shipping a trained reader and averaging readers, see qa/training/export.py."""

import numpy as np

from conftest import make_reader


def test_export_ships_fp16_weights_keeps_the_card_and_drops_the_old_policy(tiny_reader_dir, tmp_path):
    """A new export replaces the weights; a no-answer policy fitted to the old weights must not survive it."""
    import json

    from qa.training.export import export

    out = tmp_path / "shipped"
    out.mkdir()
    (out / "README.md").write_text("model card")
    (out / "qa_config.json").write_text(json.dumps({"version": "v1", "no_answer_policy": {"weights": [1.0], "bias": 0.0},
                                                    "no_answer_threshold": 3.0, "note": "kept"}))
    export(tiny_reader_dir, out, {"no_answer_threshold": 0.5})
    cfg = json.loads((out / "qa_config.json").read_text())
    assert cfg == {"note": "kept", "no_answer_threshold": 0.5}  # nor the old reader's version
    assert (out / "README.md").read_text() == "model card"
    reader = make_reader(out)
    reader.warm_up()
    assert reader.no_answer_threshold == 0.5 and reader.read("Who?", ["Ann met Bob."])[0]


def test_average_is_the_mean_of_the_weights_and_records_its_parents(tmp_path):
    """`qa reader average`: every tensor is the mean of the readers' tensors; the result loads and reads;
    readers of different shapes are refused with a message and exit code 2, and nothing is written."""
    import json

    from safetensors.torch import load_file
    from typer.testing import CliRunner

    from conftest import make_tiny_reader
    from qa.cli.main import app

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
    reader = make_reader(out)
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


def test_export_names_the_new_readers_version(tiny_reader_dir, tmp_path):
    """`qa reader export --version` writes the name /health and `qa --version` report; without it the export names
    none rather than keep the replaced reader's."""
    import json

    from typer.testing import CliRunner

    from qa.cli.main import app
    from qa.reader import config

    out = tmp_path / "shipped"
    out.mkdir()
    (out / "qa_config.json").write_text(json.dumps({"version": "v1"}))
    r = CliRunner().invoke(app, ["reader", "export", "--from", str(tiny_reader_dir), "--out", str(out), "--version", "v2"])
    assert r.exit_code == 0, r.output
    assert config.version(config.read(out)) == "v2"
    r = CliRunner().invoke(app, ["reader", "export", "--from", str(tiny_reader_dir), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert config.version(config.read(out)) is None
