"""Input limits that are part of the HTTP contract, not settings: the request schema, the CLI, the chat page
and the corpus checks all read these. Plain constants, so that code running where pydantic is not installed
(training on a lent GPU machine) can import them; ``settings.py`` re-exports them with the settings."""

MAX_QUESTION_CHARS = 1000
MAX_TOP_K = 50
MAX_ANSWERS = 20
MAX_DOC_ID_CHARS = 200
MAX_TITLE_CHARS = 1000
