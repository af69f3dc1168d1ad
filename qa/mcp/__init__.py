"""``qa mcp``: the service as a Model Context Protocol server (stdio, or streamable HTTP); see ``server.py``."""
