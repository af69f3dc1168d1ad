"""qa/training/cloze.py: template questions over names, numbers and dates, with the answer at its real offset."""

import json
import random

from typer.testing import CliRunner

from qa.cli.main import app
from qa.training.cloze import _candidates, cloze_questions, make_cloze

PARAGRAPH = ("Kurt Coleman recorded an interception in the fourth quarter. The stadium holds 68,500 fans. "
             "The game was played on February 7, 2016, at Levi's Stadium. However the rain stopped early.")


def _by_answer(context: str) -> dict[str, object]:
    return {q.answer: q for q in cloze_questions(context, random.Random(0), per_paragraph=1)}


def test_a_name_opening_a_sentence_is_asked_with_who():
    q = _by_answer("Kurt Coleman recorded an interception in the fourth quarter.")["Kurt Coleman"]
    assert q.question == "Who recorded an interception in the fourth quarter?" and q.kind == "name" and q.start == 0


def test_a_count_is_asked_with_how_many_in_place():
    q = _by_answer("Last year the stadium held 68,500 fans at most.")["68,500"]
    assert q.question == "Last year the stadium held how many fans at most?" and q.kind == "number"


def test_a_full_date_is_one_answer_not_a_number_and_a_year():
    q = _by_answer("The game was played on February 7, 2016 in the rain.")["February 7, 2016"]
    assert q.question == "The game was played on what date in the rain?" and q.kind == "date"


def test_a_capitalised_common_word_is_not_taken_for_a_name():
    # "However" opens the sentence and "The" is dropped from "The Panthers": what is left is "Panthers"
    qs = cloze_questions("However the team lost to The Panthers in the final game.", random.Random(0), per_paragraph=5)
    assert [q.answer for q in qs] == ["Panthers"]
    assert qs[0].question == "However the team lost to what in the final game?"


def test_questions_come_from_different_sentences_and_point_at_their_answers():
    qs = cloze_questions(PARAGRAPH, random.Random(3), per_paragraph=2)
    assert len(qs) == 2
    for q in qs:
        assert PARAGRAPH[q.start:q.start + len(q.answer)] == q.answer
        assert q.answer.lower() not in q.question.lower() and q.question.endswith("?")
    sentence_of = [PARAGRAPH.rfind(". ", 0, q.start) for q in qs]
    assert sentence_of[0] != sentence_of[1]


def test_make_cloze_is_squad_format_seeded_and_reads_each_paragraph_once(tiny_squad):
    made = make_cloze([tiny_squad, tiny_squad], per_paragraph=2, seed=7)
    contexts = [p["context"] for art in made["data"] for p in art["paragraphs"]]
    assert len(contexts) == len(set(contexts)) == 4  # the fixture's two articles share their four paragraphs
    qas = [(p["context"], q) for art in made["data"] for p in art["paragraphs"] for q in p["qas"]]
    assert qas and len({q["id"] for _, q in qas}) == len(qas)
    for context, q in qas:
        a = q["answers"][0]
        assert context[a["answer_start"]:a["answer_start"] + len(a["text"])] == a["text"] and not q["is_impossible"]
    assert make_cloze([tiny_squad], per_paragraph=2, seed=7) == made


def test_cli_writes_the_questions_and_refuses_a_file_that_is_not_squad(tiny_squad, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cloze.json"
    r = runner.invoke(app, ["reader", "cloze", "--data", str(tiny_squad), "--out", str(out)])
    assert r.exit_code == 0, r.output
    made = json.loads(out.read_text())
    n = sum(len(p["qas"]) for art in made["data"] for p in art["paragraphs"])
    assert n > 0 and f"{n} questions" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"rows": []}')
    r = runner.invoke(app, ["reader", "cloze", "--data", str(bad), "--out", str(tmp_path / "x.json")])
    assert r.exit_code == 2 and "not a SQuAD-format file" in r.output and not (tmp_path / "x.json").exists()


def _answers(sentence: str) -> list[str]:
    """Every answer the sentence offers, in order."""
    return [sentence[s:e] for _, s, e, _ in _candidates(sentence)]


def test_a_name_keeps_its_initials_and_its_number():
    # a fragment ("Reilly", "Jay", "Bowl" + "50") would teach the reader to cut names short
    assert "John C. Reilly" in _answers("Later John C. Reilly sang on all the tracks of the album.")
    assert "Jay Z" in _answers("She was inspired by Jay Z and by Etta James.")
    answers = _answers("The Broncos won Super Bowl 50 and the Colonel of Military Region 2 attended it.")
    assert "Super Bowl 50" in answers and "Colonel of Military Region 2" in answers and "50" not in answers
    q = next(q for q in cloze_questions("Super Bowl 50 was played in the rain at the stadium.", random.Random(0), 1)
             if q.answer == "Super Bowl 50")
    assert q.question == "What was played in the rain at the stadium?"  # a name with a number is not a person


def test_adjectives_of_peoples_possessives_and_month_years_are_not_names():
    assert _answers("She is an American actress who lives in Ohio.") == ["Ohio"]
    assert _answers("It extends Galileo's insight into the motion of bodies in 1638.") == ["1638"]
    assert _answers("The game was held in May 2016 before 70,000 fans.") == ["2016", "70,000"]
