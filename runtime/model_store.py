"""Where the app's models come from, whether they are here, and how they get here.

A model setting (EMBEDDING_MODEL, RERANK_MODEL) is a local path or a hub name. A hub name is
looked up in two places, in this order: the folder `manage.py models fetch` writes,
`<cache_dir>/fetched/<org>--<name>/`, then the Hugging Face cache (what an earlier online run of
sentence-transformers left). The settings keep the hub offline; fetching is the one action that
lifts it, for its own call only.

Nothing here loads a model: `presence` only looks at files, so /health and the `models` command
can ask it at any time.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

FETCHED = "fetched"
# What makes a folder a model the loaders can read: its config and at least one weights file.
_WEIGHTS = (".safetensors", ".bin", ".onnx", ".gguf")


class ModelFetchError(RuntimeError):
    """A model could not be fetched or copied; the message says why and what to do."""


@dataclass(frozen=True)
class Presence:
    """Whether a model's files are here: `location` is the folder or file the loader will read
    (or the name it will ask the hub cache for), `reason` says why not when `present` is False."""

    present: bool
    location: str
    reason: str = ""
    size_bytes: int | None = None


@dataclass(frozen=True)
class ModelEntry:
    """One model the app uses, for the `models` command and /health."""

    role: str  # "embedder", "reranker", "local LLM"
    name: str  # the setting's value (or the default's label)
    source: str  # where it comes from, in words a user can act on
    presence: Presence
    used: bool = True  # False: configured but not used by the current settings (the local LLM)


def is_local(name: str) -> bool:
    """Whether a model setting names a path on this machine rather than a hub model."""
    return os.path.isabs(name) or name.startswith((".", "~")) or os.path.exists(name)


def fetched_folder(name: str, cache_dir: Path) -> Path:
    """The folder `models fetch` writes a hub model `name` into."""
    return Path(cache_dir) / FETCHED / name.replace("/", "--")


def hub_cached_folder(name: str) -> Path | None:
    """The snapshot folder of hub model `name` in the Hugging Face cache, when it holds one."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(name, "config.json")
    return Path(found).parent if isinstance(found, str) else None


def resolve(name: str, cache_dir: Path) -> str:
    """What a loader should open for the model setting `name`: the path itself, the fetched
    folder when it holds the model, or else the name (sentence-transformers then reads the hub
    cache)."""
    if is_local(name):
        return os.path.expanduser(name)
    folder = fetched_folder(name, cache_dir)
    return str(folder) if _model_folder_problem(folder) == "" else name


def presence(name: str, cache_dir: Path) -> Presence:
    """Whether the model `name` (a path or a hub name) is on this machine, by its files."""
    if is_local(name):
        path = Path(os.path.expanduser(name))
        if not path.exists():
            problem = f"nothing at {path}"
        else:
            problem = _model_folder_problem(path) if path.is_dir() else _model_file_problem(path)
        return Presence(problem == "", str(path), problem, size_of(path) if not problem else None)
    folder = fetched_folder(name, cache_dir)
    if _model_folder_problem(folder) == "":
        return Presence(True, str(folder), size_bytes=size_of(folder))
    cached = hub_cached_folder(name)
    if cached is not None:
        return Presence(True, str(cached), size_bytes=size_of(cached))
    return Presence(False, name, (
        f"{name} is not on this machine (not in {folder} nor in the Hugging Face cache) and the hub is "
        f"not used at run time: run `manage.py models fetch {name}` where the hub is reachable, or copy "
        f"the model's folder here with `manage.py models fetch {name} --from DIR`"))


def _model_folder_problem(folder: Path) -> str:
    if not folder.is_dir():
        return f"no model folder at {folder}"
    if not (folder / "config.json").is_file():
        return f"{folder} holds no config.json: not a model folder"
    if not any(f.suffix in _WEIGHTS for f in folder.rglob("*") if f.is_file()):
        return f"{folder} holds no weights file ({', '.join(_WEIGHTS)})"
    return ""


def _model_file_problem(path: Path) -> str:
    if path.suffix == ".gguf":
        with path.open("rb") as handle:
            if handle.read(4) != b"GGUF":
                return f"{path} is not a GGUF file (no GGUF header)"
    return ""


def size_of(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (links followed once, as the hub cache's are)."""
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def hub_fetch(name: str, cache_dir: Path, *, endpoint: str | None = None) -> Path:
    """Download hub model `name` into its fetched folder, lifting offline mode for this call only.

    Raises ModelFetchError with the hub's reason when the download fails (no network, no such
    model). The folder is written under a temporary name and renamed into place, so a failed
    download leaves nothing that looks like a model."""
    from huggingface_hub import constants, snapshot_download

    target = fetched_folder(name, cache_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    offline = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = False  # read by huggingface_hub at each call; restored below
    try:
        snapshot_download(name, local_dir=str(staging), endpoint=endpoint,
                          ignore_patterns=["*.msgpack", "*.h5", "*.ot", "onnx/*", "openvino/*", ".gitattributes"])
    except Exception as exc:
        shutil.rmtree(staging, ignore_errors=True)
        message = " ".join(str(exc).split())[:300]
        raise ModelFetchError(f"could not download {name} from the hub ({type(exc).__name__}: {message}). "
                              f"Where this machine cannot reach the hub, fetch it on one that can and copy the "
                              f"folder here with `manage.py models fetch {name} --from DIR`.") from None
    finally:
        constants.HF_HUB_OFFLINE = offline
    shutil.rmtree(staging / ".cache", ignore_errors=True)  # huggingface_hub's download bookkeeping
    return _install(staging, target)


def folder_import(source: Path, name: str, cache_dir: Path) -> Path:
    """Copy a model folder brought from another machine into hub model `name`'s fetched folder.

    `source` is the model's folder itself, or a fetched/ folder (or its parent) holding it.
    Raises ModelFetchError when no model folder is found there."""
    source = Path(source).expanduser()
    candidates = [source, source / fetched_folder(name, Path()).name, fetched_folder(name, source)]
    found = next((c for c in candidates if _model_folder_problem(c) == ""), None)
    if found is None:
        raise ModelFetchError(f"no model folder for {name} in {source}: {_model_folder_problem(source)}")
    target = fetched_folder(name, cache_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    shutil.copytree(found, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".cache"))
    return _install(staging, target)


def _install(staging: Path, target: Path) -> Path:
    """Put a complete model folder in place of any older copy."""
    if target.exists():
        old = target.with_name(f".{target.name}-old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(target)
    return target
