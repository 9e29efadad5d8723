"""ctui's MCP server: the coordination store as tools for agents (`build_server`)."""
