"""Monitoring: how the data and the model's quality change over time."""

from .summaries import summarize

__all__ = ["summarize"]
