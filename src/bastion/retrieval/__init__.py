"""Retrieval: turning what users point at (web pages) into text for the models."""
