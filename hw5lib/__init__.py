"""hw5lib: the support package of the bilingual executable book on Speech Processing Homework 5."""

__version__ = "0.1.0"
