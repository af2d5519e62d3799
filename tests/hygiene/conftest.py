from tests.api.conftest import agent_for, writer

__all__ = ["agent_for", "writer"]
