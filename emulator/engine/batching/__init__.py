"""Iteration-level (continuous) batching of generative sequences on one server."""
