from types import SimpleNamespace

import pytest

from hw5lib.publish import sphinxext


def fake_env(**attributes):
    attributes.setdefault("hw5lib_pdf_available", False)
    return SimpleNamespace(found_docs={"index", "q2_vanishing", "notes"}, **attributes)


def fake_app(tmp_path, language="fa"):
    config = SimpleNamespace(language=language)
    mystnb = SimpleNamespace(execution_cache_path=str(tmp_path / "_build" / ".jupyter_cache"))
    return SimpleNamespace(config=config, env=SimpleNamespace(mystnb_config=mystnb))


@pytest.fixture()
def app(tmp_path):
    return fake_app(tmp_path)


DEPENDENCIES = {"q2_vanishing": ["backprop.py", "__init__.py"]}


def keyed_env(**attributes):
    """An environment whose last reading of q2_vanishing found the files above, as they are now."""
    keys = {"q2_vanishing": sphinxext._stored_key(SimpleNamespace(hw5lib_dependencies=DEPENDENCIES), "q2_vanishing")}
    attributes.setdefault("hw5lib_site_fingerprint", sphinxext.site_fingerprint())
    return fake_env(hw5lib_dependencies=DEPENDENCIES, hw5lib_keys=keys, **attributes)


def test_first_build_marks_every_page_and_remembers_the_site(app):
    env = fake_env()
    outdated = sphinxext._outdated(app, env, set(), set(), set())
    assert set(outdated) == env.found_docs  # no site fingerprint yet: every page is rewritten
    assert env.hw5lib_site_fingerprint == sphinxext.site_fingerprint()


def test_nothing_changed_means_nothing_outdated(app):
    assert sphinxext._outdated(app, keyed_env(), set(), set(), set()) == []


def test_a_change_in_a_file_the_chapter_imports_reruns_it_and_the_results_table(app):
    env = keyed_env(hw5lib_results_docs={"index"})
    env.hw5lib_keys["q2_vanishing"] = "old key"
    assert sphinxext._outdated(app, env, set(), set(), set()) == ["index", "q2_vanishing"]


def test_prose_change_rewrites_the_results_table_only(app):
    env = keyed_env(hw5lib_results_docs={"index"})
    assert sphinxext._outdated(app, env, set(), {"notes"}, set()) == ["index"]


def test_fingerprint_follows_file_contents(tmp_path):
    (tmp_path / "a.py").write_text("x = 1")
    before = sphinxext._fingerprint([tmp_path / "a.py"], tmp_path)
    (tmp_path / "a.py").write_text("x = 2")
    assert sphinxext._fingerprint([tmp_path / "a.py"], tmp_path) != before


def test_identical_scripts_are_kept_once():
    from sphinx.builders.html._assets import _JavaScript

    scripts = [_JavaScript(None, body="const A = 1"), _JavaScript("x.js", priority=500),
               _JavaScript("", body="const A = 1", priority=800), _JavaScript("x.js", **{"async": "async"})]
    context = {"script_files": scripts}
    sphinxext._drop_duplicate_scripts(context)
    assert context["script_files"] == [scripts[0], scripts[1], scripts[3]]


def test_a_new_pdf_rewrites_every_page_to_link_it(app, tmp_path):
    env = keyed_env()
    assert sphinxext._outdated(app, env, set(), set(), set()) == []
    pdf = tmp_path / "_build" / "pdf" / "hw5lib-fa.pdf"
    pdf.parent.mkdir(parents=True)
    pdf.write_bytes(b"%PDF-1.4")
    assert set(sphinxext._outdated(app, env, set(), set(), set())) == env.found_docs
    assert sphinxext._outdated(app, env, set(), set(), set()) == []


def test_another_profile_reruns_notebooks_under_another_cache_key(app, monkeypatch):
    monkeypatch.delenv("HW5LIB_PROFILE", raising=False)
    env = keyed_env(hw5lib_results_docs={"index"})
    quick = env.hw5lib_keys["q2_vanishing"]
    monkeypatch.setenv("HW5LIB_PROFILE", "smoke")
    assert sphinxext._outdated(app, env, set(), set(), set()) == ["index", "q2_vanishing"]
    source = ["```{code-cell} ipython3\nfrom hw5lib import backprop\n```\n"]
    reader = SimpleNamespace(env=SimpleNamespace(doc2path=lambda name: "q2.md"), config=SimpleNamespace(language="en"))
    sphinxext._filter_source(reader, "q2", source)
    key = reader.env.hw5lib_keys["q2"]
    assert key != quick and key.endswith(" smoke")
    assert source[0].rstrip().endswith(f"profile: {key}\n```")
    assert "backprop.py" in reader.env.hw5lib_dependencies["q2"]
