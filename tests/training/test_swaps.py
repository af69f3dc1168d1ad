"""qa/training/swaps.py: unanswerable questions made by swapping a name, number or date the paragraph
grounds for one of the same kind it never mentions."""

import json
import random
import re

from typer.testing import CliRunner

from qa.cli.main import app
from qa.evaluation.squad import Answer, QAExample, load_squad
from qa.training.swaps import _pool, make_swaps, swapped_question

REGION = ("Military Region 4 was founded in 1945 in Vinh city. Colonel Tran Van Minh commands Military Region 4, "
          "and its office is in Nghe An province.")
OTHER = "Military Region 2 is commanded by Major General Trinh Van Quyet. Its office moved to Phu Tho province in 1961."


def _example(question: str, answer: str, context: str = REGION) -> QAExample:
    return QAExample("q", question, context, (Answer(answer, context.index(answer)),), "art")


def _words(text: str, context: str) -> bool:
    return bool(re.search(rf"(?<!\w){re.escape(text)}(?!\w)", context, re.IGNORECASE))


def test_a_number_ending_a_name_is_changed_to_one_the_paragraph_does_not_hold():
    pool = _pool([REGION, OTHER])
    for seed in range(20):
        made = swapped_question(_example("When was Military Region 4 founded?", "1945"), pool, random.Random(seed))
        assert made is not None
        question, replaced = made
        assert replaced in ("Military Region 4",) and question != "When was Military Region 4 founded?"
        new = re.fullmatch(r"When was (.+) founded\?", question).group(1)
        assert not _words(new, REGION)  # nothing in the paragraph answers the new question


def test_a_name_is_swapped_for_one_of_the_same_shape_from_another_paragraph():
    pool = _pool([REGION, OTHER])
    question, replaced = swapped_question(_example("Who commands the office in Nghe An province?", "Colonel Tran Van Minh"),
                                          pool, random.Random(0))
    assert replaced == "Nghe An"
    # the other paragraph's two-word place, not a person's four-word name or a month
    assert question == "Who commands the office in Phu Tho province?"


def test_nothing_is_swapped_when_the_question_shares_no_name_or_number_with_the_paragraph():
    # "Hanoi" is not in the paragraph: swapping it would not take the question's ground away
    assert swapped_question(_example("Who commands the army near Hanoi?", "Colonel Tran Van Minh"),
                            _pool([REGION, OTHER]), random.Random(0)) is None


def test_the_answer_itself_is_never_the_swapped_part():
    ex = _example("Is Colonel Tran Van Minh the commander of Military Region 4?", "Colonel Tran Van Minh")
    for seed in range(10):
        question, replaced = swapped_question(ex, _pool([REGION, OTHER]), random.Random(seed))
        assert "Colonel Tran Van Minh" in question and replaced == "Military Region 4"


def test_make_swaps_is_squad_format_unanswerable_and_seeded(tiny_squad):
    made = make_swaps([tiny_squad], share=1.0, seed=7)
    qas = [(p["context"], q) for art in made["data"] for p in art["paragraphs"] for q in p["qas"]]
    assert qas and len({q["id"] for _, q in qas}) == len(qas)
    for context, q in qas:
        assert q["is_impossible"] and q["answers"] == [] and q["question"] != q["source_question"]
        a = q["plausible_answers"][0]
        assert context[a["answer_start"]:a["answer_start"] + len(a["text"])] == a["text"]
    assert make_swaps([tiny_squad], share=1.0, seed=7) == made
    assert make_swaps([tiny_squad], share=0.0, seed=7)["data"] == []


def test_the_written_file_loads_as_unanswerable_questions(tiny_squad, tmp_path):
    runner = CliRunner()
    out = tmp_path / "swaps.json"
    r = runner.invoke(app, ["reader", "swaps", "--data", str(tiny_squad), "--out", str(out), "--share", "1"])
    assert r.exit_code == 0, r.output
    loaded = load_squad(out)
    assert loaded and all(ex.is_impossible for ex in loaded) and f"{len(loaded)} unanswerable questions" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rows": []}))
    r = runner.invoke(app, ["reader", "swaps", "--data", str(bad), "--out", str(tmp_path / "x.json")])
    assert r.exit_code == 2 and "not a SQuAD-format file" in r.output and not (tmp_path / "x.json").exists()
