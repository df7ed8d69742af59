import pytest

from hw5lib.publish import assets


def test_pinned_assets_are_complete_and_referenced_by_the_css():
    from hw5lib.publish.sphinxext import HERE

    css = (HERE / "static" / "hw5lib.css").read_text()
    for weight in ("Regular", "Bold"):
        assert f"{assets.VAZIRMATN.folder}/fonts/webfonts/Vazirmatn-{weight}.woff2" in css
    root = assets.assets_dir()
    if not (root / assets.VAZIRMATN.folder).is_dir():
        pytest.skip(f"assets not fetched into {root}; run scripts/setup")
    for weight in ("Regular", "Bold"):
        assert (root / assets.VAZIRMATN.folder / "fonts" / "webfonts" / f"Vazirmatn-{weight}.woff2").is_file()
    assert (root / assets.MATHJAX.folder / "es5" / "tex-chtml.js").is_file()
    assert (root / assets.MATHJAX.folder / "es5" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


def test_corrupt_download_is_refused():
    with pytest.raises(assets.AssetError, match="does not match its pinned sha512 integrity"):
        assets._check_integrity(b"not the tarball", assets.MATHJAX)


def test_unreachable_registry_is_one_sentence(tmp_path, monkeypatch):
    asset = assets.NpmAsset("mathjax", "0.0.0-test", assets.MATHJAX.integrity, ("LICENSE",))
    monkeypatch.setattr(assets.NpmAsset, "url", property(lambda self: "http://127.0.0.1:9/x.tgz"))
    with pytest.raises(assets.AssetError, match="Could not fetch .*need the npm registry once"):
        assets.ensure(asset, root=tmp_path, log=lambda message: None)
    assert list(tmp_path.iterdir()) == []
