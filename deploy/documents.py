"""Reading the deployment files: YAML documents, typed access, and a small kustomize build.

`kubectl` is not available where `make lint` runs, so `build_kustomization` does in Python what
`kubectl kustomize` does for the fields our kustomization uses (`resources`, `namespace`,
`images`) and refuses any other field, so the two builds cannot silently differ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

Document = dict[str, Any]
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it
KUSTOMIZE_FIELDS = frozenset({"apiVersion", "kind", "namespace", "resources", "images"})
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
    }
)


class DeployFileError(Exception):
    """A deployment file that cannot be read as what it should be."""


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def dig(value: object, *path: str) -> Any:
    """`value[path[0]][path[1]]...`, or None where a step is missing."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def load_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (safe)
    except (OSError, yaml.YAMLError) as exc:
        raise DeployFileError(f"{path.name}: {exc}") from exc


def load_documents(path: Path) -> list[Document]:
    """Every non-empty document of a YAML file, each of which must be a mapping."""
    try:
        loaded = list(yaml.load_all(path.read_text(encoding="utf-8"), Loader=_Loader))
    except (OSError, yaml.YAMLError) as exc:
        raise DeployFileError(f"{path.name}: {exc}") from exc
    documents = [doc for doc in loaded if doc is not None]
    for doc in documents:
        if not isinstance(doc, dict):
            raise DeployFileError(f"{path.name}: a document is not a mapping")
    return documents


def build_kustomization(directory: Path) -> list[Document]:
    """The manifests `kubectl kustomize directory` would print (for the fields we use)."""
    kustomization = as_dict(load_yaml(directory / "kustomization.yaml"))
    unknown = sorted(set(kustomization) - KUSTOMIZE_FIELDS)
    if unknown:
        raise DeployFileError(
            f"kustomization.yaml: {', '.join(unknown)} not understood by deploy/documents.py"
        )
    documents: list[Document] = []
    for entry in as_list(kustomization.get("resources")):
        target = (directory / str(entry)).resolve()
        if target.is_dir():
            documents.extend(build_kustomization(target))
        elif directory.resolve() in target.parents and target.is_file():
            documents.extend(load_documents(target))
        else:
            raise DeployFileError(f"kustomization.yaml: resource {entry} is not a file here")
    namespace = kustomization.get("namespace")
    for doc in documents:
        if isinstance(namespace, str) and doc.get("kind") not in CLUSTER_SCOPED_KINDS:
            doc.setdefault("metadata", {})["namespace"] = namespace
        for image in as_list(kustomization.get("images")):
            _retag(doc, as_dict(image))
    return documents


def pod_spec(doc: Document) -> dict[str, Any]:
    """The pod template's spec of a Deployment, StatefulSet, DaemonSet or Job ({} otherwise)."""
    return as_dict(dig(doc, "spec", "template", "spec"))


def containers(doc: Document, *, init: bool = False) -> list[dict[str, Any]]:
    key = "initContainers" if init else "containers"
    return [as_dict(container) for container in as_list(pod_spec(doc).get(key))]


def split_image(reference: str) -> tuple[str, str]:
    """`registry:5000/name:tag@sha256:...` -> (`registry:5000/name`, `tag`); tag "" if none."""
    without_digest = reference.split("@", 1)[0]
    colon = without_digest.rfind(":")
    if colon > without_digest.rfind("/"):
        return without_digest[:colon], without_digest[colon + 1 :]
    return without_digest, ""


def _retag(doc: Document, image: dict[str, Any]) -> None:
    name = image.get("name")
    for container in containers(doc) + containers(doc, init=True):
        repository, tag = split_image(str(container.get("image", "")))
        if repository != name:
            continue
        new_repository = str(image.get("newName", repository))
        new_tag = str(image.get("newTag", tag))
        container["image"] = f"{new_repository}:{new_tag}" if new_tag else new_repository
