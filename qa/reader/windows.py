"""Cutting (question, passage) pairs into the token windows the reader reads: one rule for training
and for serving, so the model is trained on windows shaped like the ones it reads in service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the training path runs where pydantic is not installed (a lent GPU machine)
    from qa.settings import Settings


@dataclass(frozen=True)
class Windowing:
    max_length: int  # tokens per window, question and special tokens included
    stride: int  # tokens shared by consecutive windows of a long passage
    max_question_tokens: int  # a longer question is cut to its first tokens

    @classmethod
    def from_settings(cls, settings: Settings) -> "Windowing":
        return cls(settings.reader_max_length, settings.reader_stride, settings.reader_max_question_tokens)

    @property
    def question_tokens(self) -> int:
        """A question keeps at most a quarter of the window, so that the passage keeps room."""
        return min(self.max_question_tokens, self.max_length // 4)

    @property
    def passage_stride(self) -> int:
        """The stride, kept below half the room a window leaves for the passage (the tokenizer refuses more)."""
        return max(0, min(self.stride, (self.max_length - self.question_tokens - 3) // 2))

    def clip_question(self, tokenizer, question: str) -> str:
        tokens = tokenizer.tokenize(question)
        if len(tokens) <= self.question_tokens:
            return question
        return tokenizer.convert_tokens_to_string(tokens[: self.question_tokens])

    def encode(self, tokenizer, questions: list[str], passages: list[str]):
        """Windows over the pairs, unpadded, with offsets; ``overflow_to_sample_mapping`` says whose each is."""
        return tokenizer(
            [self.clip_question(tokenizer, q) for q in questions],
            passages,
            truncation="only_second",
            max_length=self.max_length,
            stride=self.passage_stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=False,
        )
