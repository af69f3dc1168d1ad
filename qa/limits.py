"""Input limits that are part of the HTTP contract, not settings: the request schema, the CLI, the chat page
and the corpus checks all read these. Plain constants, so that code running where pydantic is not installed
(training on a lent GPU machine) can import them; ``settings.py`` re-exports them with the settings."""

MAX_QUESTION_CHARS = 1000
MAX_TOP_K = 50
MAX_ANSWERS = 20
MAX_DOC_ID_CHARS = 200
MAX_TITLE_CHARS = 1000
MAX_URL_CHARS = 2000
MAX_SOURCE_CHARS = 300  # a source (site or feed name) or an author
MAX_DOCUMENTS_PER_REQUEST = 1000  # the schema's ceiling; QA_MAX_DOCUMENTS_PER_REQUEST may set it lower
# A question must hold at least one visible character: not only spaces, control or zero-width characters.
VISIBLE = r"[^\s\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff]"
