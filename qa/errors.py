"""The one base of the problems a user can act on: the CLI prints their message and exits 2, the web
app answers them as JSON. Each stage raises its own subclass; the message says what to do."""


class UserProblem(Exception):
    """A problem with what was configured or provided (a missing index, missing reader weights)."""


class TimeUp(Exception):
    """A question's deadline passed before it was answered; the work stopped there."""
