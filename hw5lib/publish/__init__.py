"""The book's machinery: what a chapter publishes with (profiles, chapter, results, provenance,
plotting, i18n) and what runs chapters and builds the book (registry, runner, dependencies,
book, sphinxext, assets, cli).

Chapters import the first part; the second finds a chapter's module by its name at run time
(:mod:`.registry`), so nothing here imports ``hw5lib.chapters``. This package imports none of its
modules, so a chapter that uses :mod:`.results` does not depend on the Sphinx extension.
"""
