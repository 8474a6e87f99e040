"""GAISTD-KG: a knowledge graph of how generative AI is being standardized."""

__version__ = "0.1.0"
