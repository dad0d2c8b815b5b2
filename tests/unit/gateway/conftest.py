"""The gateway tests' fixtures (defined in tests/gateway_support.py)."""

from tests.gateway_support import env, ollama_fake, openai_fake, served_bastion

__all__ = ["env", "ollama_fake", "openai_fake", "served_bastion"]
