"""pcso-tui: a terminal workspace for proactive customer service operations."""

__version__ = "0.1.0"
