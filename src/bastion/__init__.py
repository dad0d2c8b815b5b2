"""Bastion: a hardened, self-hosted web UI and API gateway for large language models."""

__version__ = "0.1.0"
