"""One module per notebook, with the notebook's name: ``book/q4_digits.md`` is written with
``hw5lib.chapters.q4_digits``. A chapter module holds the chapter's parameters and profiles
(``CHAPTER``), the report's numbers (``REPORTED``, each with where in the report it stands), the
sentences its findings are written in, in both languages, and its figures and tables.

This package imports none of its modules: a notebook that imports one chapter's module depends
on that module's imports alone, which is what keys the chapter's execution cache (see
:func:`hw5lib.publish.sphinxext.dependencies`)."""
