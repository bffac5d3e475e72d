"""The Retrain page's "Activate / roll back" goes through `Lab.activate`: a version whose weights
cannot load here is refused with the reason, and what scores stays as it was."""

from __future__ import annotations

from helpers import open_app, store_at, texts


def test_roll_back_to_a_version_that_does_not_load_is_refused_and_changes_nothing(app_home):
    store = store_at(app_home)
    broken = app_home / "broken.pt"
    broken.write_bytes(b"these are not weights")
    vid = store.add_model_version("ana", str(broken), "all-MiniLM-L6-v2", {}, {}, activate=False)
    at = open_app("ana", "views/retrain.py", 180).run()
    assert not at.exception, [e.message for e in at.exception]
    at.selectbox(key="version_pick").set_value(vid).run()
    at.button(key="activate_pick").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any(f"Could not activate v{vid}" in t and "not activated" in t for t in texts(at.error)), texts(at.error)
    assert store.active_model("ana") is None, "a version that cannot score was made active"
