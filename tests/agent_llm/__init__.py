"""LLM-mode tests that share one seeded store per module (see conftest.py)."""
