"""pantry.settings: values from the environment, checked; where the database and weights live."""

from __future__ import annotations

import pytest

from pantry import paths
from pantry.errors import PantryError
from pantry.settings import Settings, SettingsError

VARIABLES = ("PANTRY_HOME", "PANTRY_EMBEDDER", "PANTRY_DEVICE", "OLLAMA_HOST", "PANTRY_OLLAMA_MODEL",
             "PANTRY_OLLAMA_TIMEOUT", "PANTRY_GENERATOR", "PANTRY_MAX_PANTRY_CHARS")


@pytest.fixture
def env(monkeypatch):
    """A clean environment for the settings (none of the PantryPilot variables set)."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# --- values ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value, device", [("", "auto"), ("auto", "auto"), ("cpu", "cpu"), (" CUDA ", "cuda"),
                                           ("cuda:1", "cuda:1"), ("mps", "mps")])
def test_device_values(env, value, device):
    env.setenv("PANTRY_DEVICE", value)
    assert Settings.from_env().device == device


@pytest.mark.parametrize("value", ["gpu", "cuda:", "cuda:x", "cuda1", "tpu", "0"])
def test_unknown_device_is_refused_naming_the_variable(env, value):
    env.setenv("PANTRY_DEVICE", value)
    with pytest.raises(SettingsError, match=rf"PANTRY_DEVICE='{value}' is not a device: use one of auto, cpu, cuda"):
        Settings.from_env()


def test_settings_errors_are_pantry_errors_and_value_errors(env):
    """The CLI prints PantryError messages; older callers caught ValueError: both still work."""
    env.setenv("PANTRY_DEVICE", "gpu")
    with pytest.raises(PantryError):
        Settings.from_env()
    with pytest.raises(ValueError):
        Settings.from_env()


@pytest.mark.parametrize("value, mode", [("", "auto"), ("Offline", "offline"), ("ollama", "ollama")])
def test_generator_values(env, value, mode):
    env.setenv("PANTRY_GENERATOR", value)
    assert Settings.from_env().generator == mode


def test_unknown_generator_is_refused_naming_the_variable(env):
    env.setenv("PANTRY_GENERATOR", "olama")
    with pytest.raises(SettingsError, match="PANTRY_GENERATOR='olama' is not a generator: use one of auto, ollama, offline"):
        Settings.from_env()


@pytest.mark.parametrize("name, value, message", [
    ("PANTRY_OLLAMA_TIMEOUT", "soon", "is not a number"),
    ("PANTRY_OLLAMA_TIMEOUT", "0", "must be a positive number"),
    ("PANTRY_OLLAMA_TIMEOUT", "-5", "must be a positive number"),
    ("PANTRY_OLLAMA_TIMEOUT", "nan", "must be a positive number"),
    ("PANTRY_MAX_PANTRY_CHARS", "lots", "is not an integer"),
    ("PANTRY_MAX_PANTRY_CHARS", "0", "must be at least 1"),
    ("OLLAMA_HOST", "localhost:eleven", "is not a host"),
    ("OLLAMA_HOST", "ftp://localhost:11434", "is not a host"),
])
def test_numbers_and_hosts_that_mean_nothing_are_refused(env, name, value, message):
    env.setenv(name, value)
    with pytest.raises(SettingsError, match=f"{name}={value!r}.*{message}".replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env()


def test_defaults(env):
    s = Settings.from_env()
    assert (s.embedder, s.device, s.generator, s.ollama_host, s.ollama_timeout, s.max_pantry_chars) == (
        "all-MiniLM-L6-v2", "auto", "auto", "http://localhost:11434", 60.0, 5000)
    env.setenv("OLLAMA_HOST", "gpu-box:11434")
    assert Settings.from_env().ollama_host == "http://gpu-box:11434"


# --- where things live ----------------------------------------------------------------------

def test_default_layout_is_found_from_the_package_not_the_working_directory(env, tmp_path):
    env.chdir(tmp_path)
    s = Settings.from_env()
    assert s.db_path == paths.PROJECT_ROOT / "data" / "pantry.sqlite3"
    assert s.weights_dir == paths.PROJECT_ROOT / "weights"
    assert (paths.PROJECT_ROOT / "pantry" / "paths.py").is_file()
    assert (paths.DATA_DIR / "ingredients.json").is_file()


def test_pantry_home_moves_database_and_weights_together(env, tmp_path):
    env.setenv("PANTRY_HOME", str(tmp_path / "home"))
    s = Settings.from_env()
    assert s.db_path == tmp_path / "home" / "pantry.sqlite3"
    assert s.weights_dir == tmp_path / "home" / "weights"


def test_relative_pantry_home_is_taken_from_the_directory_when_read(env, tmp_path):
    env.chdir(tmp_path)
    env.setenv("PANTRY_HOME", "elsewhere")
    s = Settings.from_env()
    env.chdir(paths.PROJECT_ROOT)
    assert s.db_path == tmp_path.resolve() / "elsewhere" / "pantry.sqlite3"
    assert s.weights_dir == tmp_path.resolve() / "elsewhere" / "weights"


def test_pantry_home_that_is_a_file_is_refused(env, tmp_path):
    (tmp_path / "notes.txt").write_text("not a folder")
    env.setenv("PANTRY_HOME", str(tmp_path / "notes.txt"))
    with pytest.raises(SettingsError, match="PANTRY_HOME=.*is a file, not a folder"):
        Settings.from_env()


def test_settings_with_another_home(env, tmp_path):
    """Tests and callers replace `home` (a frozen dataclass field); paths follow it."""
    s = Settings(**{**Settings.from_env().__dict__, "home": tmp_path})
    assert (s.db_path, s.weights_dir) == (tmp_path / "pantry.sqlite3", tmp_path / "weights")
