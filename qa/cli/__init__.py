"""The ``qa`` command: ``main.py`` holds the service's commands (ingest, serve, ask, eval), ``reader.py``
the reader's (train, eval, calibrate, export, average, cloze), ``common.py`` what both share."""
