import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"torch": "pytorch-cpu", "soundfile": "pysoundfile"}


def requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_every_dependency_of_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {requirement_name(r) for r in project["dependencies"] + project["optional-dependencies"]["book"]}
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = set()
    for entry in environment["dependencies"]:
        for requirement in entry["pip"] if isinstance(entry, dict) else [entry]:
            listed.add(requirement_name(requirement))
    missing = {name for name in wanted if CONDA_NAMES.get(name, name) not in listed}
    assert not missing, f"environment.yml lacks {sorted(missing)}"


def test_toc_link_and_config_are_where_jupyter_book_looks():
    assert (ROOT / "book" / "_toc.yml").resolve() == (ROOT / "_toc.yml").resolve()
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "hw5lib.publish.sphinxext" in config["sphinx"]["extra_extensions"]
    assert "html_theme_options" not in config["sphinx"]["config"], \
        "html_theme_options would replace jupyter-book's own (launch buttons); use hw5lib_theme_options"


def test_every_chapter_is_in_the_toc_and_has_a_parameters_cell():
    from hw5lib.publish import registry as chapters

    toc = (ROOT / "_toc.yml").read_text()
    for chapter in chapters.all_chapters().values():
        assert f"file: {Path(chapter.notebook).stem}" in toc
        source = chapter.path.read_text(encoding="utf-8")
        first_cell = source.split("```{code-cell}", 1)[1]
        assert first_cell.split("\n", 2)[1].strip() == ":tags: [parameters]"
        for parameter in chapter.all_parameters:
            assert re.search(rf"^{parameter.name} = None\b", first_cell, re.M), parameter.name
        assert re.search(r"^profile = None\b", first_cell, re.M)
