"""Running chapters and building the book: the chapter registry, papermill runs, the Sphinx extension, the PDFs, the CLI."""
