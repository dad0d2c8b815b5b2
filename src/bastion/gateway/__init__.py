"""The model gateway: OpenAI-compatible and Ollama upstreams behind one access-controlled API."""
